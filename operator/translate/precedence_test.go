package translate

import (
	"reflect"
	"testing"
	"time"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// defaultServer builds the input's routes and returns server 80 "".
func defaultServer(t *testing.T, routes ...gatewayv1.HTTPRoute) model.HTTPServer {
	t.Helper()
	in := baseInput()
	in.Gateways[0].Spec.Listeners[0] = allNamespaces(in.Gateways[0].Spec.Listeners[0])
	in.HTTPRoutes = routes
	g := gatewayResult(t, Translate(in), testNS, "gw")
	return server(t, g.Model, 80, "")
}

func TestPrecedenceWithinLocation(t *testing.T) {
	p := parent(testNS, "gw", "")
	tests := []struct {
		name   string
		routes []gatewayv1.HTTPRoute
		path   string
		kind   model.PathMatchKind
		want   []string
	}{
		{
			name: "exact before prefix",
			routes: []gatewayv1.HTTPRoute{
				route(testNS, "a", p, simpleRule("svc", prefix("/x"))),
				route(testNS, "b", p, simpleRule("svc", exact("/x/y"))),
			},
			path: "/x/y", kind: model.PathExact,
			want: []string{"default/b#0", "default/a#0"},
		},
		{
			name: "longest prefix first",
			routes: []gatewayv1.HTTPRoute{
				route(testNS, "a", p, simpleRule("svc", prefix("/"))),
				route(testNS, "b", p, simpleRule("svc", prefix("/x"))),
				route(testNS, "c", p, simpleRule("svc", prefix("/x/y"))),
			},
			path: "/x/y", kind: model.PathPrefix,
			want: []string{"default/c#0", "default/b#0", "default/a#0"},
		},
		{
			name: "method, then headers, then query params",
			routes: []gatewayv1.HTTPRoute{
				route(testNS, "a", p, simpleRule("svc", withQuery(withQuery(prefix("/x"), "q", "1"), "r", "2"))),
				route(testNS, "b", p, simpleRule("svc", withHeader(prefix("/x"), "h", "1"))),
				route(testNS, "c", p, simpleRule("svc", withHeader(withHeader(prefix("/x"), "h", "1"), "i", "2"))),
				route(testNS, "d", p, simpleRule("svc", withMethod(prefix("/x"), "GET"))),
				route(testNS, "e", p, simpleRule("svc", prefix("/x"))),
			},
			path: "/x", kind: model.PathPrefix,
			want: []string{"default/d#0", "default/c#0", "default/b#0", "default/a#0", "default/e#0"},
		},
		{
			name: "oldest route, then namespace/name",
			routes: []gatewayv1.HTTPRoute{
				route(testNS, "a", p, created(t0.Add(time.Hour)), simpleRule("svc", prefix("/x"))),
				route(testNS, "b", p, created(t0), simpleRule("svc", prefix("/x"))),
				route("apps", "z", p, created(t0.Add(time.Hour)), simpleRule("svc", prefix("/x"))),
			},
			path: "/x", kind: model.PathPrefix,
			want: []string{"default/b#0", "apps/z#0", "default/a#0"},
		},
		{
			name: "rule order, then match order",
			routes: []gatewayv1.HTTPRoute{
				route(testNS, "a", p,
					simpleRule("svc", prefix("/x")),
					simpleRule("svc", prefix("/x"), withHeader(prefix("/x"), "h", "v"))),
			},
			path: "/x", kind: model.PathPrefix,
			want: []string{"default/a#1", "default/a#0", "default/a#1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := defaultServer(t, tc.routes...)
			if got := candidateRoutes(location(t, s, tc.path, tc.kind)); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("candidates = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLocationsInheritCandidates(t *testing.T) {
	p := parent(testNS, "gw", "")
	s := defaultServer(t,
		route(testNS, "root", p, simpleRule("svc", prefix("/"))),
		route(testNS, "foo", p, simpleRule("svc", withHeader(prefix("/foo/"), "h", "v"))),
		route(testNS, "bar", p, simpleRule("svc", exact("/foo/bar"))),
		route(testNS, "foobar", p, simpleRule("svc", prefix("/foobar"))),
	)
	var got []string
	for _, l := range s.Locations {
		got = append(got, string(l.Match)+" "+l.Path)
	}
	if want := []string{"PathPrefix /", "PathPrefix /foo", "Exact /foo/bar", "PathPrefix /foobar"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("locations = %v, want %v", got, want)
	}
	for _, tc := range []struct {
		path string
		kind model.PathMatchKind
		want []string
	}{
		{"/", model.PathPrefix, []string{"default/root#0"}},
		{"/foo", model.PathPrefix, []string{"default/foo#0", "default/root#0"}},
		{"/foo/bar", model.PathExact, []string{"default/bar#0", "default/foo#0", "default/root#0"}},
		// "/foo" does not cover "/foobar": element-wise prefixes.
		{"/foobar", model.PathPrefix, []string{"default/foobar#0", "default/root#0"}},
	} {
		if got := candidateRoutes(location(t, s, tc.path, tc.kind)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s candidates = %v, want %v", tc.kind, tc.path, got, tc.want)
		}
	}
	// A candidate without conditions is unconditional; the header one has one.
	l := location(t, s, "/foo/bar", model.PathExact)
	if len(l.Candidates[0].Conditions) != 0 || len(l.Candidates[1].Conditions) != 1 || l.Candidates[1].Conditions[0] != (model.Condition{Kind: model.ConditionHeader, Name: "h", Value: "v"}) {
		t.Errorf("conditions = %+v", l.Candidates)
	}
}

func TestExactAndPrefixOnSamePath(t *testing.T) {
	p := parent(testNS, "gw", "")
	s := defaultServer(t,
		route(testNS, "p", p, simpleRule("svc", prefix("/a"))),
		route(testNS, "e", p, simpleRule("svc", exact("/a"))),
	)
	if len(s.Locations) != 1 {
		t.Fatalf("locations = %+v, want one prefix location", s.Locations)
	}
	l := location(t, s, "/a", model.PathPrefix)
	if got := candidateRoutes(l); !reflect.DeepEqual(got, []string{"default/e#0", "default/p#0"}) {
		t.Fatalf("candidates = %v", got)
	}
	want := []model.Condition{{Kind: model.ConditionPathRegex, Value: "^/a$", Regex: true}}
	if !reflect.DeepEqual(l.Candidates[0].Conditions, want) {
		t.Errorf("exact candidate conditions = %+v, want %+v", l.Candidates[0].Conditions, want)
	}
}

func TestRegexCandidatesEverywhere(t *testing.T) {
	p := parent(testNS, "gw", "")
	s := defaultServer(t,
		route(testNS, "re", p, simpleRule("svc", withHeader(regex(`^/v[0-9]+/.*`), "h", "1"))),
		route(testNS, "x", p, simpleRule("svc", prefix("/x"))),
		route(testNS, "e", p, simpleRule("svc", exact("/x/e"))),
	)
	for _, tc := range []struct {
		path string
		kind model.PathMatchKind
		want []string
	}{
		{"/", model.PathPrefix, []string{"default/re#0"}},
		{"/x", model.PathPrefix, []string{"default/re#0", "default/x#0"}},
		{"/x/e", model.PathExact, []string{"default/e#0", "default/re#0", "default/x#0"}},
	} {
		l := location(t, s, tc.path, tc.kind)
		if got := candidateRoutes(l); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s candidates = %v, want %v", tc.path, got, tc.want)
		}
		for _, c := range l.Candidates {
			if c.Rule.Route.Name == "re" {
				want := []model.Condition{
					{Kind: model.ConditionPathRegex, Value: `^/v[0-9]+/.*`, Regex: true},
					{Kind: model.ConditionHeader, Name: "h", Value: "1"},
				}
				if !reflect.DeepEqual(c.Conditions, want) {
					t.Errorf("regex candidate conditions = %+v", c.Conditions)
				}
			}
		}
	}
}

func TestHostnamePrecedenceAcrossRoutes(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = []gatewayv1.HTTPRoute{
		route(testNS, "wild", parent("", "gw", ""), hostnames("*.example.com"), simpleRule("svc", exact("/login"))),
		route(testNS, "exact", parent("", "gw", ""), hostnames("a.example.com"), simpleRule("svc", prefix("/"))),
	}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	s := server(t, g.Model, 80, "a.example.com")
	// The route with the more specific hostname wins even over an exact path.
	if got := candidateRoutes(location(t, s, "/login", model.PathExact)); !reflect.DeepEqual(got, []string{"default/exact#0", "default/wild#0"}) {
		t.Errorf("candidates = %v", got)
	}
	w := server(t, g.Model, 80, "*.example.com")
	if got := candidateRoutes(location(t, w, "/login", model.PathExact)); !reflect.DeepEqual(got, []string{"default/wild#0"}) {
		t.Errorf("wildcard server candidates = %v", got)
	}
}

func TestRuleIDsAndSharing(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = []gatewayv1.HTTPRoute{
		route(testNS, "b", parent("", "gw", ""), simpleRule("svc", prefix("/b1"), prefix("/b2"))),
		route(testNS, "a", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{Name: ptr(gatewayv1.SectionName("first"))}), simpleRule("svc", prefix("/a"))),
	}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	s := server(t, g.Model, 80, "")
	ids := map[string]model.RouteRef{}
	for _, l := range s.Locations {
		for _, c := range l.Candidates {
			ids[c.Rule.ID] = c.Rule.Route
		}
	}
	want := map[string]model.RouteRef{
		"r0": {Kind: "HTTPRoute", Namespace: testNS, Name: "a", RuleIndex: 0, RuleName: "first"},
		"r1": {Kind: "HTTPRoute", Namespace: testNS, Name: "a", RuleIndex: 1},
		"r2": {Kind: "HTTPRoute", Namespace: testNS, Name: "b", RuleIndex: 0},
	}
	if !reflect.DeepEqual(ids, want) {
		t.Errorf("rules = %+v\nwant %+v", ids, want)
	}
	b1 := location(t, s, "/b1", model.PathPrefix).Candidates[0].Rule
	b2 := location(t, s, "/b2", model.PathPrefix).Candidates[0].Rule
	if b1 != b2 {
		t.Error("two matches of one rule do not share the model rule")
	}
}
