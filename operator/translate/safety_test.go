package translate

import (
	"reflect"
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// walkStrings calls f for every string reachable from v (byte slices, such
// as PEM data, are skipped: they go to files, not into the config).
func walkStrings(v reflect.Value, path string, f func(path, s string)) {
	switch v.Kind() {
	case reflect.String:
		f(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, f)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkStrings(v.Field(i), path+"."+v.Type().Field(i).Name, f)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"[]", f)
		}
	}
}

// checkModelSafe fails when a model string holds a character that could end
// a directive or a header line.
func checkModelSafe(t *testing.T, m *model.Gateway) {
	t.Helper()
	if m == nil {
		return
	}
	walkStrings(reflect.ValueOf(m), "Gateway", func(path, s string) {
		for i := 0; i < len(s); i++ {
			if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
				t.Errorf("%s holds control character %q: %q", path, c, s)
				return
			}
		}
		if strings.HasSuffix(path, ".Path") && s != "" && !strings.HasPrefix(s, "/") {
			t.Errorf("%s = %q does not start with /", path, s)
		}
	})
}

// fuzzInput puts the fuzzed strings into every user-controlled field that
// reaches the model.
func fuzzInput(host, path, name, value string) Input {
	in := baseInput()
	in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners, httpListener(name, 8080, host))
	m := withQuery(withHeader(withMethod(pathMatch(gatewayv1.PathMatchExact, path), "GET"), name, value), name, value)
	re := withHeader(regex(value), name, value)
	re.Headers[0].Type = ptr(gatewayv1.HeaderMatchRegularExpression)
	mod := &gatewayv1.HTTPHeaderFilter{Set: []gatewayv1.HTTPHeader{{Name: gatewayv1.HTTPHeaderName(name), Value: value}}, Remove: []string{name}}
	in.HTTPRoutes = []*gatewayv1.HTTPRoute{
		route(testNS, "named", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{
			Name:        ptr(gatewayv1.SectionName(name)),
			BackendRefs: []gatewayv1.HTTPBackendRef{backend("", "svc", 80, nil)},
		})),
		route(testNS, "headers", parent("", "gw", ""), hostnames(host), rule(gatewayv1.HTTPRouteRule{
			Matches:     []gatewayv1.HTTPRouteMatch{m, re, prefix(path)},
			Filters:     []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: mod}},
			BackendRefs: []gatewayv1.HTTPBackendRef{backend("", "svc", 80, nil)},
		})),
		route(testNS, "redirect", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{
			Matches: []gatewayv1.HTTPRouteMatch{prefix(path)},
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
				Hostname: ptr(gatewayv1.PreciseHostname(host)),
				Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr(path)},
			}}},
		})),
		route(testNS, "cors", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterCORS, CORS: &gatewayv1.HTTPCORSFilter{
				AllowOrigins: []gatewayv1.CORSOrigin{gatewayv1.CORSOrigin(value)},
				AllowHeaders: []gatewayv1.HTTPHeaderName{gatewayv1.HTTPHeaderName(name)},
			}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{backend("", "svc", 80, nil)},
		})),
		route(testNS, "rewrite", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{
			Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
				Hostname: ptr(gatewayv1.PreciseHostname(host)),
				Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr(path)},
			}}},
			BackendRefs: []gatewayv1.HTTPBackendRef{backend("", "svc", 80, nil)},
		})),
	}
	return in
}

func FuzzBuildModelIsSafe(f *testing.F) {
	f.Add("a.example.com", "/a", "x-a", "v")
	f.Add("*.example.com", "/a b", "x a", "v\r\nSet-Cookie: a")
	f.Add("", "/\x00", "x\n", "(")
	f.Add("a..b", "//", "", "^/v[0-9]+$")
	f.Fuzz(func(t *testing.T, host, path, name, value string) {
		out := Translate(fuzzInput(host, path, name, value))
		for _, g := range out.Gateways {
			checkModelSafe(t, g.Model)
		}
	})
}

func TestSafeStringsReachTheModel(t *testing.T) {
	out := Translate(fuzzInput("a.example.com", "/ok", "x-ok", "https://o.example.com"))
	for _, name := range []string{"headers", "redirect", "cors", "rewrite"} {
		wantCondition(t, routeStatus(t, out, testNS, name).Conditions, "Accepted", "True", "Accepted")
	}
	g := gatewayResult(t, out, testNS, "gw")
	checkModelSafe(t, g.Model)
	if len(g.Model.HTTPServers) < 3 {
		t.Errorf("servers = %+v", g.Model.HTTPServers)
	}
}
