package translate

import (
	"reflect"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// buildRule builds one route with one rule (plus the given matches) and
// returns its status and the model rules of its candidates.
func buildRule(t *testing.T, r gatewayv1.HTTPRouteRule) (gatewayv1.RouteParentStatus, GatewayResult) {
	t.Helper()
	in := baseInput()
	in.Services = append(in.Services, service(testNS, "mirror"), service(testNS, "mirror2"))
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), rule(r))}
	out := Translate(in)
	return routeStatus(t, out, testNS, "r"), gatewayResult(t, out, testNS, "gw")
}

func svcBackends() []gatewayv1.HTTPBackendRef {
	return []gatewayv1.HTTPBackendRef{backend("", "svc", 80, nil)}
}

func TestHeaderModifierFilters(t *testing.T) {
	mod := &gatewayv1.HTTPHeaderFilter{
		Set:    []gatewayv1.HTTPHeader{{Name: "X-Set", Value: "a b$c"}},
		Add:    []gatewayv1.HTTPHeader{{Name: "X-Add", Value: "1"}},
		Remove: []string{"X-Gone"},
	}
	be := backend("", "svc", 80, nil)
	be.Filters = []gatewayv1.HTTPRouteFilter{
		{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: "X-Backend", Value: "1"}}}},
		{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Remove: []string{"Server"}}},
	}
	st, g := buildRule(t, gatewayv1.HTTPRouteRule{
		Filters: []gatewayv1.HTTPRouteFilter{
			{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: mod},
			{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: mod},
		},
		BackendRefs: []gatewayv1.HTTPBackendRef{be},
	})
	wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
	r := onlyRule(t, g)
	want := model.HeaderModifier{Set: []model.Header{{Name: "X-Set", Value: "a b$c"}}, Add: []model.Header{{Name: "X-Add", Value: "1"}}, Remove: []string{"X-Gone"}}
	if !reflect.DeepEqual(r.RequestHeaders, want) || !reflect.DeepEqual(r.ResponseHeaders, want) {
		t.Errorf("headers = %+v / %+v", r.RequestHeaders, r.ResponseHeaders)
	}
	b := r.Backends[0]
	if !reflect.DeepEqual(b.RequestHeaders, model.HeaderModifier{Set: []model.Header{{Name: "X-Backend", Value: "1"}}}) ||
		!reflect.DeepEqual(b.ResponseHeaders, model.HeaderModifier{Remove: []string{"Server"}}) {
		t.Errorf("backend headers = %+v", b)
	}
}

func TestRedirectFilter(t *testing.T) {
	redirect := func(f gatewayv1.HTTPRequestRedirectFilter) []gatewayv1.HTTPRouteFilter {
		return []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &f}}
	}
	port := func(p int32) *int32 { return &p }
	tests := []struct {
		name  string
		f     gatewayv1.HTTPRequestRedirectFilter
		want  *model.Redirect
		error string
	}{
		{"defaults", gatewayv1.HTTPRequestRedirectFilter{}, &model.Redirect{StatusCode: 302}, ""},
		{"https gets 443", gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https"), StatusCode: ptr(301)},
			&model.Redirect{Scheme: "https", Port: port(443), StatusCode: 301}, ""},
		{"http gets 80", gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("http")}, &model.Redirect{Scheme: "http", Port: port(80), StatusCode: 302}, ""},
		{"explicit port", gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("https"), Port: port(8443), Hostname: ptr(gatewayv1.PreciseHostname("x.example.com"))},
			&model.Redirect{Scheme: "https", Hostname: "x.example.com", Port: port(8443), StatusCode: 302}, ""},
		{"port only", gatewayv1.HTTPRequestRedirectFilter{Port: port(8080)}, &model.Redirect{Port: port(8080), StatusCode: 302}, ""},
		{"full path", gatewayv1.HTTPRequestRedirectFilter{StatusCode: ptr(308), Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr("/new")}},
			&model.Redirect{StatusCode: 308, Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: "/new"}}, ""},
		{"bad scheme", gatewayv1.HTTPRequestRedirectFilter{Scheme: ptr("ftp")}, nil, "spec.rules[0].filters[0].requestRedirect.scheme"},
		{"bad status", gatewayv1.HTTPRequestRedirectFilter{StatusCode: ptr(305)}, nil, "spec.rules[0].filters[0].requestRedirect.statusCode"},
		{"bad hostname", gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr(gatewayv1.PreciseHostname("a\r\nb"))}, nil, "spec.rules[0].filters[0].requestRedirect.hostname"},
		{"wildcard hostname", gatewayv1.HTTPRequestRedirectFilter{Hostname: ptr(gatewayv1.PreciseHostname("*.example.com"))}, nil, "spec.rules[0].filters[0].requestRedirect.hostname"},
		{"bad port", gatewayv1.HTTPRequestRedirectFilter{Port: port(70000)}, nil, "spec.rules[0].filters[0].requestRedirect.port"},
		{"bad path", gatewayv1.HTTPRequestRedirectFilter{Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr("/a\nb")}},
			nil, "spec.rules[0].filters[0].requestRedirect.path.replaceFullPath"},
		{"missing path value", gatewayv1.HTTPRequestRedirectFilter{Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier}},
			nil, "spec.rules[0].filters[0].requestRedirect.path.replacePrefixMatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, g := buildRule(t, gatewayv1.HTTPRouteRule{Filters: redirect(tc.f)})
			if tc.error != "" {
				acc := findCondition(t, st.Conditions, "Accepted")
				if acc.Reason != "UnsupportedValue" || !strings.HasPrefix(acc.Message, tc.error+":") {
					t.Errorf("Accepted = %s/%s %q, want UnsupportedValue naming %s", acc.Status, acc.Reason, acc.Message, tc.error)
				}
				return
			}
			r := onlyRule(t, g)
			if !reflect.DeepEqual(r.Redirect, tc.want) || r.Return != nil || r.Backends != nil {
				t.Errorf("redirect = %+v (return %+v backends %+v), want %+v", r.Redirect, r.Return, r.Backends, tc.want)
			}
		})
	}
}

func TestReplacePrefixMatchSplitsRules(t *testing.T) {
	rewrite := gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
		Hostname: ptr(gatewayv1.PreciseHostname("internal.example.com")),
		Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr("/v2")},
	}}
	st, g := buildRule(t, gatewayv1.HTTPRouteRule{
		Matches:     []gatewayv1.HTTPRouteMatch{prefix("/old/"), prefix("/legacy")},
		Filters:     []gatewayv1.HTTPRouteFilter{rewrite},
		BackendRefs: svcBackends(),
	})
	wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
	s := server(t, g.Model, 80, "")
	old := location(t, s, "/old", model.PathPrefix).Candidates[0].Rule
	legacy := location(t, s, "/legacy", model.PathPrefix).Candidates[0].Rule
	if old == legacy || old.ID == legacy.ID {
		t.Fatal("one rule for two prefixes")
	}
	if old.Rewrite.Path.MatchedPrefix != "/old" || legacy.Rewrite.Path.MatchedPrefix != "/legacy" ||
		old.Rewrite.Path.Value != "/v2" || old.Rewrite.Hostname != "internal.example.com" {
		t.Errorf("rewrites = %+v %+v", old.Rewrite.Path, legacy.Rewrite.Path)
	}
	if old.Route != legacy.Route {
		t.Errorf("route refs differ: %+v %+v", old.Route, legacy.Route)
	}

	st, _ = buildRule(t, gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{exact("/x")}, Filters: []gatewayv1.HTTPRouteFilter{rewrite}, BackendRefs: svcBackends()})
	wantCondition(t, st.Conditions, "Accepted", "False", "UnsupportedValue")
}

func TestIncompatibleAndUnsupportedFilters(t *testing.T) {
	redirect := gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{}}
	rewrite := gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{}}
	tests := []struct {
		name    string
		filters []gatewayv1.HTTPRouteFilter
		reason  string
	}{
		{"redirect and rewrite", []gatewayv1.HTTPRouteFilter{redirect, rewrite}, "IncompatibleFilters"},
		{"extensionRef", []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterExtensionRef, ExtensionRef: &gatewayv1.LocalObjectReference{Kind: "X", Name: "y"}}}, "UnsupportedValue"},
		{"externalAuth", []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterExternalAuth}}, "UnsupportedValue"},
		{"unknown type", []gatewayv1.HTTPRouteFilter{{Type: "Teleport"}}, "UnsupportedValue"},
		{"twice", []gatewayv1.HTTPRouteFilter{rewrite, rewrite}, "UnsupportedValue"},
		{"type without body", []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterCORS}}, "UnsupportedValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := buildRule(t, gatewayv1.HTTPRouteRule{Filters: tc.filters, BackendRefs: svcBackends()})
			wantCondition(t, st.Conditions, "Accepted", "False", tc.reason)
		})
	}
	be := backend("", "svc", 80, nil)
	be.Filters = []gatewayv1.HTTPRouteFilter{redirect}
	st, _ := buildRule(t, gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{be}})
	wantCondition(t, st.Conditions, "Accepted", "False", "UnsupportedValue")
}

func TestMirrorFilters(t *testing.T) {
	mirror := func(name string, percent *int32, fraction *gatewayv1.Fraction) gatewayv1.HTTPRouteFilter {
		return gatewayv1.HTTPRouteFilter{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{
			BackendRef: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(name), Port: ptr(int32(80))},
			Percent:    percent, Fraction: fraction,
		}}
	}
	st, g := buildRule(t, gatewayv1.HTTPRouteRule{
		Filters: []gatewayv1.HTTPRouteFilter{
			mirror("mirror", nil, nil),
			mirror("mirror2", ptr(int32(25)), nil),
			mirror("mirror", nil, &gatewayv1.Fraction{Numerator: 2, Denominator: ptr(int32(6))}),
			mirror("mirror2", ptr(int32(0)), nil),
			mirror("missing", nil, nil),
		},
		BackendRefs: svcBackends(),
	})
	wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
	wantCondition(t, st.Conditions, "ResolvedRefs", "False", "BackendNotFound")
	r := onlyRule(t, g)
	want := []model.Mirror{
		{Upstream: "default_mirror_80", Numerator: 1, Denominator: 1},
		{Upstream: "default_mirror2_80", Numerator: 1, Denominator: 4},
		{Upstream: "default_mirror_80", Numerator: 1, Denominator: 3},
	}
	if !reflect.DeepEqual(r.Mirrors, want) {
		t.Errorf("mirrors = %+v\nwant %+v", r.Mirrors, want)
	}
	if len(g.Model.Upstreams) != 3 {
		t.Errorf("upstreams = %+v", g.Model.Upstreams)
	}
	for _, bad := range []gatewayv1.HTTPRouteFilter{
		mirror("mirror", ptr(int32(101)), nil),
		mirror("mirror", nil, &gatewayv1.Fraction{Numerator: 3, Denominator: ptr(int32(2))}),
		mirror("mirror", nil, &gatewayv1.Fraction{Numerator: 1, Denominator: ptr(int32(0))}),
	} {
		st, _ := buildRule(t, gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{bad}, BackendRefs: svcBackends()})
		wantCondition(t, st.Conditions, "Accepted", "False", "UnsupportedValue")
	}
}

func TestCORSFilter(t *testing.T) {
	cors := func(c gatewayv1.HTTPCORSFilter) gatewayv1.HTTPRouteRule {
		return gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterCORS, CORS: &c}}, BackendRefs: svcBackends()}
	}
	st, g := buildRule(t, cors(gatewayv1.HTTPCORSFilter{
		AllowOrigins:     []gatewayv1.CORSOrigin{"https://app.example.com", "https://*.example.org:8443", "*"},
		AllowCredentials: ptr(true),
		AllowMethods:     []gatewayv1.HTTPMethodWithWildcard{"GET", "*"},
		AllowHeaders:     []gatewayv1.HTTPHeaderName{"X-Token"},
		ExposeHeaders:    []gatewayv1.HTTPHeaderName{"X-Trace"},
	}))
	wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
	want := &model.CORS{
		AllowOrigins: []string{"https://app.example.com", "https://*.example.org:8443", "*"}, AllowCredentials: true,
		AllowMethods: []string{"GET", "*"}, AllowHeaders: []string{"X-Token"}, ExposeHeaders: []string{"X-Trace"}, MaxAgeSeconds: 5,
	}
	if r := onlyRule(t, g); !reflect.DeepEqual(r.CORS, want) {
		t.Errorf("cors = %+v\nwant %+v", r.CORS, want)
	}
	for name, bad := range map[string]gatewayv1.HTTPCORSFilter{
		"origin with newline": {AllowOrigins: []gatewayv1.CORSOrigin{"https://a.example.com\r\nX: y"}},
		"origin with quote":   {AllowOrigins: []gatewayv1.CORSOrigin{`https://a"b`}},
		"origin with path":    {AllowOrigins: []gatewayv1.CORSOrigin{"https://a.example.com/x"}},
		"method":              {AllowMethods: []gatewayv1.HTTPMethodWithWildcard{"GET, POST"}},
		"header":              {AllowHeaders: []gatewayv1.HTTPHeaderName{"X Token"}},
		"expose header":       {ExposeHeaders: []gatewayv1.HTTPHeaderName{"X\x00"}},
		"negative max age":    {MaxAge: -1},
	} {
		st, _ := buildRule(t, cors(bad))
		if c := findCondition(t, st.Conditions, "Accepted"); c.Reason != "UnsupportedValue" || !strings.HasPrefix(c.Message, "spec.rules[0].filters[0].cors.") {
			t.Errorf("%s: Accepted = %s/%s %q", name, c.Status, c.Reason, c.Message)
		}
	}
}

func TestTimeouts(t *testing.T) {
	d := func(s string) *gatewayv1.Duration { v := gatewayv1.Duration(s); return &v }
	tests := []struct {
		name     string
		timeouts gatewayv1.HTTPRouteTimeouts
		want     model.Timeouts
		ok       bool
	}{
		{"both", gatewayv1.HTTPRouteTimeouts{Request: d("10s"), BackendRequest: d("1s500ms")}, model.Timeouts{RequestMillis: 10000, BackendRequestMillis: 1500}, true},
		{"request only", gatewayv1.HTTPRouteTimeouts{Request: d("1m")}, model.Timeouts{RequestMillis: 60000}, true},
		{"zero disables", gatewayv1.HTTPRouteTimeouts{Request: d("0s"), BackendRequest: d("5s")}, model.Timeouts{BackendRequestMillis: 5000}, true},
		{"backend longer than request", gatewayv1.HTTPRouteTimeouts{Request: d("1s"), BackendRequest: d("2s")}, model.Timeouts{}, false},
		{"not a duration", gatewayv1.HTTPRouteTimeouts{Request: d("1.5s")}, model.Timeouts{}, false},
		{"negative", gatewayv1.HTTPRouteTimeouts{Request: d("-1s")}, model.Timeouts{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			to := tc.timeouts
			st, g := buildRule(t, gatewayv1.HTTPRouteRule{Timeouts: &to, BackendRefs: svcBackends()})
			if !tc.ok {
				wantCondition(t, st.Conditions, "Accepted", "False", "UnsupportedValue")
				return
			}
			wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
			if r := onlyRule(t, g); r.Timeouts != tc.want {
				t.Errorf("timeouts = %+v, want %+v", r.Timeouts, tc.want)
			}
		})
	}
}

func TestRedirectReplacePrefixMatch(t *testing.T) {
	st, g := buildRule(t, gatewayv1.HTTPRouteRule{
		Matches: []gatewayv1.HTTPRouteMatch{prefix("/old")},
		Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
			Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr("")},
		}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{backend("", "missing", 80, nil)},
	})
	wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
	r := location(t, server(t, g.Model, 80, ""), "/old", model.PathPrefix).Candidates[0].Rule
	want := &model.Redirect{StatusCode: 302, Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "", MatchedPrefix: "/old"}}
	if !reflect.DeepEqual(r.Redirect, want) || r.Backends != nil {
		t.Errorf("redirect = %+v backends = %+v", r.Redirect, r.Backends)
	}
	if len(g.Model.Upstreams) != 0 {
		t.Errorf("a redirect rule's backends reached the upstreams: %+v", g.Model.Upstreams)
	}
}
