package render

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// echoed is what an echo backend answers: what it received.
type echoed struct {
	Backend string
	Method  string
	URI     string
	Host    string
	Header  http.Header
}

// echoBackend is a tiny HTTP server on 127.0.0.1 that answers every
// request with its name and what it received, and counts requests.
type echoBackend struct {
	name string
	port int32
	hits atomic.Int64
	mu   sync.Mutex
	uris []string
}

func startEcho(t *testing.T, name string) *echoBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &echoBackend{name: name, port: int32(l.Addr().(*net.TCPAddr).Port)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		b.mu.Lock()
		b.uris = append(b.uris, r.RequestURI)
		b.mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Resp-Remove", "from-backend")
		w.Header().Set("X-Resp-Set", "from-backend")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Backend: name, Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header})
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *echoBackend) upstream() model.Upstream {
	return upstream("default_" + b.name + "_80")
}

// endpoints is the backend as its upstream's only endpoint.
func (b *echoBackend) endpoints() endpointdns.Table {
	return endpointdns.Table{b.upstream().Name: loopback(b.port)}
}

// loopback is one endpoint on 127.0.0.1.
func loopback(port int32) []netip.AddrPort {
	return []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))}
}

// endpointsOf merges tables.
func endpointsOf(tables ...endpointdns.Table) endpointdns.Table {
	out := endpointdns.Table{}
	for _, t := range tables {
		maps.Copy(out, t)
	}
	return out
}

// onLoopback is one upstream with one endpoint on 127.0.0.1.
func onLoopback(up model.Upstream, l net.Listener) endpointdns.Table {
	return endpointdns.Table{up.Name: loopback(int32(l.Addr().(*net.TCPAddr).Port))}
}

// trafficModel is a gateway on one port that exercises routing, filters,
// splits, CORS and mirrors against the given backends.
func trafficModel(port int32, a, b, c, mirror *echoBackend) *model.Gateway {
	ua, ub, uc, um := a.upstream(), b.upstream(), c.upstream(), mirror.upstream()
	empty := upstream("default_empty_80")
	ra := proxyRule("ra", "route-a", ua.Name)
	rb := proxyRule("rb", "route-b", ub.Name)
	rc := proxyRule("rc", "route-c", uc.Name)
	headers := &model.Rule{ID: "rh", Route: route("headers", 0), Backends: []model.Backend{backend(ua.Name, 1)},
		RequestHeaders: model.HeaderModifier{
			Set:    []model.Header{{Name: "X-Set", Value: `set "$dollar" \ value`}},
			Add:    []model.Header{{Name: "X-Add", Value: "added"}},
			Remove: []string{"X-Remove"},
		},
		ResponseHeaders: model.HeaderModifier{
			Set:    []model.Header{{Name: "X-Resp-Set", Value: "by-gateway $x"}},
			Add:    []model.Header{{Name: "X-Resp-Add", Value: "a"}},
			Remove: []string{"X-Resp-Remove"},
		}}
	split := &model.Rule{ID: "rs", Route: route("split", 0), Backends: []model.Backend{backend(ua.Name, 3), backend(ub.Name, 1)}}
	split.Backends[1].RequestHeaders.Set = []model.Header{{Name: "X-Only-B", Value: "yes"}}
	split.Backends[1].ResponseHeaders.Set = []model.Header{{Name: "X-Share", Value: "b"}}
	broken := &model.Rule{ID: "rx", Route: route("broken", 0), Backends: []model.Backend{{Weight: 1, Invalid: true}}}
	noEndpoints := &model.Rule{ID: "re", Route: route("empty", 0), Backends: []model.Backend{backend(empty.Name, 1)}}
	redirect := &model.Rule{ID: "rr", Route: route("redirect", 0), Redirect: &model.Redirect{Scheme: "https", Hostname: "secure.example", StatusCode: 301,
		Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/new", MatchedPrefix: "/old"}}}
	// Locations and matched prefixes are decoded paths (the translation step
	// decodes "/caf%C3%A9%20d"); clients may escape them either way.
	redirectDecoded := &model.Rule{ID: "rd", Route: route("redirect", 2), Redirect: &model.Redirect{Scheme: "https", Hostname: "secure.example", StatusCode: 301,
		Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/neu", MatchedPrefix: "/café d"}}}
	redirectPort := &model.Rule{ID: "rp", Route: route("redirect", 1), Redirect: &model.Redirect{StatusCode: 302}}
	rewritePrefix := &model.Rule{ID: "rw", Route: route("rewrite", 0), Backends: []model.Backend{backend(ua.Name, 1)},
		Rewrite: &model.Rewrite{Hostname: "rewritten.example", Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/", MatchedPrefix: "/strip"}}}
	rewriteFull := &model.Rule{ID: "rf", Route: route("rewrite", 1), Backends: []model.Backend{backend(ua.Name, 1)},
		Rewrite: &model.Rewrite{Path: &model.PathRewrite{Kind: model.RewriteFullPath, Value: "/full path"}}}
	cors := &model.Rule{ID: "rco", Route: route("cors", 0), Backends: []model.Backend{backend(ua.Name, 1)},
		CORS: &model.CORS{AllowOrigins: []string{"https://app.example.com", "https://*.example.org"}, AllowCredentials: true,
			AllowMethods: []string{"GET", "PUT"}, AllowHeaders: []string{"X-Custom"}, ExposeHeaders: []string{"X-Total"}, MaxAgeSeconds: 600}}
	mirrored := &model.Rule{ID: "rm", Route: route("mirror", 0), Backends: []model.Backend{backend(ua.Name, 1)},
		Mirrors: []model.Mirror{{Upstream: um.Name}}}

	// Regexes whose RE2 meaning PCRE would read differently or refuse.
	tagged := func(id string) *model.Rule {
		rule := proxyRule(id, "regex", ub.Name)
		rule.ResponseHeaders.Set = []model.Header{{Name: "X-Rule", Value: id}}
		return rule
	}
	regexes := prefix("/re",
		when(tagged("re1"), headerRegex("x-re1", `a{,3}`)),
		when(tagged("re2"), headerRegex("x-re2", `[:alpha:]+`)),
		when(tagged("re3"), headerRegex("x-re3", `b(?i)*c`)),
		when(tagged("re4"), headerRegex("x-re4", `(?P<host>v)\d`)),
		when(tagged("re5"), headerRegex("x-re5", `\x{263a}.`)),
		when(tagged("re6"), headerRegex("x-re6", `$*x`)))

	gw := gateway(port, map[string][]model.Location{
		"example.com": {
			regexes,
			exact("/exact", always(rb)),
			prefix("/api",
				when(rb, header("x-version", "v2"), method("GET")),
				when(rc, query("Mode", "fast")),
				when(ra, headerRegex("user-agent", `probe/[0-9]+`)),
				when(rc, pathRegex(`/api/v[0-9]+/.*`))),
			prefix("/headers", always(headers)),
			prefix("/split", always(split)),
			prefix("/broken", always(broken)),
			prefix("/empty", always(noEndpoints)),
			prefix("/old", always(redirect)),
			prefix("/port", always(redirectPort)),
			prefix("/café d", always(redirectDecoded)),
			exact("/100%", always(rc)),
			prefix("/strip", always(rewritePrefix)),
			prefix("/full", always(rewriteFull)),
			prefix("/cors", always(cors)),
			prefix("/mirror", always(mirrored)),
			prefix("/", when(rb, method("POST")), always(ra)),
		},
	}, ua, ub, uc, um, empty)
	return gw
}

// TestTraffic runs nginx on a rendered config and checks real requests.
func TestTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a, b, c, mirror := startEcho(t, "a"), startEcho(t, "b"), startEcho(t, "c"), startEcho(t, "mirror")
	addr, port := testenv.FreeLoopbackAddr(t)
	hostPort := fmt.Sprintf("example.com:%d", port)
	files, err := Render(trafficModel(port, a, b, c, mirror))
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpointsOf(a.endpoints(), b.endpoints(), c.endpoints(), mirror.endpoints(),
		endpointdns.Table{"default_empty_80": nil}), addr, port)
	base := fmt.Sprintf("http://%s:%d", addr, port)
	client := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	do := func(t *testing.T, method, path, host string, hdr map[string]string) (*http.Response, echoed) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var e echoed
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, body)
			}
		}
		return resp, e
	}

	t.Run("routing", func(t *testing.T) {
		for _, tc := range []struct {
			name, method, path, host string
			hdr                      map[string]string
			status                   int
			backend                  string
		}{
			{"exact", "GET", "/exact", "example.com", nil, 200, "b"},
			{"exact is not a prefix", "GET", "/exact/more", "example.com", nil, 200, "a"},
			{"header and method", "GET", "/api/x", "example.com", map[string]string{"X-Version": "v2"}, 200, "b"},
			{"header but wrong method falls through to query", "DELETE", "/api/x?Mode=fast", "example.com", map[string]string{"X-Version": "v2"}, 200, "c"},
			{"query name is case-sensitive", "GET", "/api/x?mode=fast", "example.com", nil, 404, ""},
			{"header regex", "GET", "/api", "example.com", map[string]string{"User-Agent": "probe/7"}, 200, "a"},
			{"path regex", "GET", "/api/v2/items", "example.com", nil, 200, "c"},
			{"no candidate matches", "GET", "/api/other", "example.com", nil, 404, ""},
			{"element-wise prefix", "GET", "/apis", "example.com", nil, 200, "a"},
			{"method on /", "POST", "/anything", "example.com", nil, 200, "b"},
			{"default on /", "GET", "/anything", "example.com", nil, 200, "a"},
			{"host with port", "GET", "/anything", hostPort, nil, 200, "a"},
			{"unknown host", "GET", "/exact", "other.example", nil, 404, ""},
			{"internal location unreachable", "GET", "//ngo/rb", "example.com", nil, 200, "a"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				resp, e := do(t, tc.method, tc.path, tc.host, tc.hdr)
				if resp.StatusCode != tc.status || e.Backend != tc.backend {
					t.Fatalf("got %d from %q, want %d from %q", resp.StatusCode, e.Backend, tc.status, tc.backend)
				}
				if tc.status == 200 && e.URI != tc.path {
					t.Errorf("backend got URI %q, want the client's %q", e.URI, tc.path)
				}
			})
		}
	})

	t.Run("regex meaning", func(t *testing.T) {
		for _, tc := range []struct {
			header, value, rule string
		}{
			{"X-Re1", "a{,3}", "re1"}, {"X-Re1", "aaa", ""},
			{"X-Re2", "alpha:", "re2"}, {"X-Re2", "xyz", ""},
			{"X-Re3", "bbbC", "re3"}, {"X-Re3", "BC", ""},
			{"X-Re4", "v1", "re4"}, {"X-Re4", "v", ""},
			{"X-Re5", "☺é", "re5"}, {"X-Re5", "☺", ""},
			{"X-Re6", "x", "re6"}, {"X-Re6", "xx", ""},
		} {
			resp, e := do(t, "GET", "/re", "example.com", map[string]string{tc.header: tc.value})
			if got := resp.Header.Get("X-Rule"); got != tc.rule {
				t.Errorf("%s: %q matched rule %q, want %q", tc.header, tc.value, got, tc.rule)
			}
			if tc.rule != "" && e.Host != "example.com" {
				t.Errorf("a named group in a regex changed the Host passed upstream to %q", e.Host)
			}
		}
	})

	t.Run("headers", func(t *testing.T) {
		resp, e := do(t, "GET", "/headers?q=1", hostPort, map[string]string{"X-Add": "orig", "X-Remove": "gone"})
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		checks := map[string]string{
			"X-Set": `set "$dollar" \ value`, "X-Add": "orig,added", "X-Remove": "",
			"X-Forwarded-Host": "example.com", "X-Forwarded-Proto": "http",
		}
		for k, want := range checks {
			if got := e.Header.Get(k); got != want {
				t.Errorf("request header %s = %q, want %q", k, got, want)
			}
		}
		if e.Host != hostPort {
			t.Errorf("Host %q, want the client's", e.Host)
		}
		if got := resp.Header.Values("X-Resp-Set"); len(got) != 1 || got[0] != "by-gateway $x" {
			t.Errorf("X-Resp-Set %q", got)
		}
		if got := resp.Header.Get("X-Resp-Remove"); got != "" {
			t.Errorf("X-Resp-Remove %q, want removed", got)
		}
		if got := resp.Header.Get("X-Resp-Add"); got != "a" {
			t.Errorf("X-Resp-Add %q", got)
		}
		_, e = do(t, "GET", "/headers", "example.com", nil)
		if got := e.Header.Get("X-Add"); got != "added" {
			t.Errorf("X-Add without a request header = %q, want %q", got, "added")
		}
	})

	t.Run("redirect", func(t *testing.T) {
		for path, want := range map[string]string{
			"/old":                 "https://secure.example/new",
			"/old?x=1":             "https://secure.example/new?x=1",
			"/old/a/b?x=1":         "https://secure.example/new/a/b?x=1",
			"/port/p?q":            "http://" + hostPort + "/port/p?q",
			"/caf%C3%A9%20d/x?y=1": "https://secure.example/neu/x?y=1",
			"/caf%c3%a9%20d":       "https://secure.example/neu",
		} {
			resp, _ := do(t, "GET", path, hostPort, nil)
			if got := resp.Header.Get("Location"); got != want || (resp.StatusCode != 301 && resp.StatusCode != 302) {
				t.Errorf("%s: %d Location %q, want %q", path, resp.StatusCode, got, want)
			}
		}
	})

	t.Run("decoded exact path", func(t *testing.T) {
		for _, path := range []string{"/100%25", "/1%30%30%25"} {
			if _, e := do(t, "GET", path, "example.com", nil); e.Backend != "c" {
				t.Errorf("%s: backend %q, want c", path, e.Backend)
			}
		}
	})

	t.Run("rewrite", func(t *testing.T) {
		for path, want := range map[string]string{
			"/strip":             "/",
			"/strip/x/y?z=1":     "/x/y?z=1",
			"/strip/a%20b":       "/a%20b",
			"/full/anything?k=v": "/full%20path?k=v",
		} {
			_, e := do(t, "GET", path, "example.com", nil)
			if e.URI != want {
				t.Errorf("%s: backend got %q, want %q", path, e.URI, want)
			}
		}
		_, e := do(t, "GET", "/strip/x", "example.com", nil)
		if e.Host != "rewritten.example" {
			t.Errorf("Host %q, want rewritten.example", e.Host)
		}
	})

	t.Run("weighted", func(t *testing.T) {
		counts := map[string]int{}
		const total = 400
		for range total {
			resp, e := do(t, "GET", "/split", "example.com", nil)
			counts[e.Backend]++
			onlyB := e.Header.Get("X-Only-B") == "yes"
			if (e.Backend == "b") != onlyB || (e.Backend == "b") != (resp.Header.Get("X-Share") == "b") {
				t.Fatalf("backend %s got X-Only-B=%v, X-Share=%q: backend filters leaked", e.Backend, onlyB, resp.Header.Get("X-Share"))
			}
		}
		// 3:1, so a gets 300 on average; the bounds are > 6 sigma wide.
		if counts["a"] < 240 || counts["a"] > 350 || counts["a"]+counts["b"] != total {
			t.Errorf("split 3:1 gave %v", counts)
		}
	})

	t.Run("invalid and empty backends", func(t *testing.T) {
		if resp, _ := do(t, "GET", "/broken", "example.com", nil); resp.StatusCode != 500 {
			t.Errorf("invalid backend: %d, want 500", resp.StatusCode)
		}
		if resp, _ := do(t, "GET", "/empty/x", "example.com", nil); resp.StatusCode != 503 {
			t.Errorf("no endpoints: %d, want 503", resp.StatusCode)
		}
	})

	t.Run("cors", func(t *testing.T) {
		pre := map[string]string{"Origin": "https://x.example.org", "Access-Control-Request-Method": "PUT"}
		resp, e := do(t, "OPTIONS", "/cors", "example.com", pre)
		if resp.StatusCode != 204 || e.Backend != "" {
			t.Fatalf("preflight: %d from %q, want 204 from nginx", resp.StatusCode, e.Backend)
		}
		for k, want := range map[string]string{
			"Access-Control-Allow-Origin": "https://x.example.org", "Access-Control-Allow-Methods": "GET, PUT",
			"Access-Control-Allow-Headers": "X-Custom", "Access-Control-Allow-Credentials": "true", "Access-Control-Max-Age": "600",
		} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("preflight %s = %q, want %q", k, got, want)
			}
		}
		resp, _ = do(t, "OPTIONS", "/cors", "example.com", map[string]string{"Origin": "https://evil.example/.example.org", "Access-Control-Request-Method": "PUT"})
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" || resp.Header.Get("Access-Control-Allow-Methods") != "" {
			t.Errorf("disallowed origin got CORS headers: %v", resp.Header)
		}
		resp, e = do(t, "GET", "/cors", "example.com", map[string]string{"Origin": "https://app.example.com"})
		if e.Backend != "a" || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || resp.Header.Get("Access-Control-Expose-Headers") != "X-Total" {
			t.Errorf("actual request: backend %q headers %v", e.Backend, resp.Header)
		}
	})

	t.Run("mirror", func(t *testing.T) {
		before := mirror.hits.Load()
		_, e := do(t, "GET", "/mirror/m?x=1", "example.com", nil)
		if e.Backend != "a" {
			t.Fatalf("mirrored request answered by %q", e.Backend)
		}
		deadline := time.Now().Add(3 * time.Second)
		for mirror.hits.Load() == before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if mirror.hits.Load() == before {
			t.Fatal("mirror backend got nothing")
		}
		mirror.mu.Lock()
		last := mirror.uris[len(mirror.uris)-1]
		mirror.mu.Unlock()
		if last != "/mirror/m?x=1" {
			t.Errorf("mirror got %q", last)
		}
	})

	t.Run("access log", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		do(t, "GET", "/split?log-probe", "example.com", nil)
		// The JSON format, the default (the text format: TestTrafficStream).
		if !n.WaitForLog(ctx, `"route":"default/split","rule":"0","backend":"default_`) {
			t.Errorf("access log does not name route, rule and backend:\n%s", n.Logs())
		}
		// A request no route answers (a host of none) logs the fields empty, not "-": its
		// location has no root of ours (http.conf's $ngo_log_fields).
		if resp, _ := do(t, "GET", "/no-route-log-probe", "no-route.invalid", nil); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("/no-route-log-probe answered %d, want 404", resp.StatusCode)
		}
		if !n.WaitForLog(ctx, `"GET /no-route-log-probe HTTP/1.1","status":404,`) {
			t.Fatalf("no access log line for /no-route-log-probe:\n%s", n.Logs())
		}
		for line := range strings.SplitSeq(n.Logs(), "\n") {
			if strings.Contains(line, `"GET /no-route-log-probe HTTP/1.1"`) && !strings.Contains(line, `"route":"","rule":"","backend":""`) {
				t.Errorf("access log %q, want empty route, rule and backend", line)
			}
		}
	})
}

// pinnedHTTPSClient is an HTTPS client whose connections all go to addr,
// whatever the URL says: the URL's host stays the SNI (unless cfg names
// one) and the Host. It speaks HTTP/2 when the server offers it, keeps its
// connections for reuse, and closes them when the test ends.
func pinnedHTTPSClient(t testing.TB, addr string, cfg *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	transport := &http.Transport{
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: true,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport, Timeout: 5 * time.Second}
}

// startTLSGateway runs nginx with an HTTPS listener on port whose server
// *.example.com serves rule from upstream up (the default server has no
// certificate), and returns the pool that trusts its certificate.
func startTLSGateway(t *testing.T, addr string, port int32, up model.Upstream, endpoints endpointdns.Table, rule *model.Rule) *x509.CertPool {
	t.Helper()
	gw, pool := tlsGatewayModel(t, port, up, rule)
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	startNginx(t, files, endpoints, addr, port)
	return pool
}

// tlsGatewayModel is startTLSGateway's model and the pool that trusts its
// certificate.
func tlsGatewayModel(t *testing.T, port int32, up model.Upstream, rule *model.Rule) (*model.Gateway, *x509.CertPool) {
	t.Helper()
	cert := testCert(t)
	gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(), Upstreams: []model.Upstream{up},
		Certificates: []model.Certificate{cert}}
	gw.HTTPServers = []model.HTTPServer{
		{Port: port, Default: true, TLS: &model.ServerTLS{}},
		{Port: port, Hostname: "*.example.com", TLS: &model.ServerTLS{CertificateNames: []string{cert.Name}},
			Locations: []model.Location{prefix("/", always(rule))}},
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert.CertPEM)
	return gw, pool
}

// TestTrafficTLS checks an HTTPS listener: HTTP/2 with the certificate from
// the Secret files, the client's Host passed on, and unknown SNI refused.
func TestTrafficTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a := startEcho(t, "a")
	ua := a.upstream()
	addr, port := testenv.FreeLoopbackAddr(t)
	pool := startTLSGateway(t, addr, port, ua, a.endpoints(), proxyRule("r0", "web", ua.Name))
	client := pinnedHTTPSClient(t, fmt.Sprintf("%s:%d", addr, port), &tls.Config{RootCAs: pool})

	resp, err := client.Get(fmt.Sprintf("https://www.example.com:%d/x?y=1", port))
	if err != nil {
		t.Fatal(err)
	}
	var e echoed
	err = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol %s, want HTTP/2", resp.Proto)
	}
	if e.Backend != "a" || e.URI != "/x?y=1" || e.Host != fmt.Sprintf("www.example.com:%d", port) || e.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("backend saw %+v", e)
	}
	if _, err := client.Get(fmt.Sprintf("https://other.test:%d/", port)); err == nil {
		t.Error("a TLS handshake for an unknown name succeeded")
	}
}

// TestTrafficWebSocket checks that an upgrade passes through nginx to a
// WebSocket backend (appProtocol kubernetes.io/ws) and bytes flow both ways.
func TestTrafficWebSocket(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Connection"), "upgrade") || r.Header.Get("Upgrade") != "websocket" {
			http.Error(w, "not an upgrade: "+r.Header.Get("Connection"), http.StatusBadRequest)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = buf.Flush()
		_, _ = io.Copy(conn, buf) // echo whatever the client sends
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	ws := upstream("default_ws_80")
	ws.Protocol = model.ProtocolWebSocket
	addr, port := testenv.FreeLoopbackAddr(t)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "ws", ws.Name)))}}, ws))
	if err != nil {
		t.Fatal(err)
	}
	startNginx(t, files, onLoopback(ws, l), addr, port)

	conn, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, port), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 101") {
		t.Fatalf("upgrade answered %q, %v", buf[:n], err)
	}
	_, _ = io.WriteString(conn, "ping")
	n, err = io.ReadAtLeast(conn, buf, 4)
	if err != nil || string(buf[:n]) != "ping" {
		t.Fatalf("echo through the upgraded connection: %q, %v", buf[:n], err)
	}
}

// TestTrafficH2C checks that a backend with appProtocol kubernetes.io/h2c
// is spoken to with HTTP/2 over cleartext, and that the path and query reach it.
func TestTrafficH2C(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var protocols http.Protocols
	protocols.SetUnencryptedHTTP2(true) // h2c only: an HTTP/1.1 request fails
	srv := &http.Server{Protocols: &protocols, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%s %s", r.Proto, r.URL.RequestURI())
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	h2c := upstream("default_h2c_80")
	h2c.Protocol = model.ProtocolH2C
	addr, port := testenv.FreeLoopbackAddr(t)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": {prefix("/", always(proxyRule("r0", "h2c", h2c.Name)))}}, h2c))
	if err != nil {
		t.Fatal(err)
	}
	startNginx(t, files, onLoopback(h2c, l), addr, port)

	for i := 0; i < 3; i++ { // later requests reuse the kept-alive HTTP/2 connection
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s:%d/grpc/svc?x=%d", addr, port, i), nil)
		req.Host = "example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if want := fmt.Sprintf("HTTP/2.0 /grpc/svc?x=%d", i); resp.StatusCode != http.StatusOK || string(body) != want {
			t.Fatalf("request %d: %d %q, want 200 %q", i, resp.StatusCode, body, want)
		}
	}
}
