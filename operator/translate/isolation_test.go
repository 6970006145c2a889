package translate

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// serve answers which route nginx, configured from the model, lets take
// a GET of path on port with Host host ("" means none: 404); see
// operator/explain.
func serve(m *model.Gateway, port int32, host, path string) string {
	res := explain.Explain(m, nil, explain.Request{Scheme: "http", Port: port, Method: "GET", Target: path,
		Headers: []explain.Header{{Name: "Host", Value: host}}})
	if res.Selected == nil {
		return ""
	}
	return strings.SplitN(res.Selected.Route, "/", 2)[1]
}

// TestListenerIsolation is the conformance test GatewayHTTPListenerIsolation
// (both variants): a request belongs to the most specific listener whose
// hostname matches, and only that listener's routes serve it.
func TestListenerIsolation(t *testing.T) {
	listeners := []gatewayv1.Listener{
		httpListener("empty-hostname", 80, ""),
		httpListener("wildcard-example-com", 80, "*.example.com"),
		httpListener("wildcard-foo-example-com", 80, "*.foo.example.com"),
		httpListener("abc-foo-example-com", 80, "abc.foo.example.com"),
	}
	requests := []struct{ host, path, want string }{
		{"bar.com", "/empty-hostname", "empty-hostname"},
		{"bar.com", "/wildcard-example-com", ""},
		{"bar.com", "/wildcard-foo-example-com", ""},
		{"bar.com", "/abc-foo-example-com", ""},
		{"bar.example.com", "/empty-hostname", ""},
		{"bar.example.com", "/wildcard-example-com", "wildcard-example-com"},
		{"bar.example.com", "/wildcard-foo-example-com", ""},
		{"bar.foo.example.com", "/empty-hostname", ""},
		{"bar.foo.example.com", "/wildcard-example-com", ""},
		{"bar.foo.example.com", "/wildcard-foo-example-com", "wildcard-foo-example-com"},
		{"abc.foo.example.com", "/empty-hostname", ""},
		{"abc.foo.example.com", "/wildcard-example-com", ""},
		{"abc.foo.example.com", "/wildcard-foo-example-com", ""},
		{"abc.foo.example.com", "/abc-foo-example-com", "abc-foo-example-com"},
	}
	for _, variant := range []struct {
		name  string
		hosts []string
	}{
		{"without route hostnames", nil},
		{"with hostname intersection", []string{"bar.com", "*.example.com", "*.foo.example.com", "abc.foo.example.com"}},
	} {
		t.Run(variant.name, func(t *testing.T) {
			in := baseInput()
			in.Gateways[0].Spec.Listeners = listeners
			for _, l := range listeners {
				in.HTTPRoutes = append(in.HTTPRoutes, route(testNS, string(l.Name), parent("", "gw", string(l.Name)),
					hostnames(variant.hosts...), simpleRule("svc", prefix("/"+string(l.Name)))))
			}
			out := Translate(in)
			m := gatewayResult(t, out, testNS, "gw").Model
			for _, r := range requests {
				if got := serve(m, 80, r.host, r.path); got != r.want {
					t.Errorf("%s%s: served by route %q, want %q", r.host, r.path, got, r.want)
				}
			}
			for _, s := range m.HTTPServers {
				if s.Hostname == "" && !s.Default {
					t.Errorf("a server without hostname that is not the default one: %+v", s)
				}
			}
		})
	}
}

// TestConformanceHostnameIntersection is the core conformance test
// HTTPRouteHostnameIntersection, on the model.
func TestConformanceHostnameIntersection(t *testing.T) {
	in := baseInput()
	in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{
		httpListener("listener-1", 80, "very.specific.com"),
		httpListener("listener-2", 80, "*.wildcard.io"),
		httpListener("listener-3", 80, "*.anotherwildcard.io"),
	}
	routes := []struct {
		name, path string
		hosts      []string
	}{
		{"s1", "/s1", []string{"non.matching.com", "*.nonmatchingwildcard.io", "very.specific.com"}},
		{"s2", "/s2", []string{"non.matching.com", "wildcard.io", "foo.wildcard.io", "bar.wildcard.io", "foo.bar.wildcard.io"}},
		{"s3", "/s3", []string{"non.matching.com", "*.specific.com"}},
		{"s4", "/s4", []string{"*.anotherwildcard.io"}},
		{"s5", "/s5", []string{"specific.but.wrong.com", "wildcard.io"}},
	}
	for _, r := range routes {
		in.HTTPRoutes = append(in.HTTPRoutes, route(testNS, r.name, parent("", "gw", ""), hostnames(r.hosts...), simpleRule("svc", prefix(r.path))))
	}
	out := Translate(in)
	wantCondition(t, routeStatus(t, out, testNS, "s5").Conditions, "Accepted", "False", "NoMatchingListenerHostname")
	m := gatewayResult(t, out, testNS, "gw").Model
	for _, r := range []struct{ host, path, want string }{
		{"very.specific.com", "/s1", "s1"}, {"non.matching.com", "/s1", ""}, {"foo.nonmatchingwildcard.io", "/s1", ""},
		{"foo.wildcard.io", "/s1", ""}, {"very.specific.com", "/non-matching-prefix", ""},
		{"foo.wildcard.io", "/s2", "s2"}, {"bar.wildcard.io", "/s2", "s2"}, {"foo.bar.wildcard.io", "/s2", "s2"},
		{"non.matching.com", "/s2", ""}, {"wildcard.io", "/s2", ""}, {"very.specific.com", "/s2", ""},
		{"very.specific.com", "/s3", "s3"}, {"non.matching.com", "/s3", ""}, {"foo.specific.com", "/s3", ""}, {"foo.wildcard.io", "/s3", ""},
		{"foo.anotherwildcard.io", "/s4", "s4"}, {"foo.bar.anotherwildcard.io", "/s4", "s4"}, {"anotherwildcard.io", "/s4", ""},
		{"foo.wildcard.io", "/s4", ""}, {"very.specific.com", "/s4", ""},
	} {
		if got := serve(m, 80, r.host, r.path); got != r.want {
			t.Errorf("%s%s: served by route %q, want %q", r.host, r.path, got, r.want)
		}
	}
}

// TestConformanceListenerHostnameMatching is the core conformance test
// HTTPRouteListenerHostnameMatching, on the model.
func TestConformanceListenerHostnameMatching(t *testing.T) {
	in := baseInput()
	in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{
		httpListener("listener-1", 80, "bar.com"),
		httpListener("listener-2", 80, "foo.bar.com"),
		httpListener("listener-3", 80, "*.bar.com"),
		httpListener("listener-4", 80, "*.foo.com"),
	}
	in.HTTPRoutes = []*gatewayv1.HTTPRoute{
		route(testNS, "backend-v1", parent("", "gw", "listener-1"), simpleRule("svc")),
		route(testNS, "backend-v2", parent("", "gw", "listener-2"), simpleRule("svc")),
		route(testNS, "backend-v3", parent("", "gw", "listener-3"), parent("", "gw", "listener-4"), simpleRule("svc")),
	}
	m := gatewayResult(t, Translate(in), testNS, "gw").Model
	for _, r := range []struct{ host, want string }{
		{"bar.com", "backend-v1"}, {"foo.bar.com", "backend-v2"}, {"baz.bar.com", "backend-v3"}, {"boo.bar.com", "backend-v3"},
		{"multiple.prefixes.bar.com", "backend-v3"}, {"multiple.prefixes.foo.com", "backend-v3"}, {"foo.com", ""}, {"no.matching.host", ""},
	} {
		if got := serve(m, 80, r.host, "/"); got != r.want {
			t.Errorf("%s/: served by route %q, want %q", r.host, got, r.want)
		}
	}
}
