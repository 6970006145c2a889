package translate

import (
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Test helpers of the tests kept in Go (determinism, safety, listener
// isolation); the input/output examples are golden pairs (golden_test.go).
// Constructors for the objects Translate reads, and look-ups in
// its Output. Defaults: namespace "default", class "nginx", Gateway "gw".

const testNS = "default"

func ptr[T any](v T) *T { return &v }

func meta(ns, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: ns, Name: name, Generation: 1}
}

func ourClass(name string) gatewayv1.GatewayClass {
	return gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name, Generation: 1},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: ControllerName},
	}
}

func gateway(ns, name string, listeners ...gatewayv1.Listener) gatewayv1.Gateway {
	return gatewayv1.Gateway{
		ObjectMeta: meta(ns, name),
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: "nginx", Listeners: listeners},
	}
}

func httpListener(name string, port int32, hostname string) gatewayv1.Listener {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: port, Protocol: gatewayv1.HTTPProtocolType}
	if hostname != "" {
		l.Hostname = ptr(gatewayv1.Hostname(hostname))
	}
	return l
}

func httpsListener(name string, port int32, hostname string, secrets ...gatewayv1.SecretObjectReference) gatewayv1.Listener {
	l := httpListener(name, port, hostname)
	l.Protocol = gatewayv1.HTTPSProtocolType
	l.TLS = &gatewayv1.ListenerTLSConfig{Mode: ptr(gatewayv1.TLSModeTerminate), CertificateRefs: secrets}
	return l
}

func secretRef(ns, name string) gatewayv1.SecretObjectReference {
	r := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(name)}
	if ns != "" {
		r.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	return r
}

func allNamespaces(l gatewayv1.Listener) gatewayv1.Listener {
	l.AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr(gatewayv1.NamespacesFromAll)}}
	return l
}

type routeOpt func(*gatewayv1.HTTPRoute)

func route(ns, name string, opts ...routeOpt) *gatewayv1.HTTPRoute {
	r := &gatewayv1.HTTPRoute{ObjectMeta: meta(ns, name)}
	for _, o := range opts {
		o(r)
	}
	return r
}

func parent(ns, gw, section string) routeOpt {
	return func(r *gatewayv1.HTTPRoute) {
		p := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gw)}
		if ns != "" {
			p.Namespace = ptr(gatewayv1.Namespace(ns))
		}
		if section != "" {
			p.SectionName = ptr(gatewayv1.SectionName(section))
		}
		r.Spec.ParentRefs = append(r.Spec.ParentRefs, p)
	}
}

func hostnames(hs ...string) routeOpt {
	return func(r *gatewayv1.HTTPRoute) {
		for _, h := range hs {
			r.Spec.Hostnames = append(r.Spec.Hostnames, gatewayv1.Hostname(h))
		}
	}
}

func created(t time.Time) routeOpt {
	return func(r *gatewayv1.HTTPRoute) { r.CreationTimestamp = metav1.NewTime(t) }
}

func rule(rl gatewayv1.HTTPRouteRule) routeOpt {
	return func(r *gatewayv1.HTTPRoute) { r.Spec.Rules = append(r.Spec.Rules, rl) }
}

// simpleRule sends the given matches to Service svc port 80.
func simpleRule(svc string, matches ...gatewayv1.HTTPRouteMatch) routeOpt {
	return rule(gatewayv1.HTTPRouteRule{Matches: matches, BackendRefs: []gatewayv1.HTTPBackendRef{backend("", svc, 80, nil)}})
}

func backend(ns, name string, port int32, weight *int32) gatewayv1.HTTPBackendRef {
	b := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{
		BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr(port)},
		Weight:                 weight,
	}}
	if ns != "" {
		b.Namespace = ptr(gatewayv1.Namespace(ns))
	}
	return b
}

func pathMatch(typ gatewayv1.PathMatchType, value string) gatewayv1.HTTPRouteMatch {
	return gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr(typ), Value: ptr(value)}}
}

func prefix(v string) gatewayv1.HTTPRouteMatch { return pathMatch(gatewayv1.PathMatchPathPrefix, v) }
func exact(v string) gatewayv1.HTTPRouteMatch  { return pathMatch(gatewayv1.PathMatchExact, v) }
func regex(v string) gatewayv1.HTTPRouteMatch {
	return pathMatch(gatewayv1.PathMatchRegularExpression, v)
}

func withHeader(m gatewayv1.HTTPRouteMatch, name, value string) gatewayv1.HTTPRouteMatch {
	m.Headers = append(m.Headers, gatewayv1.HTTPHeaderMatch{Name: gatewayv1.HTTPHeaderName(name), Value: value})
	return m
}

func withQuery(m gatewayv1.HTTPRouteMatch, name, value string) gatewayv1.HTTPRouteMatch {
	m.QueryParams = append(m.QueryParams, gatewayv1.HTTPQueryParamMatch{Name: gatewayv1.HTTPHeaderName(name), Value: value})
	return m
}

func withMethod(m gatewayv1.HTTPRouteMatch, method string) gatewayv1.HTTPRouteMatch {
	m.Method = ptr(gatewayv1.HTTPMethod(method))
	return m
}

type servicePortSpec struct {
	name        string
	port        int32
	appProtocol string
}

func service(ns, name string, ports ...servicePortSpec) corev1.Service {
	s := corev1.Service{ObjectMeta: meta(ns, name)}
	if len(ports) == 0 {
		ports = []servicePortSpec{{name: "http", port: 80}}
	}
	for _, p := range ports {
		sp := corev1.ServicePort{Name: p.name, Port: p.port, Protocol: corev1.ProtocolTCP}
		if p.appProtocol != "" {
			sp.AppProtocol = ptr(p.appProtocol)
		}
		s.Spec.Ports = append(s.Spec.Ports, sp)
	}
	return s
}

// slice is an EndpointSlice of Service svc with one port; addresses prefixed
// with "!" are not ready.
func slice(ns, svc, name, portName string, port int32, addrs ...string) discoveryv1.EndpointSlice {
	es := discoveryv1.EndpointSlice{
		ObjectMeta:  meta(ns, name),
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr(portName), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}},
	}
	es.Labels = map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}
	for _, a := range addrs {
		ep := discoveryv1.Endpoint{Addresses: []string{a}}
		if a[0] == '!' {
			ep.Addresses = []string{a[1:]}
			ep.Conditions.Ready = ptr(false)
		}
		es.Endpoints = append(es.Endpoints, ep)
	}
	return es
}

func namespace(name string, labels map[string]string) corev1.Namespace {
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func grant(ns string, fromKind, fromNS, toKind string, toName string) gatewayv1beta1.ReferenceGrant {
	g := gatewayv1beta1.ReferenceGrant{ObjectMeta: meta(ns, "grant-"+fromNS+"-"+toKind)}
	g.Spec.From = []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: gatewayv1.Kind(fromKind), Namespace: gatewayv1.Namespace(fromNS)}}
	to := gatewayv1beta1.ReferenceGrantTo{Group: "", Kind: gatewayv1.Kind(toKind)}
	if toName != "" {
		to.Name = ptr(gatewayv1.ObjectName(toName))
	}
	g.Spec.To = []gatewayv1beta1.ReferenceGrantTo{to}
	return g
}

var (
	certOnce        sync.Once
	certPEM, keyPEM []byte
)

// testKeyPair is a self-signed certificate generated once per test run:
// the determinism test needs the same one on every call.
func testKeyPair(t testing.TB) ([]byte, []byte) {
	t.Helper()
	certOnce.Do(func() { certPEM, keyPEM = testenv.SelfSignedCert(t, "example.com", "*.example.com") })
	return certPEM, keyPEM
}

func tlsSecret(t testing.TB, ns, name string) corev1.Secret {
	c, k := testKeyPair(t)
	return corev1.Secret{
		ObjectMeta: meta(ns, name),
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: c, corev1.TLSPrivateKeyKey: k},
	}
}

// baseInput is our class, Gateway default/gw with an HTTP listener "http"
// on port 80, and Service default/svc (port 80 "http", endpoint 10.0.0.1:8080).
func baseInput() Input {
	return Input{
		GatewayClasses: []gatewayv1.GatewayClass{ourClass("nginx")},
		Gateways:       []gatewayv1.Gateway{gateway(testNS, "gw", httpListener("http", 80, ""))},
		Services:       []corev1.Service{service(testNS, "svc")},
		EndpointSlices: []discoveryv1.EndpointSlice{slice(testNS, "svc", "svc-1", "http", 8080, "10.0.0.1")},
		Namespaces:     []corev1.Namespace{namespace(testNS, nil)},
	}
}

func gatewayResult(t testing.TB, out Output, ns, name string) GatewayResult {
	t.Helper()
	for _, g := range out.Gateways {
		if g.Namespace == ns && g.Name == name {
			return g
		}
	}
	t.Fatalf("no result for Gateway %s/%s", ns, name)
	return GatewayResult{}
}

func findCondition(t testing.TB, conds []metav1.Condition, typ string) metav1.Condition {
	t.Helper()
	for _, c := range conds {
		if c.Type == typ {
			return c
		}
	}
	t.Fatalf("no condition %s in %+v", typ, conds)
	return metav1.Condition{}
}

// wantCondition checks a condition's status and reason.
func wantCondition(t testing.TB, conds []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	c := findCondition(t, conds, typ)
	if c.Status != status || c.Reason != reason {
		t.Errorf("condition %s = %s/%s (%s), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
}

// routeStatus returns the single parent status of route ns/name.
func routeStatus(t testing.TB, out Output, ns, name string) gatewayv1.RouteParentStatus {
	t.Helper()
	ps := out.Routes[RouteKey{Kind: kindHTTPRoute, NamespacedName: types.NamespacedName{Namespace: ns, Name: name}}]
	if len(ps) != 1 {
		t.Fatalf("route %s/%s has %d parent statuses, want 1: %+v", ns, name, len(ps), ps)
	}
	return ps[0]
}

func server(t testing.TB, m *model.Gateway, port int32, hostname string) model.HTTPServer {
	t.Helper()
	if m == nil {
		t.Fatalf("no model")
	}
	for _, s := range m.HTTPServers {
		if s.Port == port && s.Hostname == hostname {
			return s
		}
	}
	t.Fatalf("no server %d %q in %+v", port, hostname, m.HTTPServers)
	return model.HTTPServer{}
}

func location(t testing.TB, s model.HTTPServer, path string, kind model.PathMatchKind) model.Location {
	t.Helper()
	for _, l := range s.Locations {
		if l.Path == path && l.Match == kind {
			return l
		}
	}
	t.Fatalf("no location %s %s in server %d %q: %+v", kind, path, s.Port, s.Hostname, s.Locations)
	return model.Location{}
}
