package explain

import (
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

func TestNormalizeTarget(t *testing.T) {
	for _, tc := range []struct{ target, uri, args, bad string }{
		{"/", "/", "", ""},
		{"/a//b///c", "/a/b/c", "", ""},
		{"/a/./b/../c?x=1&y", "/a/c", "x=1&y", ""},
		{"/a/b/..", "/a/", "", ""},
		{"/a/.", "/a/", "", ""},
		{"/caf%C3%A9%20x", "/café x", "", ""},
		{"/a%2Fb", "/a/b", "", ""},
		{"/%2e%2e/x", "", "", "climbs above /"},
		{"/..", "", "", "climbs above /"},
		{"/bad%zz", "", "", "bad percent-escape"},
		{"x", "", "", "does not start with /"},
	} {
		uri, args, bad := normalizeTarget(tc.target)
		if uri != tc.uri || args != tc.args || !strings.Contains(bad, tc.bad) || (tc.bad == "") != (bad == "") {
			t.Errorf("%q: %q %q %q, want %q %q %q", tc.target, uri, args, bad, tc.uri, tc.args, tc.bad)
		}
	}
}

func TestHostName(t *testing.T) {
	for raw, want := range map[string]string{
		"Example.COM": "example.com", "example.com:8080": "example.com", "example.com.": "example.com",
		"[::1]:80": "[::1]", "a..b": "", "/x": "",
	} {
		if got, _ := hostName(raw); got != want {
			t.Errorf("%q: %q, want %q", raw, got, want)
		}
	}
}

func TestNewRequest(t *testing.T) {
	for _, tc := range []struct {
		url         string
		headers     []Header
		port        int32
		host, sni   string
		target      string
		errContains string
	}{
		{url: "http://example.com", port: 80, host: "example.com", target: "/"},
		{url: "http://example.com:8080/a?b#frag", port: 8080, host: "example.com:8080", target: "/a?b"},
		{url: "https://secure.example.com/x", port: 443, host: "secure.example.com", sni: "secure.example.com", target: "/x"},
		{url: "https://10.0.0.1:8443/", port: 8443, host: "10.0.0.1:8443", target: "/"},
		{url: "http://10.0.0.1/", headers: []Header{{"host", "shop.example.com"}}, port: 80, host: "shop.example.com", target: "/"},
		{url: "ftp://x/", errContains: "want http://"},
		{url: "http://x:0/", errContains: "bad port"},
		{url: "http://u@x/", errContains: "user information"},
	} {
		req, err := NewRequest("", tc.url, tc.headers)
		if tc.errContains != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("%s: error %v, want %q", tc.url, err, tc.errContains)
			}
			continue
		}
		host, _ := req.headerValue("Host")
		if err != nil || req.Port != tc.port || host != tc.host || req.SNI != tc.sni || req.Target != tc.target || req.Method != "GET" {
			t.Errorf("%s: %+v %v", tc.url, req, err)
		}
	}
}

// tlsGateway has an HTTPS port with a certificate for secure.example.com
// only (the default server rejects handshakes) and a plain HTTP port.
func tlsGateway() *model.Gateway {
	rule := &model.Rule{ID: "r1", Route: model.RouteRef{Kind: "HTTPRoute", Namespace: "ns", Name: "secure"},
		Backends: []model.Backend{{Upstream: "u", Weight: 1}}}
	cors := &model.Rule{ID: "r2", Route: model.RouteRef{Kind: "HTTPRoute", Namespace: "ns", Name: "cors", RuleIndex: 1},
		CORS: &model.CORS{AllowOrigins: []string{"*"}}, Backends: []model.Backend{{Weight: 1, Invalid: true}},
		Rewrite: &model.Rewrite{Hostname: "internal", Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/v2", MatchedPrefix: "/api"}}}
	return &model.Gateway{
		HTTPServers: []model.HTTPServer{
			{Port: 80, Default: true, Locations: []model.Location{{Path: "/api", Match: model.PathPrefix, Candidates: []model.Candidate{{Rule: cors}}}}},
			{Port: 443, Default: true},
			{Port: 443, Hostname: "*.shop.example.com", TLS: &model.ServerTLS{CertificateNames: []string{"c"}}, Listeners: []string{"wildcard"}},
			{Port: 443, Hostname: "secure.example.com", TLS: &model.ServerTLS{CertificateNames: []string{"c"}}, Listeners: []string{"https"},
				Locations: []model.Location{{Path: "/", Match: model.PathPrefix, Candidates: []model.Candidate{{Rule: rule}}}}},
		},
		Upstreams: []model.Upstream{{Name: "u", ServiceNamespace: "ns", ServiceName: "svc", ServicePort: 80}},
	}
}

func explainURL(t *testing.T, method, url string, headers ...Header) Result {
	t.Helper()
	req, err := NewRequest(method, url, headers)
	if err != nil {
		t.Fatal(err)
	}
	return Explain(tlsGateway(), Endpoints{"u": {{Address: "10.0.0.1", Port: 8080}}}, req)
}

func TestTLSAndPorts(t *testing.T) {
	for _, tc := range []struct {
		url     string
		headers []Header
		outcome string
		route   string
	}{
		{url: "https://secure.example.com/x", outcome: OutcomeProxied, route: "ns/secure"},
		{url: "https://other.example.com/x", outcome: OutcomeTLSRefused},
		{url: "https://10.0.0.1/x", outcome: OutcomeTLSRefused}, // no SNI: the default server
		// The handshake by SNI, the request by Host, as nginx does.
		{url: "https://secure.example.com/x", headers: []Header{{"Host", "other.example.com"}}, outcome: OutcomeNotFound},
		// A Host of another listener than the SNI's: 421.
		{url: "https://secure.example.com/x", headers: []Header{{"Host", "www.shop.example.com"}}, outcome: OutcomeMisdirected},
		{url: "https://www.shop.example.com/x", headers: []Header{{"Host", "secure.example.com"}}, outcome: OutcomeMisdirected},
		{url: "https://www.shop.example.com/x", outcome: OutcomeNotFound},
		{url: "http://secure.example.com:443/x", outcome: OutcomeBadRequest},
		{url: "https://secure.example.com:80/x", outcome: OutcomeTLSRefused},
		{url: "http://secure.example.com:8080/x", outcome: OutcomeNoServer},
	} {
		res := explainURL(t, "GET", tc.url, tc.headers...)
		route := ""
		if res.Selected != nil {
			route = res.Selected.Route
		}
		if res.Response.Outcome != tc.outcome || route != tc.route {
			t.Errorf("%s %v: %s (%s) route %q, want %s route %q", tc.url, tc.headers, res.Response.Outcome, res.Response.Why, route, tc.outcome, tc.route)
		}
	}
}

func TestRuleActions(t *testing.T) {
	preflight := explainURL(t, "OPTIONS", "http://x/api/a", Header{"Origin", "https://app"}, Header{"Access-Control-Request-Method", "PUT"})
	if preflight.Response.Outcome != OutcomeCORSPreflight || preflight.Response.Status != 204 {
		t.Errorf("preflight: %+v", preflight.Response)
	}
	res := explainURL(t, "GET", "http://x/api/a/b?q=1")
	if res.Response.Status != 500 || res.Response.AccessLog.Backend != "invalid" {
		t.Errorf("invalid backend: %+v", res.Response)
	}
	filters := strings.Join(res.Response.Filters, "\n")
	for _, want := range []string{"rewrite Host to internal", "rewrite path /api/a/b to /v2/a/b", "CORS for origins *"} {
		if !strings.Contains(filters, want) {
			t.Errorf("filters lack %q:\n%s", want, filters)
		}
	}
	if res := explainURL(t, "GET", "http://x/api"); !strings.Contains(strings.Join(res.Response.Filters, "\n"), "rewrite path /api to /v2") {
		t.Errorf("prefix equal to the path: %v", res.Response.Filters)
	}
}

func TestBasisPoints(t *testing.T) {
	got := basisPoints([]int64{1, 1, 1})
	if got[0]+got[1]+got[2] != 10000 || got[0] != 3333 {
		t.Errorf("%v", got)
	}
}

// TestGRPCAnswers: a GRPCRoute's rule that nginx cannot pass on gets a
// gRPC status, not an HTTP error.
func TestGRPCAnswers(t *testing.T) {
	m := &model.Gateway{
		HTTPServers: []model.HTTPServer{{Port: 80, Default: true, Locations: []model.Location{{Path: "/", Match: model.PathPrefix, Candidates: []model.Candidate{{
			Rule: &model.Rule{ID: "g", GRPC: true, Route: model.RouteRef{Kind: "GRPCRoute", Namespace: "ns", Name: "grpc"},
				Backends: []model.Backend{{Upstream: "empty", Weight: 1}}},
		}}}}}},
		Upstreams: []model.Upstream{{Name: "empty", ServiceNamespace: "ns", ServiceName: "svc", ServicePort: 9000}},
	}
	req, err := NewRequest("POST", "http://grpc.example.com/pkg.Service/Method", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := Explain(m, Endpoints{"empty": {}}, req)
	if res.Response.Status != 200 || res.Response.Outcome != OutcomeGRPCStatus || !strings.Contains(res.Response.Why, "no endpoints for this method") ||
		res.Response.AccessLog.Backend != "empty" {
		t.Errorf("%+v", res.Response)
	}
}
