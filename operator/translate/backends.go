package translate

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// upstreamKey identifies one Service port: one model.Upstream.
type upstreamKey struct {
	Namespace string
	Name      string
	Port      int32
}

func (k upstreamKey) less(o upstreamKey) bool {
	if k.Namespace != o.Namespace {
		return k.Namespace < o.Namespace
	}
	if k.Name != o.Name {
		return k.Name < o.Name
	}
	return k.Port < o.Port
}

// baseName is the upstream's safe name before uniqueness is enforced.
func (k upstreamKey) baseName() string {
	return safeName(k.Namespace) + "_" + safeName(k.Name) + "_" + strconv.Itoa(int(k.Port))
}

// refError is a backend reference that does not resolve: the route gets
// ResolvedRefs False with this reason, and the backend answers 500.
type refError struct {
	reason  gatewayv1.RouteConditionReason
	message string
}

// backendState is a validated backendRef of a rule.
type backendState struct {
	weight          int32
	key             upstreamKey
	invalid         bool
	requestHeaders  model.HeaderModifier
	responseHeaders model.HeaderModifier
}

// resolvedUpstream is a Service port the translation step resolved once and
// shares between every Gateway that uses it.
type resolvedUpstream struct {
	protocol  model.AppProtocol
	endpoints []model.Endpoint
	// tls is the BackendTLSPolicy's TLS towards the port, if one holds it;
	// tlsRefused: one holds it but cannot be honoured (its backends
	// answer 500, as connections through it must fail).
	tls        *model.UpstreamTLS
	tlsRefused bool
}

// resolveBackendRef checks a backend reference of a route, of any kind:
// kind Service, same namespace or a ReferenceGrant, the Service and its
// port exist, and the port's appProtocol is one we speak.
func (b *translator) resolveBackendRef(route RouteKey, ref gatewayv1.BackendObjectReference, field string) (upstreamKey, *refError) {
	key, svc, sp, refErr := b.resolveServicePort(route, ref, field, corev1.ProtocolTCP)
	if refErr != nil {
		return key, refErr
	}
	policy := b.tlsPolicies.policyFor(key.Namespace, key.Name, sp.Name)
	proto, ok := appProtocol(sp.AppProtocol)
	if !ok && policy != nil && isHTTPSAppProtocol(sp.AppProtocol) {
		// TLS to the port comes from the policy; over it, HTTP/1.1.
		proto, ok = model.ProtocolHTTP1, true
	}
	if !ok {
		return key, &refError{gatewayv1.RouteReasonUnsupportedProtocol, fmt.Sprintf("%s: appProtocol %q of Service %s/%s port %d is not supported", field, *sp.AppProtocol, key.Namespace, key.Name, key.Port)}
	}
	if _, done := b.upstreams[key]; !done {
		u := &resolvedUpstream{protocol: proto, endpoints: b.endpoints(svc, sp, corev1.ProtocolTCP)}
		if policy != nil {
			u.tls, u.tlsRefused = policy.tls, policy.tls == nil
		}
		b.upstreams[key] = u
	}
	return key, nil
}

// resolveServicePort checks what every backendRef needs: kind Service, same
// namespace or a ReferenceGrant, and a Service port of the transport
// protocol that exists.
func (b *translator) resolveServicePort(route RouteKey, ref gatewayv1.BackendObjectReference, field string, transport corev1.Protocol) (upstreamKey, *corev1.Service, *corev1.ServicePort, *refError) {
	routeNS := route.Namespace
	group, kind := "", kindService
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	ns := routeNS
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	key := upstreamKey{Namespace: ns, Name: string(ref.Name)}
	if group != "" || kind != kindService {
		return key, nil, nil, &refError{gatewayv1.RouteReasonInvalidKind, fmt.Sprintf("%s: %s/%s is not supported (core Service is)", field, group, kind)}
	}
	if !b.ix.referenceAllowed(
		grantRef{Group: gatewayGroup, Kind: string(route.Kind), Namespace: routeNS},
		grantRef{Group: "", Kind: kindService, Namespace: ns, Name: string(ref.Name)},
	) {
		return key, nil, nil, &refError{gatewayv1.RouteReasonRefNotPermitted, fmt.Sprintf("%s: Service %s/%s is in another namespace and no ReferenceGrant allows it", field, ns, ref.Name)}
	}
	if ref.Port == nil {
		return key, nil, nil, &refError{gatewayv1.RouteReasonBackendNotFound, field + ".port: required for a Service"}
	}
	key.Port = *ref.Port
	svc, ok := b.ix.service(types.NamespacedName{Namespace: ns, Name: string(ref.Name)})
	if !ok {
		return key, nil, nil, &refError{gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("%s: Service %s/%s not found", field, ns, ref.Name)}
	}
	sp := servicePort(svc, key.Port, transport)
	if sp == nil {
		return key, nil, nil, &refError{gatewayv1.RouteReasonBackendNotFound, fmt.Sprintf("%s: Service %s/%s has no %s port %d", field, ns, ref.Name, transport, key.Port)}
	}
	return key, svc, sp, nil
}

// servicePort finds the port of a Service by number and transport
// protocol (TCP when the Service leaves it empty).
func servicePort(svc *corev1.Service, port int32, transport corev1.Protocol) *corev1.ServicePort {
	for i := range svc.Spec.Ports {
		p := &svc.Spec.Ports[i]
		if p.Port == port && protocolOrTCP(p.Protocol) == transport {
			return p
		}
	}
	return nil
}

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// appProtocol maps a Service port's appProtocol to how nginx talks to it.
func appProtocol(ap *string) (model.AppProtocol, bool) {
	if ap == nil {
		return model.ProtocolHTTP1, true
	}
	switch *ap {
	case "", "http", "HTTP", "kubernetes.io/http":
		return model.ProtocolHTTP1, true
	case "kubernetes.io/h2c":
		return model.ProtocolH2C, true
	case "kubernetes.io/ws":
		return model.ProtocolWebSocket, true
	}
	return "", false
}

// isHTTPSAppProtocol reports an appProtocol that asks for TLS, which a
// BackendTLSPolicy provides.
func isHTTPSAppProtocol(ap *string) bool {
	return ap != nil && (*ap == "https" || *ap == "HTTPS" || *ap == "kubernetes.io/https")
}

// endpoints collects the ready addresses of a Service port from its
// EndpointSlices (matched by port name and transport), deduplicated and
// sorted. A nil ready condition counts as ready, as the EndpointSlice API
// says.
func (b *translator) endpoints(svc *corev1.Service, sp *corev1.ServicePort, transport corev1.Protocol) []model.Endpoint {
	seen := map[model.Endpoint]bool{}
	for _, es := range b.ix.slices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
		if !sliceTrusted(svc, es) {
			continue
		}
		if es.AddressType != discoveryv1.AddressTypeIPv4 && es.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		var port int32
		found := false
		for _, p := range es.Ports {
			name := ""
			if p.Name != nil {
				name = *p.Name
			}
			if name == sp.Name && p.Port != nil && (p.Protocol == nil && transport == corev1.ProtocolTCP || p.Protocol != nil && *p.Protocol == transport) {
				port, found = *p.Port, true
				break
			}
		}
		if !found || port < 1 || port > 65535 {
			continue
		}
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addr, err := netip.ParseAddr(a)
				if err != nil || addr.Zone() != "" {
					continue
				}
				if (es.AddressType == discoveryv1.AddressTypeIPv4) != addr.Is4() {
					continue
				}
				seen[model.Endpoint{Address: addr.String(), Port: port}] = true
			}
		}
	}
	out := make([]model.Endpoint, 0, len(seen))
	for e := range seen {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b model.Endpoint) int {
		return cmp.Or(strings.Compare(a.Address, b.Address), cmp.Compare(a.Port, b.Port))
	})
	return out
}
