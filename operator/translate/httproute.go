package translate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// routeState is an HTTPRoute after validation, independent of its parents.
type routeState struct {
	route *gatewayv1.HTTPRoute
	key   types.NamespacedName
	// hostnames are the validated spec.hostnames ("" never appears).
	hostnames []string
	// err, when set, makes the route not Accepted on any parent: nothing of
	// it is served (a route is taken whole or not at all).
	err *routeError
	// refErr is the first backend reference that did not resolve
	// (ResolvedRefs False); the route is still served.
	refErr *refError
	rules  []ruleState
}

// ruleState is one validated rule.
type ruleState struct {
	index    int
	name     string
	matches  []matchState
	filters  ruleFilters
	mirrors  []mirrorState
	backends []backendState
	timeouts model.Timeouts
}

// mirrorState is a mirror whose backend resolved.
type mirrorState struct {
	key                    upstreamKey
	numerator, denominator int32
}

// compileRoute validates everything in a route that does not depend on
// the parent it attaches to.
func (b *translator) compileRoute(r *gatewayv1.HTTPRoute) *routeState {
	rs := &routeState{route: r, key: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}}
	seen := map[string]bool{}
	for i, h := range r.Spec.Hostnames {
		if err := checkHostname(fmt.Sprintf("spec.hostnames[%d]", i), string(h), true); err != nil {
			rs.err = unsupported(err)
			return rs
		}
		if !seen[string(h)] {
			seen[string(h)] = true
			rs.hostnames = append(rs.hostnames, string(h))
		}
	}
	sort.Strings(rs.hostnames)
	if len(r.Spec.Rules) == 0 {
		// The CRD defaults rules to one rule matching "/" without
		// backends; objects read from files may lack the default.
		r = r.DeepCopy()
		r.Spec.Rules = []gatewayv1.HTTPRouteRule{{}}
		rs.route = r
	}
	for i := range r.Spec.Rules {
		rule, err := b.compileRule(rs, i)
		if err != nil {
			rs.err = err
			return rs
		}
		rs.rules = append(rs.rules, rule)
	}
	return rs
}

func (b *translator) compileRule(route *routeState, i int) (ruleState, *routeError) {
	r := route.route
	rule := &r.Spec.Rules[i]
	field := fmt.Sprintf("spec.rules[%d]", i)
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
	backends, refErr, rerr := b.compileBackends(r.Namespace, rule.BackendRefs, field)
	if rerr != nil {
		return rs, rerr
	}
	rs.backends = backends
	route.noteRefError(refErr)
	for _, m := range rs.filters.mirrors {
		key, refErr := b.resolveBackendRef(r.Namespace, m.ref, m.field)
		if refErr != nil {
			// A mirror that does not resolve is left out: the request
			// itself is still served.
			route.noteRefError(refErr)
			continue
		}
		rs.mirrors = append(rs.mirrors, mirrorState{key: key, numerator: m.numerator, denominator: m.denominator})
	}
	return rs, nil
}

// noteRefError keeps the first unresolved reference for ResolvedRefs.
func (rs *routeState) noteRefError(e *refError) {
	if e != nil && rs.refErr == nil {
		rs.refErr = e
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

// attachment is a route attached to one listener, with the hostnames it
// serves there ("" meaning every hostname).
type attachment struct {
	route     *routeState
	listener  *listenerState
	hostnames []string
}

// attachRoute resolves one parentRef of a route that names a Gateway of
// ours and returns its status entry.
func (b *translator) attachRoute(rs *routeState, ref gatewayv1.ParentReference, gs *gatewayState) gatewayv1.RouteParentStatus {
	gen := rs.route.Generation
	ok, reason, msg := b.attach(rs, ref, gs)
	resolved := condition(string(gatewayv1.RouteConditionResolvedRefs), true, string(gatewayv1.RouteReasonResolvedRefs), "all references are resolved", gen)
	if rs.refErr != nil {
		resolved = condition(string(gatewayv1.RouteConditionResolvedRefs), false, string(rs.refErr.reason), rs.refErr.message, gen)
	}
	return gatewayv1.RouteParentStatus{
		ParentRef:      ref,
		ControllerName: ControllerName,
		// Sorted by type: Accepted, ResolvedRefs.
		Conditions: []metav1.Condition{
			condition(string(gatewayv1.RouteConditionAccepted), ok, string(reason), msg, gen),
			resolved,
		},
	}
}

// attach finds the listeners a parentRef selects and attaches the route to
// them; it returns the Accepted condition.
func (b *translator) attach(rs *routeState, ref gatewayv1.ParentReference, gs *gatewayState) (bool, gatewayv1.RouteConditionReason, string) {
	if !gs.accepted {
		return false, gatewayv1.RouteReasonNoMatchingParent, fmt.Sprintf("Gateway %s is not accepted", gs.key)
	}
	var candidates []*listenerState
	for _, l := range gs.listeners {
		if ref.SectionName != nil && string(*ref.SectionName) != l.name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.port {
			continue
		}
		candidates = append(candidates, l)
	}
	if len(candidates) == 0 {
		return false, gatewayv1.RouteReasonNoMatchingParent, "no listener matches the parentRef's sectionName and port"
	}
	var allowed []*listenerState
	for _, l := range candidates {
		if l.accepted && l.allowsHTTPRoute && l.allowsNamespace(b.ix, gs.key.Namespace, rs.key.Namespace) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return false, gatewayv1.RouteReasonNotAllowedByListeners, "no listener of the parentRef allows this route (kind, namespace or listener state)"
	}
	var found []attachment
	for _, l := range allowed {
		if hs := intersectHostnames(l.hostname, rs.hostnames); len(hs) > 0 {
			found = append(found, attachment{route: rs, listener: l, hostnames: hs})
		}
	}
	if len(found) == 0 {
		return false, gatewayv1.RouteReasonNoMatchingListenerHostname, "no listener hostname intersects the route's hostnames"
	}
	if rs.err != nil {
		return false, rs.err.reason, rs.err.message
	}
	for _, a := range found {
		a.listener.attached[rs.key] = true
		gs.attachments = append(gs.attachments, a)
	}
	return true, gatewayv1.RouteReasonAccepted, "route is accepted"
}

// intersectHostnames returns the hostnames a route serves on a listener,
// sorted; "" means every hostname.
func intersectHostnames(listener string, route []string) []string {
	if len(route) == 0 {
		return []string{listener}
	}
	if listener == "" {
		return route
	}
	var out []string
	seen := map[string]bool{}
	for _, h := range route {
		if i := intersectHostname(listener, h); i != "" && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	sort.Strings(out)
	return out
}

// intersectHostname returns the more specific of two hostnames when one
// covers the other ("*.example.com" covers "a.example.com" and
// "a.b.example.com", not "example.com"), else "".
func intersectHostname(a, b string) string {
	switch {
	case a == b:
		return a
	case hostnameCovers(a, b):
		return b
	case hostnameCovers(b, a):
		return a
	}
	return ""
}

// hostnameCovers reports whether every host matching pattern b also
// matches pattern a ("" covers everything).
func hostnameCovers(a, b string) bool {
	if a == "" || a == b {
		return true
	}
	if !strings.HasPrefix(a, "*.") {
		return false
	}
	suffix := a[1:] // ".example.com"
	if strings.HasPrefix(b, "*.") {
		return strings.HasSuffix(b[1:], suffix) && len(b)-1 > len(suffix)
	}
	return strings.HasSuffix(b, suffix) && len(b) > len(suffix)
}

// routeParentStatuses sorts a route's entries by parentRef.
func sortParentStatuses(s []gatewayv1.RouteParentStatus) {
	key := func(p gatewayv1.ParentReference) string {
		var b strings.Builder
		if p.Namespace != nil {
			b.WriteString(string(*p.Namespace))
		}
		b.WriteString("/" + string(p.Name) + "/")
		if p.SectionName != nil {
			b.WriteString(string(*p.SectionName))
		}
		if p.Port != nil {
			fmt.Fprintf(&b, "/%d", *p.Port)
		}
		return b.String()
	}
	sort.SliceStable(s, func(i, j int) bool { return key(s[i].ParentRef) < key(s[j].ParentRef) })
}
