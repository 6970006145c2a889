package translate

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

func TestRouteParentRefs(t *testing.T) {
	port := func(p int32) routeOpt {
		return parentRef(gatewayv1.ParentReference{Name: "gw", Port: ptr(p)})
	}
	tests := []struct {
		name       string
		opts       []routeOpt
		ns         string
		wantStatus metav1.ConditionStatus
		wantReason string
		attached   map[string]int32
	}{
		{"whole gateway", []routeOpt{parent("", "gw", "")}, testNS, metav1.ConditionTrue, "Accepted", map[string]int32{"http": 1, "other": 1}},
		{"section", []routeOpt{parent("", "gw", "other")}, testNS, metav1.ConditionTrue, "Accepted", map[string]int32{"http": 0, "other": 1}},
		{"unknown section", []routeOpt{parent("", "gw", "nope")}, testNS, metav1.ConditionFalse, "NoMatchingParent", map[string]int32{"http": 0, "other": 0}},
		{"port", []routeOpt{port(8080)}, testNS, metav1.ConditionTrue, "Accepted", map[string]int32{"http": 0, "other": 1}},
		{"unknown port", []routeOpt{port(9999)}, testNS, metav1.ConditionFalse, "NoMatchingParent", map[string]int32{"http": 0, "other": 0}},
		{"other namespace, listener allows Same", []routeOpt{parent(testNS, "gw", "")}, "apps", metav1.ConditionFalse, "NotAllowedByListeners", map[string]int32{"http": 0, "other": 0}},
		{"hostname mismatch", []routeOpt{parent("", "gw", ""), hostnames("other.org")}, testNS, metav1.ConditionTrue, "Accepted", map[string]int32{"http": 1, "other": 0}},
		{"no hostname matches", []routeOpt{parent("", "gw", "other"), hostnames("other.org")}, testNS, metav1.ConditionFalse, "NoMatchingListenerHostname", map[string]int32{"http": 0, "other": 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners, httpListener("other", 8080, "*.example.com"))
			r := route(tc.ns, "r", append(tc.opts, simpleRule("svc"))...)
			r.Generation = 4
			in.HTTPRoutes = []gatewayv1.HTTPRoute{r}
			out := Translate(in)
			st := routeStatus(t, out, tc.ns, "r")
			wantCondition(t, st.Conditions, "Accepted", tc.wantStatus, tc.wantReason)
			if st.ControllerName != ControllerName {
				t.Errorf("controllerName = %s", st.ControllerName)
			}
			if !reflect.DeepEqual(st.ParentRef, r.Spec.ParentRefs[0]) {
				t.Errorf("parentRef = %+v, want the spec's %+v", st.ParentRef, r.Spec.ParentRefs[0])
			}
			if len(st.Conditions) != 2 || st.Conditions[0].Type != "Accepted" || st.Conditions[1].Type != "ResolvedRefs" {
				t.Errorf("conditions not [Accepted ResolvedRefs]: %+v", st.Conditions)
			}
			for _, c := range st.Conditions {
				if c.ObservedGeneration != 4 {
					t.Errorf("%s observedGeneration = %d", c.Type, c.ObservedGeneration)
				}
			}
			g := gatewayResult(t, out, testNS, "gw")
			for l, want := range tc.attached {
				if got := listenerStatusOf(t, g, l).AttachedRoutes; got != want {
					t.Errorf("listener %s attachedRoutes = %d, want %d", l, got, want)
				}
			}
		})
	}
}

func TestRouteParentsOfOtherKindsAndGateways(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r",
		parentRef(gatewayv1.ParentReference{Kind: ptr(gatewayv1.Kind("Service")), Group: ptr(gatewayv1.Group("")), Name: "svc"}),
		parent("", "no-such-gateway", ""),
		parent("", "gw", ""),
		simpleRule("svc"))}
	out := Translate(in)
	ps := out.HTTPRoutes[types.NamespacedName{Namespace: testNS, Name: "r"}]
	if len(ps) != 1 || ps[0].ParentRef.Name != "gw" {
		t.Fatalf("parents = %+v, want only gw", ps)
	}
}

func TestRouteSeveralParentsSorted(t *testing.T) {
	in := baseInput()
	in.Gateways = append(in.Gateways, gateway(testNS, "a-gw", httpListener("http", 80, "")))
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), parent("", "a-gw", ""), simpleRule("svc"))}
	ps := Translate(in).HTTPRoutes[types.NamespacedName{Namespace: testNS, Name: "r"}]
	if len(ps) != 2 || ps[0].ParentRef.Name != "a-gw" || ps[1].ParentRef.Name != "gw" {
		t.Fatalf("parents = %+v", ps)
	}
}

func TestHostnameIntersection(t *testing.T) {
	tests := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example.com"}, []string{"a.example.com"}},
		{"a.example.com", nil, []string{"a.example.com"}},
		{"a.example.com", []string{"a.example.com", "b.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"a.example.com", "a.b.example.com", "example.com", "x.org"}, []string{"a.b.example.com", "a.example.com"}},
		{"a.example.com", []string{"*.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"*.a.example.com", "*.com"}, []string{"*.a.example.com", "*.example.com"}},
		{"*.example.com", []string{"*.example.org"}, nil},
	}
	for _, tc := range tests {
		if got := intersectHostnames(tc.listener, tc.route); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("intersect(%q, %v) = %v, want %v", tc.listener, tc.route, got, tc.want)
		}
	}
}

func TestServersPerHostname(t *testing.T) {
	in := baseInput()
	in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{
		allNamespaces(httpListener("any", 80, "")),
		httpListener("wild", 8080, "*.example.com"),
	}
	in.HTTPRoutes = []gatewayv1.HTTPRoute{
		route(testNS, "catchall", parent("", "gw", ""), simpleRule("svc", prefix("/all"))),
		route(testNS, "foo", parent("", "gw", ""), hostnames("foo.example.com"), simpleRule("svc", prefix("/foo"))),
	}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	var keys []string
	for _, s := range g.Model.HTTPServers {
		k := itoa(int(s.Port)) + " " + s.Hostname
		if s.Default {
			k += " default"
		}
		keys = append(keys, k+" "+strings.Join(s.Listeners, ","))
	}
	want := []string{
		"80  default any",
		"80 foo.example.com any",
		"8080  default ",
		"8080 *.example.com wild",
		"8080 foo.example.com wild",
	}
	if !reflect.DeepEqual(keys, want) {
		t.Fatalf("servers = %q\nwant %q", keys, want)
	}
	// The default server of 80 serves the route without hostname; the
	// foo.example.com server serves foo first, then inherits it.
	if got := candidateRoutes(location(t, server(t, g.Model, 80, ""), "/all", model.PathPrefix)); !reflect.DeepEqual(got, []string{"default/catchall#0"}) {
		t.Errorf("80 default /all = %v", got)
	}
	foo := server(t, g.Model, 80, "foo.example.com")
	if got := candidateRoutes(location(t, foo, "/foo", model.PathPrefix)); !reflect.DeepEqual(got, []string{"default/foo#0"}) {
		t.Errorf("80 foo /foo = %v", got)
	}
	if got := candidateRoutes(location(t, foo, "/all", model.PathPrefix)); !reflect.DeepEqual(got, []string{"default/catchall#0"}) {
		t.Errorf("80 foo /all = %v", got)
	}
	if s := server(t, g.Model, 8080, ""); len(s.Locations) != 0 {
		t.Errorf("default server of 8080 has locations %+v", s.Locations)
	}
	if got := candidateRoutes(location(t, server(t, g.Model, 8080, "*.example.com"), "/all", model.PathPrefix)); !reflect.DeepEqual(got, []string{"default/catchall#0"}) {
		t.Errorf("8080 wildcard /all = %v", got)
	}
}

func TestRouteValidation(t *testing.T) {
	hdr := func(name, value string) routeOpt {
		return rule(gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{
			Type:                  gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: gatewayv1.HTTPHeaderName(name), Value: value}}},
		}}})
	}
	match := func(m gatewayv1.HTTPRouteMatch) routeOpt { return simpleRule("svc", m) }
	tests := []struct {
		name      string
		opt       routeOpt
		wantField string // "" = accepted
	}{
		{"ok", simpleRule("svc", prefix("/a")), ""},
		{"header value CR", hdr("X-A", "a\rb"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
		{"header value LF", hdr("X-A", "a\nSet-Cookie: x"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
		{"header value NUL", hdr("X-A", "a\x00"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
		{"header value DEL", hdr("X-A", "a\x7f"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
		{"header value tab is fine", hdr("X-A", "a\tb"), ""},
		{"header value empty", hdr("X-A", ""), "spec.rules[0].filters[0].requestHeaderModifier.set[0].value"},
		{"header name space", hdr("X A", "v"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].name"},
		{"header name colon", hdr("X:A", "v"), "spec.rules[0].filters[0].requestHeaderModifier.set[0].name"},
		{"path without slash", match(prefix("a")), "spec.rules[0].matches[0].path.value"},
		{"path with space", match(exact("/a b")), "spec.rules[0].matches[0].path.value"},
		{"path with quote", match(exact(`/a"b`)), "spec.rules[0].matches[0].path.value"},
		{"path with brace", match(prefix("/a{b")), "spec.rules[0].matches[0].path.value"},
		{"path with newline", match(prefix("/a\nb")), "spec.rules[0].matches[0].path.value"},
		{"path with dot segment", match(prefix("/a/../b")), "spec.rules[0].matches[0].path.value"},
		{"path with double slash", match(prefix("/a//b")), "spec.rules[0].matches[0].path.value"},
		{"path bad escape", match(prefix("/a%zz")), "spec.rules[0].matches[0].path.value"},
		{"path good escape", match(prefix("/a%20b")), ""},
		{"regex does not compile", match(regex("/a(")), "spec.rules[0].matches[0].path.value"},
		{"regex backreference", match(regex(`/(a)\1`)), "spec.rules[0].matches[0].path.value"},
		{"regex with newline", match(regex("/a\n")), "spec.rules[0].matches[0].path.value"},
		{"header match name", match(withHeader(prefix("/"), "a b", "v")), "spec.rules[0].matches[0].headers[0].name"},
		{"header match value", match(withHeader(prefix("/"), "a", "v\r")), "spec.rules[0].matches[0].headers[0].value"},
		{"header match twice", match(withHeader(withHeader(prefix("/"), "a", "1"), "A", "2")), "spec.rules[0].matches[0].headers[1].name"},
		{"query match value", match(withQuery(prefix("/"), "a", "v\n")), "spec.rules[0].matches[0].queryParams[0].value"},
		{"method", match(withMethod(prefix("/"), "BREW")), "spec.rules[0].matches[0].method"},
		{"hostname", hostnames("bad host"), "spec.hostnames[0]"},
		{"hostname uppercase", hostnames("Example.com"), "spec.hostnames[0]"},
		{"rule name", rule(gatewayv1.HTTPRouteRule{Name: ptr(gatewayv1.SectionName("Bad Name"))}), "spec.rules[0].name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), tc.opt)}
			out := Translate(in)
			st := routeStatus(t, out, testNS, "r")
			acc := findCondition(t, st.Conditions, "Accepted")
			g := gatewayResult(t, out, testNS, "gw")
			if tc.wantField == "" {
				if acc.Status != metav1.ConditionTrue {
					t.Fatalf("Accepted = %s/%s: %s", acc.Status, acc.Reason, acc.Message)
				}
				return
			}
			if acc.Status != metav1.ConditionFalse || acc.Reason != "UnsupportedValue" {
				t.Fatalf("Accepted = %s/%s, want False/UnsupportedValue", acc.Status, acc.Reason)
			}
			if !strings.HasPrefix(acc.Message, tc.wantField+":") {
				t.Errorf("message %q does not name %s", acc.Message, tc.wantField)
			}
			if n := g.Status.Listeners[0].AttachedRoutes; n != 0 {
				t.Errorf("rejected route counted as attached (%d)", n)
			}
			for _, s := range g.Model.HTTPServers {
				if len(s.Locations) != 0 {
					t.Errorf("rejected route reached the model: %+v", s.Locations)
				}
			}
		})
	}
}
