package render

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// sharedPortGateway is built by the translation step, not by hand: port 80 has a
// listener without hostname and one with a hostname. The routes of the
// hostname-less listener must land on the port's default server (a second
// server without server_name would make nginx warn "conflicting server
// name" and never be chosen) and on servers of their own route hostnames,
// but not on the named listener's server (listener isolation).
func sharedPortGateway(t testing.TB) *model.Gateway {
	p := func(s string) *string { return &s }
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1}
	}
	listener := func(name, host string) gatewayv1.Listener {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: 80, Protocol: gatewayv1.HTTPProtocolType}
		if host != "" {
			l.Hostname = (*gatewayv1.Hostname)(p(host))
		}
		return l
	}
	httpRoute := func(name, section, path string, hosts ...gatewayv1.Hostname) *gatewayv1.HTTPRoute {
		return &gatewayv1.HTTPRoute{ObjectMeta: meta(name), Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
				{Name: "gw", SectionName: (*gatewayv1.SectionName)(p(section))}}},
			Hostnames: hosts,
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{
					Type: (*gatewayv1.PathMatchType)(p(string(gatewayv1.PathMatchPathPrefix))), Value: p(path)}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: "echo", Port: (*gatewayv1.PortNumber)(int32p(80))}}}},
			}},
		}}
	}
	out := translate.Translate(translate.Input{
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "nginx"},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}},
		Gateways: []gatewayv1.Gateway{{ObjectMeta: meta("gw"), Spec: gatewayv1.GatewaySpec{GatewayClassName: "nginx",
			Listeners: []gatewayv1.Listener{listener("any", ""), listener("named", "named.example.com")}}}},
		Services: []corev1.Service{{ObjectMeta: meta("echo"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		EndpointSlices: []discoveryv1.EndpointSlice{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo-1", Labels: map[string]string{
				discoveryv1.LabelServiceName: "echo", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: p("http"), Port: int32p(18081)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
		}},
		HTTPRoutes: []*gatewayv1.HTTPRoute{
			httpRoute("every-host", "any", "/any"),
			httpRoute("one-host", "any", "/one", "one.example.com"),
			httpRoute("named", "named", "/named"),
		},
	})
	if len(out.Gateways) != 1 || out.Gateways[0].Model == nil {
		t.Fatalf("gateway not accepted: %+v", out.Gateways)
	}
	m := out.Gateways[0].Model
	defaults := 0
	for _, s := range m.HTTPServers {
		if s.Default {
			defaults++
			if len(s.Locations) == 0 {
				t.Errorf("the default server has no locations: the hostname-less listener's route is not on it")
			}
		}
	}
	if defaults != 1 {
		t.Errorf("%d default servers on port 80, want 1", defaults)
	}
	return m
}

// A server without hostname that is not the default one breaks the model's
// contract: Render refuses it instead of writing `server_name ""`.
func TestRenderRefusesSecondServerWithoutHostname(t *testing.T) {
	gw := gateway(80, nil)
	gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{Port: 80})
	if _, err := Render(gw); err == nil {
		t.Fatal("Render accepted a non-default server without hostname")
	}
}
