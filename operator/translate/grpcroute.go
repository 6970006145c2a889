package translate

import (
	"fmt"
	"regexp"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

const kindGRPCRoute = "GRPCRoute"

// grpcRoutes is the processor of GRPCRoutes. A gRPC method is the HTTP/2
// path /service/method, so a GRPCRoute compiles to the same rules and
// matches as an HTTPRoute (path, header conditions) and is served by the
// same HTTP servers and locations (httpservers.go adds both kinds), with
// its model rules marked GRPC; its precedence is its own (grpcEntryLess).
type grpcRoutes struct{}

func (grpcRoutes) kind() gatewayv1.Kind { return kindGRPCRoute }

func (grpcRoutes) protocols() []gatewayv1.ProtocolType {
	return []gatewayv1.ProtocolType{gatewayv1.HTTPProtocolType, gatewayv1.HTTPSProtocolType}
}

func (grpcRoutes) routes(t *translator, in *Input) []routeObject {
	return routeObjectsOf(kindGRPCRoute, in.GRPCRoutes, func(r *gatewayv1.GRPCRoute) []gatewayv1.ParentReference { return r.Spec.ParentRefs }, t.compileGRPCRoute)
}

// contribute adds nothing of its own: GRPCRoutes share the HTTP servers of
// their listeners with HTTPRoutes, and httpRoutes.contribute builds those
// servers from the attachments of both kinds.
func (grpcRoutes) contribute(*translator, *gatewayState, *model.Gateway, certificateNames) {}

// grpcRoute is the kind-specific part of a GRPCRoute's routeState.
type grpcRoute struct {
	route *gatewayv1.GRPCRoute
	rules []ruleState
}

// compileGRPCRoute validates everything in a GRPCRoute that does not
// depend on the parent it attaches to.
func (b *translator) compileGRPCRoute(r *gatewayv1.GRPCRoute) *routeState {
	gr := &grpcRoute{route: r}
	rs := &routeState{
		key:        RouteKey{Kind: kindGRPCRoute, NamespacedName: types.NamespacedName{Namespace: r.Namespace, Name: r.Name}},
		generation: r.Generation,
		created:    r.CreationTimestamp,
		spec:       gr,
	}
	if rs.err = rs.compileHostnames(r.Spec.Hostnames); rs.err != nil {
		return rs
	}
	rules := r.Spec.Rules
	if len(rules) == 0 {
		// A GRPCRoute without rules matches every request, without backends.
		rules = []gatewayv1.GRPCRouteRule{{}}
	}
	for i := range rules {
		rule, err := b.compileGRPCRule(rs, &rules[i], i)
		if err != nil {
			rs.err = err
			return rs
		}
		gr.rules = append(gr.rules, rule)
	}
	return rs
}

func (b *translator) compileGRPCRule(route *routeState, rule *gatewayv1.GRPCRouteRule, i int) (ruleState, *routeError) {
	field := fmt.Sprintf("spec.rules[%d]", i)
	rs := ruleState{index: i}
	if rule.Name != nil {
		if err := checkSectionName(field+".name", string(*rule.Name)); err != nil {
			return rs, unsupported(err)
		}
		rs.name = string(*rule.Name)
	}
	if len(rule.Matches) == 0 {
		rs.matches = []matchState{{kind: pathPrefix, path: "/"}}
	}
	for mi := range rule.Matches {
		m, err := compileGRPCMatch(&rule.Matches[mi], fmt.Sprintf("%s.matches[%d]", field, mi))
		if err != nil {
			return rs, unsupported(err)
		}
		m.index = mi
		rs.matches = append(rs.matches, m)
	}
	var rerr *routeError
	if rs.filters, rerr = compileFilters(httpFilters(rule.Filters), field); rerr != nil {
		return rs, rerr
	}
	refs := make([]gatewayv1.HTTPBackendRef, len(rule.BackendRefs))
	for bi, br := range rule.BackendRefs {
		refs[bi] = gatewayv1.HTTPBackendRef{BackendRef: br.BackendRef, Filters: httpFilters(br.Filters)}
	}
	backends, refErr, rerr := b.compileBackends(route.key, refs, field)
	if rerr != nil {
		return rs, rerr
	}
	rs.backends = backends
	route.noteRefError(refErr)
	b.resolveMirrors(route, &rs)
	return rs, nil
}

// httpFilters restates GRPCRoute filters as the HTTPRoute filters of the
// same type and field names (RequestHeaderModifier, ResponseHeaderModifier,
// RequestMirror, ExtensionRef), so one validation serves both kinds.
func httpFilters(fs []gatewayv1.GRPCRouteFilter) []gatewayv1.HTTPRouteFilter {
	out := make([]gatewayv1.HTTPRouteFilter, len(fs))
	for i, f := range fs {
		out[i] = gatewayv1.HTTPRouteFilter{
			Type:                   gatewayv1.HTTPRouteFilterType(f.Type),
			RequestHeaderModifier:  f.RequestHeaderModifier,
			ResponseHeaderModifier: f.ResponseHeaderModifier,
			RequestMirror:          f.RequestMirror,
			ExtensionRef:           f.ExtensionRef,
		}
	}
	return out
}

// The CRD's syntax of exact service and method names (objects read from
// files have not been through it).
var (
	grpcServiceName = regexp.MustCompile(`^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$`)
	grpcMethodName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z_0-9]*$`)
)

// compileGRPCMatch turns a GRPCRouteMatch into a path match on
// /service/method plus header conditions:
//   - Exact service and method: the exact path /service/method;
//   - Exact service only: the element-wise prefix /service;
//   - Exact method only, or RegularExpression: a path regular expression
//     /(service)/(method), "[^/]+" standing for the one not given.
//
// Its precedence ranks (serviceLen, methodLen) are the lengths of the
// values as written, the spec's "characters in a matching service/method".
func compileGRPCMatch(m *gatewayv1.GRPCRouteMatch, field string) (matchState, error) {
	ms := matchState{kind: pathPrefix, path: "/", pathField: field + ".method"}
	if mm := m.Method; mm != nil {
		mf := field + ".method"
		svc, method := "", ""
		if mm.Service != nil {
			svc = *mm.Service
		}
		if mm.Method != nil {
			method = *mm.Method
		}
		if svc == "" && method == "" {
			return ms, fmt.Errorf("%s: one or both of service and method must be given", mf)
		}
		ms.serviceLen, ms.methodLen = len(svc), len(method)
		typ := gatewayv1.GRPCMethodMatchExact
		if mm.Type != nil {
			typ = *mm.Type
		}
		switch typ {
		case gatewayv1.GRPCMethodMatchExact:
			if svc != "" && !grpcServiceName.MatchString(svc) {
				return ms, fmt.Errorf("%s.service: %q is not a gRPC service name", mf, svc)
			}
			if method != "" && !grpcMethodName.MatchString(method) {
				return ms, fmt.Errorf("%s.method: %q is not a gRPC method name", mf, method)
			}
			switch {
			case svc != "" && method != "":
				ms.kind, ms.path = pathExact, "/"+svc+"/"+method
			case svc != "":
				ms.kind, ms.path = pathPrefix, "/"+svc
			default:
				ms.kind, ms.path = pathRegex, `/[^/]+/`+regexp.QuoteMeta(method)
			}
		case gatewayv1.GRPCMethodMatchRegularExpression:
			svcRE, methodRE := `[^/]+`, `[^/]+`
			if svc != "" {
				if err := checkRegex(mf+".service", svc); err != nil {
					return ms, err
				}
				svcRE = svc
			}
			if method != "" {
				if err := checkRegex(mf+".method", method); err != nil {
					return ms, err
				}
				methodRE = method
			}
			ms.kind, ms.path = pathRegex, "/(?:"+svcRE+")/(?:"+methodRE+")"
			if err := checkRegex(mf, ms.path); err != nil {
				return ms, err
			}
		default:
			return ms, fmt.Errorf("%s.type: %q is not supported", mf, typ)
		}
	}
	headers := make([]headerMatch, len(m.Headers))
	for i, h := range m.Headers {
		headers[i] = headerMatch{name: string(h.Name), value: h.Value}
		if h.Type != nil {
			headers[i].typ = ptrTo(gatewayv1.HeaderMatchType(*h.Type))
		}
	}
	conditions, err := headerConditions(field, headers)
	if err != nil {
		return ms, err
	}
	ms.conditions = append(ms.conditions, conditions...)
	ms.numHeaders = len(ms.conditions)
	return ms, nil
}

// grpcEntryLess is GRPCRoute precedence between two matches that both
// could serve a request: hostname specificity; the most characters of
// service, then of method; the most header matches; the oldest route; the
// route's namespace/name; the rule's order; the match's order.
func grpcEntryLess(a, b *entry) bool {
	if less, decided := hostLess(a.host, b.host); decided {
		return less
	}
	ma, mb := a.match, b.match
	if ma.serviceLen != mb.serviceLen {
		return ma.serviceLen > mb.serviceLen
	}
	if ma.methodLen != mb.methodLen {
		return ma.methodLen > mb.methodLen
	}
	if ma.numHeaders != mb.numHeaders {
		return ma.numHeaders > mb.numHeaders
	}
	return routeOrderLess(a, b)
}
