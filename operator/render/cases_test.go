package render

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Hand-built models for the golden, determinism and traffic tests.

func int32p(n int32) *int32 { return &n }

func testSettings() model.Settings {
	return model.Settings{WorkerConnections: 512, AccessLogFormat: "json", WorkerShutdownTimeoutSeconds: 10}
}

func route(name string, index int) model.RouteRef {
	return model.RouteRef{Kind: "HTTPRoute", Namespace: "default", Name: name, RuleIndex: index}
}

func upstream(name string) model.Upstream {
	return model.Upstream{Name: name, ServiceNamespace: "default", ServiceName: name, ServicePort: 80,
		Protocol: model.ProtocolHTTP1}
}

func backend(up string, weight int32) model.Backend {
	return model.Backend{Upstream: up, Weight: weight}
}

// proxyRule is a rule that proxies everything to one upstream.
func proxyRule(id, routeName string, up string) *model.Rule {
	return &model.Rule{ID: id, Route: route(routeName, 0), Backends: []model.Backend{backend(up, 1)}}
}

func prefix(path string, cands ...model.Candidate) model.Location {
	return model.Location{Path: path, Match: model.PathPrefix, Candidates: cands}
}

func exact(path string, cands ...model.Candidate) model.Location {
	return model.Location{Path: path, Match: model.PathExact, Candidates: cands}
}

func always(rule *model.Rule) model.Candidate { return model.Candidate{Rule: rule} }

func when(rule *model.Rule, conds ...model.Condition) model.Candidate {
	return model.Candidate{Rule: rule, Conditions: conds}
}

func header(name, value string) model.Condition {
	return model.Condition{Kind: model.ConditionHeader, Name: name, Value: value}
}

func headerRegex(name, value string) model.Condition {
	return model.Condition{Kind: model.ConditionHeader, Name: name, Value: value, Regex: true}
}

func query(name, value string) model.Condition {
	return model.Condition{Kind: model.ConditionQueryParam, Name: name, Value: value}
}

func method(m string) model.Condition { return model.Condition{Kind: model.ConditionMethod, Value: m} }

func pathRegex(re string) model.Condition {
	return model.Condition{Kind: model.ConditionPathRegex, Value: re, Regex: true}
}

// gateway is a one-port HTTP gateway: a default server plus one server per
// hostname with the given locations.
func gateway(port int32, servers map[string][]model.Location, ups ...model.Upstream) *model.Gateway {
	gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(), Upstreams: ups}
	gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{Port: port, Default: true, Listeners: []string{"http"}})
	for _, host := range slices.Sorted(maps.Keys(servers)) {
		gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{Port: port, Hostname: host, Locations: servers[host], Listeners: []string{"http"}})
	}
	return gw
}

func testCert(t testing.TB) model.Certificate {
	t.Helper()
	crt, err := os.ReadFile(filepath.Join("testdata", "certs", "example.crt"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join("testdata", "certs", "example.key"))
	if err != nil {
		t.Fatal(err)
	}
	return model.Certificate{Name: "default_example", CertPEM: crt, KeyPEM: key}
}

// hostile holds strings that try to break out of their place in nginx config.
var hostile = []string{
	`a"; return 200 "pwned`,
	`x } server { listen 81; }`,
	`$host ${ngo_dollar} $1 \$ \\" ' ;`,
	"tab\there # not a comment",
	`\"\\\"`,
	`{{ .Name }} {{`,
}

type testCase struct {
	name string
	gw   func(t testing.TB) *model.Gateway
}

func goldenCases() []testCase {
	up1 := upstream("default_echo_80")
	up2 := upstream("default_echo2_80")
	empty := upstream("default_empty_80")
	return []testCase{
		{"minimal-http", func(testing.TB) *model.Gateway {
			return gateway(80, map[string][]model.Location{
				"example.com": {prefix("/", always(proxyRule("r0", "web", up1.Name)))},
			}, up1)
		}},
		{"shared-port", sharedPortGateway},
		{"misdirected", func(t testing.TB) *model.Gateway {
			c := testCert(t)
			return misdirectedGateway(t, 443, c.CertPEM, c.KeyPEM, nil)
		}},
		{"stream", func(t testing.TB) *model.Gateway { return streamGateway(t, "json") }},
		{"stream-text-log", func(t testing.TB) *model.Gateway { return streamGateway(t, "text") }},
		{"stream-only", func(t testing.TB) *model.Gateway {
			gw := streamGateway(t, "json")
			gw.HTTPServers, gw.Upstreams = nil, nil
			return gw
		}},
		{"no-routes", func(testing.TB) *model.Gateway {
			gw := gateway(8080, nil)
			gw.Settings = model.Settings{}
			return gw
		}},
		{"https", func(t testing.TB) *model.Gateway {
			gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(),
				Upstreams: []model.Upstream{up1}, Certificates: []model.Certificate{testCert(t)}}
			tls := &model.ServerTLS{CertificateNames: []string{"default_example"}}
			gw.HTTPServers = []model.HTTPServer{
				{Port: 80, Default: true, Locations: []model.Location{prefix("/", always(&model.Rule{ID: "r1", Route: route("to-https", 0),
					Redirect: &model.Redirect{Scheme: "https", StatusCode: 301}}))}},
				{Port: 443, Default: true, TLS: &model.ServerTLS{}},
				{Port: 443, Hostname: "*.example.com", TLS: tls, Locations: []model.Location{prefix("/", always(proxyRule("r0", "web", up1.Name)))}},
				{Port: 443, Hostname: "example.com", TLS: tls, Locations: []model.Location{prefix("/", always(proxyRule("r0", "web", up1.Name)))}},
			}
			return gw
		}},
		{"conditions", func(testing.TB) *model.Gateway {
			a, b, c, d := proxyRule("r0", "a", up1.Name), proxyRule("r1", "b", up2.Name), proxyRule("r2", "c", up1.Name), proxyRule("r3", "d", up2.Name)
			return gateway(80, map[string][]model.Location{
				"example.com": {
					exact("/exact", always(a)),
					prefix("/api",
						when(b, header("x-version", "v2"), method("GET")),
						when(c, query("Mode", "fast")),
						when(d, headerRegex("user-agent", `(?i)curl/.*`)),
						when(a, pathRegex(`/api/v[0-9]+/.*`)),
						when(b, header("x_underscore", "dropped-by-nginx"))),
					prefix("/", when(a, method("POST")), always(c)),
				},
			}, up1, up2)
		}},
		{"weighted", func(testing.TB) *model.Gateway {
			rule := &model.Rule{ID: "r0", Route: route("split", 0), Backends: []model.Backend{
				backend(up1.Name, 50), backend(up2.Name, 30),
				{Weight: 10, Invalid: true},
				backend(empty.Name, 10),
				backend(up2.Name, 0),
			}}
			rule.Backends[1].RequestHeaders.Set = []model.Header{{Name: "X-Backend", Value: "two"}}
			rule.Backends[1].ResponseHeaders.Add = []model.Header{{Name: "X-Served-By", Value: "two"}}
			allInvalid := &model.Rule{ID: "r1", Route: route("broken", 0), Backends: []model.Backend{{Weight: 1, Invalid: true}}}
			noEndpoints := &model.Rule{ID: "r2", Route: route("empty", 0), Backends: []model.Backend{backend(empty.Name, 1)}}
			zero := &model.Rule{ID: "r3", Route: route("zero", 0), Backends: []model.Backend{backend(up1.Name, 0)}}
			return gateway(80, map[string][]model.Location{"example.com": {
				prefix("/", always(rule)), prefix("/invalid", always(allInvalid)),
				prefix("/empty", always(noEndpoints)), prefix("/zero", always(zero)),
			}}, up2, up1, empty)
		}},
		{"filters", func(testing.TB) *model.Gateway {
			hdr := &model.Rule{ID: "r0", Route: route("headers", 0), Backends: []model.Backend{backend(up1.Name, 1)},
				RequestHeaders: model.HeaderModifier{
					Set:    []model.Header{{Name: "X-Set", Value: "set-value"}, {Name: "Host", Value: "override.example"}},
					Add:    []model.Header{{Name: "X-Add", Value: "added"}, {Name: "X-Set", Value: "more"}, {Name: "X.Odd", Value: "v"}},
					Remove: []string{"X-Remove"},
				},
				ResponseHeaders: model.HeaderModifier{
					Set:    []model.Header{{Name: "X-Resp-Set", Value: "s"}},
					Add:    []model.Header{{Name: "X-Resp-Add", Value: "a"}},
					Remove: []string{"X-Resp-Remove"},
				},
				Timeouts: model.Timeouts{RequestMillis: 5000, BackendRequestMillis: 2000},
			}
			redirects := []*model.Rule{
				{ID: "r1", Route: route("redirect", 0), Redirect: &model.Redirect{Hostname: "other.example", Port: int32p(8443), Scheme: "https", StatusCode: 302,
					Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: "/new path"}}},
				{ID: "r2", Route: route("redirect", 1), Redirect: &model.Redirect{StatusCode: 301,
					Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/new", MatchedPrefix: "/old"}}},
				{ID: "r3", Route: route("redirect", 2), Redirect: &model.Redirect{Scheme: "http", StatusCode: 302}},
			}
			rewrites := []*model.Rule{
				{ID: "r4", Route: route("rewrite", 0), Backends: []model.Backend{backend(up1.Name, 1)},
					Rewrite: &model.Rewrite{Hostname: "rewritten.example", Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: "/full"}}},
				{ID: "r5", Route: route("rewrite", 1), Backends: []model.Backend{backend(up1.Name, 1)},
					Rewrite: &model.Rewrite{Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/", MatchedPrefix: "/strip"}}},
			}
			ret := &model.Rule{ID: "r6", Route: route("fixed", 0), Return: &model.Return{StatusCode: 500}}
			return gateway(8080, map[string][]model.Location{"example.com": {
				prefix("/headers", always(hdr)),
				exact("/redirect-full", always(redirects[0])),
				prefix("/old", always(redirects[1])),
				prefix("/plain", when(redirects[2], header("x-redirect", "yes")), always(hdr)),
				prefix("/rewrite-full", always(rewrites[0])),
				prefix("/strip", always(rewrites[1])),
				prefix("/fixed", always(ret)),
			}}, up1)
		}},
		{"cors-mirror", func(testing.TB) *model.Gateway {
			cors := &model.Rule{ID: "r0", Route: route("cors", 0), Backends: []model.Backend{backend(up1.Name, 1)},
				CORS: &model.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org"}, AllowCredentials: true,
					AllowMethods: []string{"GET", "POST"}, AllowHeaders: []string{"*"}, ExposeHeaders: []string{"X-Total"}, MaxAgeSeconds: 600}}
			anyOrigin := &model.Rule{ID: "r1", Route: route("cors", 1), Backends: []model.Backend{backend(up1.Name, 1)},
				CORS: &model.CORS{AllowOrigins: []string{"*"}, AllowMethods: []string{"*"}}}
			mirror := &model.Rule{ID: "r2", Route: route("mirror", 0), Backends: []model.Backend{backend(up1.Name, 1)},
				Mirrors: []model.Mirror{{Upstream: up2.Name}, {Upstream: up2.Name, Numerator: 1, Denominator: 4}, {Upstream: empty.Name}}}
			return gateway(80, map[string][]model.Location{"example.com": {
				prefix("/cors", always(cors)), prefix("/any", always(anyOrigin)), prefix("/mirror", always(mirror)),
			}}, up2, up1, empty)
		}},
		{"access-log-text", func(testing.TB) *model.Gateway {
			gw := gateway(80, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "web", up1.Name)))}}, up1)
			gw.Settings.AccessLogFormat = "text"
			return gw
		}},
		{"access-log-off", func(testing.TB) *model.Gateway {
			gw := gateway(80, nil)
			gw.Settings.AccessLogFormat = "off"
			return gw
		}},
		{"websocket-h2c", func(testing.TB) *model.Gateway {
			ws := upstream("default_ws_8082")
			ws.Protocol = model.ProtocolWebSocket
			h2c := upstream("default_h2c_8081")
			h2c.Protocol = model.ProtocolH2C
			return gateway(80, map[string][]model.Location{"example.com": {
				prefix("/ws", always(proxyRule("r0", "ws", ws.Name))), prefix("/h2c", always(proxyRule("r1", "h2c", h2c.Name))),
			}}, h2c, ws)
		}},
		{"grpc", func(testing.TB) *model.Gateway {
			return grpcGateway(80, (&grpcEchoBackend{name: "a", port: 18085}).upstream(), (&grpcEchoBackend{name: "b", port: 18086}).upstream())
		}},
		{"hostile", func(testing.TB) *model.Gateway {
			return hostileGateway(hostile, up1)
		}},
		{"backend-tls", backendTLSGateway},
		{"client-validation", clientValidationGateway},
		{"retry", retryGateway},
	}
}

// hostileGateway puts each string into every place of the model that takes
// free text.
func hostileGateway(values []string, up model.Upstream) *model.Gateway {
	var locs []model.Location
	for i, v := range values {
		rule := &model.Rule{ID: "r" + string(rune('a'+i)), Route: model.RouteRef{Kind: "HTTPRoute", Namespace: v, Name: v, RuleName: v},
			Backends: []model.Backend{backend(up.Name, 1)},
			RequestHeaders: model.HeaderModifier{
				Set: []model.Header{{Name: "X-Set", Value: v}},
				Add: []model.Header{{Name: "X-Add", Value: v}},
			},
			ResponseHeaders: model.HeaderModifier{Set: []model.Header{{Name: "X-Resp", Value: v}}, Add: []model.Header{{Name: "X-Resp-Add", Value: v}}},
			Rewrite:         &model.Rewrite{Hostname: v, Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/" + v, MatchedPrefix: "/p" + string(rune('a'+i))}},
			CORS:            &model.CORS{AllowOrigins: []string{v, "https://*." + v}, AllowMethods: []string{v}, AllowHeaders: []string{v}, ExposeHeaders: []string{v}},
		}
		redirect := &model.Rule{ID: "d" + string(rune('a'+i)), Route: rule.Route,
			Redirect: &model.Redirect{Hostname: v, Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: "/" + v}}}
		redirectPrefix := &model.Rule{ID: "e" + string(rune('a'+i)), Route: rule.Route,
			Redirect: &model.Redirect{Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/" + v, MatchedPrefix: "/q" + string(rune('a'+i))}}}
		full := &model.Rule{ID: "f" + string(rune('a'+i)), Route: rule.Route, Backends: []model.Backend{backend(up.Name, 1)},
			Rewrite: &model.Rewrite{Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: v}}}
		locs = append(locs,
			prefix("/p"+string(rune('a'+i)),
				when(redirect, header("x-h", v), query(v, v)),
				when(redirectPrefix, headerRegex("x-r", regexpQuote(v)), method(v)),
				when(full, pathRegex(regexpQuote(v))),
				always(rule)),
			prefix("/q"+string(rune('a'+i)), always(redirectPrefix)),
		)
	}
	gw := gateway(80, map[string][]model.Location{"example.com": locs}, up)
	gw.Namespace, gw.Name = values[0], values[len(values)-1]
	gw.HTTPServers[0].Listeners = values
	return gw
}

func streamRoute(kind, name string) model.RouteRef {
	return model.RouteRef{Kind: kind, Namespace: "default", Name: name}
}

// streamGateway has a TCP server with weighted backends (one without
// endpoints, one invalid), a UDP server on the same port number, a TLS
// passthrough server routing by server name (exact, wildcard, a listener
// hostname without route), a TLS server terminating with a certificate per
// name, one passing some names through and terminating others, and an
// HTTP server beside them.
func streamGateway(t testing.TB, accessLog string) *model.Gateway {
	echo := upstream("default_echo_3000")
	dns := upstream("default_dns_53_udp")
	tlsUp := upstream("default_tls_443")
	empty := upstream("default_empty_3000")
	http := upstream("default_web_80")
	gw := gateway(80, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "web", http.Name)))}}, http)
	s := testSettings()
	s.AccessLogFormat = accessLog
	gw.Settings = s
	gw.StreamUpstreams = []model.Upstream{dns, echo, empty, tlsUp}
	a := testCert(t)
	// HTTPS listeners on the mixed TLS port: their servers listen behind
	// the stream server.
	gw.HTTPServers = append(gw.HTTPServers,
		model.HTTPServer{Port: 9443, Default: true, TLS: &model.ServerTLS{}},
		model.HTTPServer{Port: 9443, Hostname: "www.example.com", TLS: &model.ServerTLS{CertificateNames: []string{a.Name}},
			Locations: []model.Location{prefix("/", always(proxyRule("r1", "web", http.Name)))}})
	b := a
	b.Name = "default_other"
	gw.Certificates = []model.Certificate{a, b}
	certA := &model.ServerTLS{CertificateNames: []string{a.Name}}
	certB := &model.ServerTLS{CertificateNames: []string{b.Name}}
	gw.StreamServers = []model.StreamServer{
		{Port: 443, Protocol: model.StreamTLS, Listeners: []string{"tls", "tls-isolated"}, Routes: []model.StreamRoute{
			{ID: "tls0", Hostname: "*.example.com", Route: streamRoute("TLSRoute", "wildcard"), Backends: []model.Backend{backend(tlsUp.Name, 1)}},
			{ID: "tls1", Hostname: "exact.example.com", Route: streamRoute("TLSRoute", "exact"), Backends: []model.Backend{backend(echo.Name, 1)}},
			{ID: "tls2", Hostname: "isolated.example.com"},
		}},
		{Port: 5300, Protocol: model.StreamTCP, Listeners: []string{"tcp"}, Routes: []model.StreamRoute{
			{ID: "tcp0", Route: streamRoute("TCPRoute", "weighted"), Backends: []model.Backend{
				backend(echo.Name, 70), backend(empty.Name, 20), {Invalid: true, Weight: 10}}},
		}},
		{Port: 5300, Protocol: model.StreamUDP, Listeners: []string{"udp"}, Routes: []model.StreamRoute{
			{ID: "udp0", Route: streamRoute("UDPRoute", "dns"), Backends: []model.Backend{backend(dns.Name, 1)}},
		}},
		{Port: 5301, Protocol: model.StreamTCP, Listeners: []string{"tcp-without-route"}},
		{Port: 8443, Protocol: model.StreamTLS, Listeners: []string{"terminate-a", "terminate-b"}, Routes: []model.StreamRoute{
			{ID: "tls3", Hostname: "a.example.com", Route: streamRoute("TLSRoute", "a"), Backends: []model.Backend{backend(echo.Name, 1)}, TLS: certA},
			{ID: "tls4", Hostname: "b.example.com", Route: streamRoute("TLSRoute", "b"), Backends: []model.Backend{backend(echo.Name, 1)}, TLS: certB},
		}},
		{Port: 9443, Protocol: model.StreamTLS, Listeners: []string{"mixed-passthrough", "mixed-terminate"}, HTTPS: []string{"www.example.com"}, Routes: []model.StreamRoute{
			{ID: "tls5", Hostname: "pass.example.com", Route: streamRoute("TLSRoute", "pass"), Backends: []model.Backend{backend(tlsUp.Name, 1)}},
			{ID: "tls6", Hostname: "term.example.com", Route: streamRoute("TLSRoute", "term"), Backends: []model.Backend{backend(echo.Name, 1)}, TLS: certA},
		}},
	}
	return gw
}
