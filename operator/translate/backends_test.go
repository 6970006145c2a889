package translate

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// onlyRule returns the rule of the single candidate of location "/".
func onlyRule(t *testing.T, g GatewayResult) *model.Rule {
	t.Helper()
	l := location(t, server(t, g.Model, 80, ""), "/", model.PathPrefix)
	if len(l.Candidates) != 1 {
		t.Fatalf("candidates = %+v", l.Candidates)
	}
	return l.Candidates[0].Rule
}

func TestUpstreamEndpoints(t *testing.T) {
	in := baseInput()
	in.Services = []corev1.Service{service(testNS, "svc", servicePortSpec{name: "http", port: 80}, servicePortSpec{name: "admin", port: 9000})}
	v6 := slice(testNS, "svc", "svc-v6", "http", 8080, "fd00::2", "fd00::1")
	v6.AddressType = discoveryv1.AddressTypeIPv6
	fqdn := slice(testNS, "svc", "svc-fqdn", "http", 8080, "example.com")
	fqdn.AddressType = discoveryv1.AddressTypeFQDN
	in.EndpointSlices = []discoveryv1.EndpointSlice{
		slice(testNS, "svc", "svc-b", "http", 8080, "10.0.0.3", "!10.0.0.9", "10.0.0.1"),
		slice(testNS, "svc", "svc-a", "http", 8080, "10.0.0.2", "10.0.0.1", "not-an-ip"),
		slice(testNS, "svc", "svc-admin", "admin", 9999, "10.0.0.1"),
		slice(testNS, "other", "other-1", "http", 8080, "10.9.9.9"),
		v6, fqdn,
	}
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), simpleRule("svc"))}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	want := []model.Upstream{{
		Name: "default_svc_80", ServiceNamespace: testNS, ServiceName: "svc", ServicePort: 80, Protocol: model.ProtocolHTTP1,
		Endpoints: []model.Endpoint{{Address: "10.0.0.1", Port: 8080}, {Address: "10.0.0.2", Port: 8080}, {Address: "10.0.0.3", Port: 8080}, {Address: "fd00::1", Port: 8080}, {Address: "fd00::2", Port: 8080}},
	}}
	if !reflect.DeepEqual(g.Model.Upstreams, want) {
		t.Errorf("upstreams = %+v\nwant %+v", g.Model.Upstreams, want)
	}
	r := onlyRule(t, g)
	if want := []model.Backend{{Upstream: "default_svc_80", Weight: 1}}; !reflect.DeepEqual(r.Backends, want) {
		t.Errorf("backends = %+v", r.Backends)
	}
}

func TestBackendRefResolution(t *testing.T) {
	svcKind := func(b gatewayv1.HTTPBackendRef, group, kind string) gatewayv1.HTTPBackendRef {
		b.Group = ptr(gatewayv1.Group(group))
		b.Kind = ptr(gatewayv1.Kind(kind))
		return b
	}
	noPort := backend("", "svc", 80, nil)
	noPort.Port = nil
	tests := []struct {
		name      string
		ref       gatewayv1.HTTPBackendRef
		grants    []gatewayv1beta1.ReferenceGrant
		wantRefs  string
		wantValid bool
		protocol  model.AppProtocol
	}{
		{"service", backend("", "svc", 80, nil), nil, "True/ResolvedRefs", true, model.ProtocolHTTP1},
		{"explicit core group and kind", svcKind(backend("", "svc", 80, nil), "", "Service"), nil, "True/ResolvedRefs", true, model.ProtocolHTTP1},
		{"h2c", backend("", "svc", 81, nil), nil, "True/ResolvedRefs", true, model.ProtocolH2C},
		{"websocket", backend("", "svc", 82, nil), nil, "True/ResolvedRefs", true, model.ProtocolWebSocket},
		{"unsupported appProtocol", backend("", "svc", 83, nil), nil, "False/UnsupportedProtocol", false, ""},
		{"missing service", backend("", "nope", 80, nil), nil, "False/BackendNotFound", false, ""},
		{"missing port", backend("", "svc", 8080, nil), nil, "False/BackendNotFound", false, ""},
		{"no port", noPort, nil, "False/BackendNotFound", false, ""},
		{"unknown kind", svcKind(backend("", "svc", 80, nil), "example.com", "Bucket"), nil, "False/InvalidKind", false, ""},
		{"other namespace without grant", backend("apps", "svc", 80, nil), nil, "False/RefNotPermitted", false, ""},
		{"other namespace with grant", backend("apps", "svc", 80, nil),
			[]gatewayv1beta1.ReferenceGrant{grant("apps", "HTTPRoute", testNS, "Service", "svc")}, "True/ResolvedRefs", true, model.ProtocolHTTP1},
		{"grant for another kind", backend("apps", "svc", 80, nil),
			[]gatewayv1beta1.ReferenceGrant{grant("apps", "Gateway", testNS, "Service", "")}, "False/RefNotPermitted", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Services = []corev1.Service{
				service(testNS, "svc",
					servicePortSpec{name: "http", port: 80},
					servicePortSpec{name: "h2c", port: 81, appProtocol: "kubernetes.io/h2c"},
					servicePortSpec{name: "ws", port: 82, appProtocol: "kubernetes.io/ws"},
					servicePortSpec{name: "odd", port: 83, appProtocol: "example.com/quic"}),
				service("apps", "svc"),
			}
			in.ReferenceGrants = tc.grants
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""),
				rule(gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{tc.ref}}))}
			out := Translate(in)
			st := routeStatus(t, out, testNS, "r")
			wantCondition(t, st.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
			if got := condString(findCondition(t, st.Conditions, "ResolvedRefs")); got != tc.wantRefs {
				t.Errorf("ResolvedRefs = %s, want %s", got, tc.wantRefs)
			}
			g := gatewayResult(t, out, testNS, "gw")
			r := onlyRule(t, g)
			if len(r.Backends) != 1 || r.Backends[0].Invalid == tc.wantValid {
				t.Fatalf("backends = %+v, want valid=%v", r.Backends, tc.wantValid)
			}
			if tc.wantValid {
				if len(g.Model.Upstreams) != 1 || g.Model.Upstreams[0].Protocol != tc.protocol || r.Backends[0].Upstream != g.Model.Upstreams[0].Name {
					t.Errorf("upstreams = %+v, backend %+v", g.Model.Upstreams, r.Backends[0])
				}
			} else if len(g.Model.Upstreams) != 0 || r.Backends[0].Upstream != "" {
				t.Errorf("invalid backend has an upstream: %+v %+v", g.Model.Upstreams, r.Backends[0])
			}
		})
	}
}

func TestBackendWeights(t *testing.T) {
	w := func(v int32) *int32 { return &v }
	tests := []struct {
		name     string
		refs     []gatewayv1.HTTPBackendRef
		backends []model.Backend
		ret      *model.Return
		accepted string
	}{
		{"no backendRefs", nil, nil, &model.Return{StatusCode: 500}, "True/Accepted"},
		{"all weights zero", []gatewayv1.HTTPBackendRef{backend("", "svc", 80, w(0)), backend("", "svc2", 80, w(0))}, nil, &model.Return{StatusCode: 500}, "True/Accepted"},
		{"weighted", []gatewayv1.HTTPBackendRef{backend("", "svc", 80, w(3)), backend("", "svc2", 80, w(1)), backend("", "svc2", 80, w(0))},
			[]model.Backend{{Upstream: "default_svc_80", Weight: 3}, {Upstream: "default_svc2_80", Weight: 1}}, nil, "True/Accepted"},
		{"invalid share", []gatewayv1.HTTPBackendRef{backend("", "svc", 80, w(1)), backend("", "missing", 80, w(1))},
			[]model.Backend{{Upstream: "default_svc_80", Weight: 1}, {Invalid: true, Weight: 1}}, nil, "True/Accepted"},
		{"negative weight", []gatewayv1.HTTPBackendRef{backend("", "svc", 80, w(-1))}, nil, nil, "False/UnsupportedValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Services = append(in.Services, service(testNS, "svc2"))
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{BackendRefs: tc.refs}))}
			out := Translate(in)
			if got := condString(findCondition(t, routeStatus(t, out, testNS, "r").Conditions, "Accepted")); got != tc.accepted {
				t.Fatalf("Accepted = %s, want %s", got, tc.accepted)
			}
			if tc.accepted != "True/Accepted" {
				return
			}
			r := onlyRule(t, gatewayResult(t, out, testNS, "gw"))
			if !reflect.DeepEqual(r.Backends, tc.backends) || !reflect.DeepEqual(r.Return, tc.ret) {
				t.Errorf("backends = %+v return = %+v\nwant %+v %+v", r.Backends, r.Return, tc.backends, tc.ret)
			}
		})
	}
}

func TestUpstreamNamesAreUniqueAndSafe(t *testing.T) {
	in := baseInput()
	in.Namespaces = append(in.Namespaces, namespace("a-b", nil), namespace("a", nil))
	in.Gateways[0].Spec.Listeners[0] = allNamespaces(in.Gateways[0].Spec.Listeners[0])
	in.Services = []corev1.Service{service("a-b", "c"), service("a", "b-c"), service("a", "b.c")}
	in.HTTPRoutes = []gatewayv1.HTTPRoute{
		route("a-b", "r", parent(testNS, "gw", ""), simpleRule("c", prefix("/1"))),
		route("a", "r", parent(testNS, "gw", ""), simpleRule("b-c", prefix("/2")), simpleRule("b.c", prefix("/3"))),
	}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	var names []string
	for _, u := range g.Model.Upstreams {
		names = append(names, u.Name+"="+u.ServiceNamespace+"/"+u.ServiceName)
	}
	want := []string{"a_b_c_80=a/b-c", "a_b_c_80_2=a/b.c", "a_b_c_80_3=a-b/c"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("upstreams = %v, want %v", names, want)
	}
}
