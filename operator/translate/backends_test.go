package translate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
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


