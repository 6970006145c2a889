package translate

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// httpRoutes is the processor of HTTPRoutes: it validates each route
// apart from its parents (compileHTTPRoute) and adds the routes attached to
// a Gateway's listeners to its model as HTTP servers and locations
// (contribute, in httpservers.go).
type httpRoutes struct{}

func (httpRoutes) kind() gatewayv1.Kind { return kindHTTPRoute }

func (httpRoutes) protocols() []gatewayv1.ProtocolType {
	return []gatewayv1.ProtocolType{gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType}
}

func (httpRoutes) routes(t *translator, in *Input) []routeObject {
	return routeObjectsOf(kindHTTPRoute, in.HTTPRoutes, func(r *gatewayv1.HTTPRoute) []gatewayv1.ParentReference { return r.Spec.ParentRefs }, t.compileHTTPRoute)
}

// httpRoute is the kind-specific part of an HTTPRoute's routeState.
type httpRoute struct {
	route *gatewayv1.HTTPRoute
	rules []ruleState
}

// httpRouteOf returns the HTTPRoute part of a route of kind HTTPRoute.
func httpRouteOf(rs *routeState) *httpRoute { return rs.spec.(*httpRoute) }

// ruleState is one validated rule.
type ruleState struct {
	index    int
	name     string
	matches  []matchState
	filters  ruleFilters
	mirrors  []mirrorState
	backends []backendState
	timeouts model.Timeouts
	retry    *model.Retry
}

// mirrorState is a mirror whose backend resolved.
type mirrorState struct {
	key                    upstreamKey
	numerator, denominator int32
}

// compileHTTPRoute validates everything in a route that does not depend
// on the parent it attaches to.
func (b *translator) compileHTTPRoute(r *gatewayv1.HTTPRoute) *routeState {
	hr := &httpRoute{route: r}
	rs := &routeState{
		key:        RouteKey{Kind: kindHTTPRoute, NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}},
		generation: r.Generation,
		created:    r.CreationTimestamp,
		spec:       hr,
	}
	if rs.err = rs.compileHostnames(r.Spec.Hostnames); rs.err != nil {
		return rs
	}
	if len(r.Spec.Rules) == 0 {
		// The CRD defaults rules to one rule matching "/" without
		// backends; objects read from files may lack the default.
		r = r.DeepCopy()
		r.Spec.Rules = []gatewayv1.HTTPRouteRule{{}}
		hr.route = r
	}
	for i := range r.Spec.Rules {
		rule, err := b.compileRule(rs, hr.route, i)
		if err != nil {
			rs.err = err
			return rs
		}
		hr.rules = append(hr.rules, rule)
	}
	return rs
}

func (b *translator) compileRule(route *routeState, r *gatewayv1.HTTPRoute, i int) (ruleState, *routeError) {
	rule := &r.Spec.Rules[i]
	field := "spec.rules[" + strconv.Itoa(i) + "]"
	rs := ruleState{index: i}
	if rule.Name != nil {
		if err := checkSectionName(field+".name", string(*rule.Name)); err != nil {
			return rs, unsupported(err)
		}
		rs.name = string(*rule.Name)
	}
	var err error
	if rs.matches, err = compileMatches(rule, field); err != nil {
		return rs, unsupported(err)
	}
	var rerr *routeError
	if rs.filters, rerr = compileFilters(rule.Filters, field); rerr != nil {
		return rs, rerr
	}
	if rs.filters.needsPrefix() {
		for _, m := range rs.matches {
			if m.kind != pathPrefix {
				return rs, unsupported(fmt.Errorf("%s.matches[%d].path: ReplacePrefixMatch needs a PathPrefix match", field, m.index))
			}
		}
	}
	if rs.timeouts, err = compileTimeouts(rule.Timeouts, field+".timeouts"); err != nil {
		return rs, unsupported(err)
	}
	if rs.retry, err = compileRetry(rule.Retry, rs.timeouts, field+".retry"); err != nil {
		return rs, unsupported(err)
	}
	backends, refErr, rerr := b.compileBackends(route.key, rule.BackendRefs, field)
	if rerr != nil {
		return rs, rerr
	}
	rs.backends = backends
	route.noteRefError(refErr)
	b.resolveMirrors(route, &rs)
	return rs, nil
}

// resolveMirrors resolves the backends of a rule's RequestMirror filters.
func (b *translator) resolveMirrors(route *routeState, rs *ruleState) {
	for _, m := range rs.filters.mirrors {
		key, refErr := b.resolveBackendRef(route.key, m.ref, m.field)
		if refErr != nil {
			// A mirror that does not resolve is left out: the request
			// itself is still served.
			route.noteRefError(refErr)
			continue
		}
		if b.tlsRefused(key) {
			continue // a BackendTLSPolicy that cannot be honoured: nothing is sent
		}
		rs.mirrors = append(rs.mirrors, mirrorState{key: key, numerator: m.numerator, denominator: m.denominator})
	}
}

var durationPattern = regexp.MustCompile(`^([0-9]{1,5}(h|m|s|ms)){1,4}$`)

// compileTimeouts parses Gateway API durations; "0s" (no timeout) maps
// to 0, which leaves nginx's default in place.
func compileTimeouts(t *gatewayv1.HTTPRouteTimeouts, field string) (model.Timeouts, error) {
	var out model.Timeouts
	if t == nil {
		return out, nil
	}
	parse := func(d *gatewayv1.Duration, f string) (int64, error) {
		if d == nil {
			return 0, nil
		}
		if !durationPattern.MatchString(string(*d)) {
			return 0, fmt.Errorf("%s: %q is not a Gateway API duration", f, *d)
		}
		v, err := time.ParseDuration(string(*d))
		if err != nil {
			return 0, fmt.Errorf("%s: %v", f, err)
		}
		return v.Milliseconds(), nil
	}
	var err error
	if out.RequestMillis, err = parse(t.Request, field+".request"); err != nil {
		return out, err
	}
	if out.BackendRequestMillis, err = parse(t.BackendRequest, field+".backendRequest"); err != nil {
		return out, err
	}
	if out.RequestMillis > 0 && out.BackendRequestMillis > out.RequestMillis {
		return out, fmt.Errorf("%s.backendRequest: %s is longer than request %s", field, *t.BackendRequest, *t.Request)
	}
	return out, nil
}

// compileBackends validates a rule's backendRefs. Invalid references stay
// in the list, marked invalid, so that their share of traffic answers 500;
// the first failure is returned for the route's ResolvedRefs condition.
func (b *translator) compileBackends(route RouteKey, refs []gatewayv1.HTTPBackendRef, field string) ([]backendState, *refError, *routeError) {
	var out []backendState
	var firstRefErr *refError
	for i := range refs {
		r := &refs[i]
		bf := field + ".backendRefs[" + strconv.Itoa(i) + "]"
		weight := int32(1)
		if r.Weight != nil {
			weight = *r.Weight
		}
		if weight < 0 || weight > 1000000 {
			return nil, nil, unsupported(fmt.Errorf("%s.weight: %d is not within 0..1000000", bf, weight))
		}
		req, resp, rerr := compileBackendFilters(r.Filters, bf)
		if rerr != nil {
			return nil, nil, rerr
		}
		key, refErr := b.resolveBackendRef(route, r.BackendObjectReference, bf)
		if refErr != nil && firstRefErr == nil {
			firstRefErr = refErr
		}
		if weight == 0 {
			// Weight 0 gets no traffic; it is still checked for status.
			continue
		}
		out = append(out, backendState{
			weight:          weight,
			key:             key,
			invalid:         refErr != nil || b.tlsRefused(key),
			requestHeaders:  req,
			responseHeaders: resp,
		})
	}
	return out, firstRefErr, nil
}
