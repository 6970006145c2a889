package logs

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

var capture = flag.Bool("capture", false, "write nginx's output to testdata/nginx-<format>.log (TestCommand's input)")

// logModel is a Gateway on port whose routes answer through a backend,
// without endpoints (503), with an invalid backend (500), with a redirect,
// and not at all (404), and a TCP listener on port+1 whose route passes
// sessions to the same backend.
func logModel(port, backendPort int32, format string) *model.Gateway {
	ref := func(name string, rule int, ruleName string) model.RouteRef {
		return model.RouteRef{Kind: "HTTPRoute", Namespace: "shop", Name: name, RuleIndex: rule, RuleName: ruleName}
	}
	ok := &model.Rule{ID: "r1", Route: ref("catalog", 0, ""), Backends: []model.Backend{{Upstream: "shop_local_80", Weight: 1}}}
	named := &model.Rule{ID: "r2", Route: ref("catalog", 1, "beta"), Backends: []model.Backend{{Upstream: "shop_local_80", Weight: 1}}}
	empty := &model.Rule{ID: "r3", Route: ref("api", 0, ""), Backends: []model.Backend{{Upstream: "shop_empty_80", Weight: 1}}}
	invalid := &model.Rule{ID: "r4", Route: ref("broken", 0, ""), Backends: []model.Backend{{Weight: 1, Invalid: true}}}
	redirect := &model.Rule{ID: "r5", Route: ref("legacy", 0, ""), Redirect: &model.Redirect{Scheme: "https", StatusCode: 301}}
	always := func(r *model.Rule) []model.Candidate { return []model.Candidate{{Rule: r}} }
	return &model.Gateway{
		Namespace: "shop", Name: "web",
		Settings: model.Settings{AccessLogFormat: format},
		HTTPServers: []model.HTTPServer{{Port: port, Default: true, Listeners: []string{"http"}, Locations: []model.Location{
			{Path: "/items", Match: model.PathPrefix, Candidates: always(ok)},
			{Path: "/beta", Match: model.PathPrefix, Candidates: always(named)},
			{Path: "/api", Match: model.PathPrefix, Candidates: always(empty)},
			{Path: "/broken", Match: model.PathPrefix, Candidates: always(invalid)},
			{Path: "/old", Match: model.PathPrefix, Candidates: always(redirect)},
		}}},
		Upstreams: []model.Upstream{
			{Name: "shop_empty_80", ServiceNamespace: "shop", ServiceName: "empty", ServicePort: 80, Protocol: model.ProtocolHTTP1},
			{Name: "shop_local_80", ServiceNamespace: "shop", ServiceName: "local", ServicePort: 80, Protocol: model.ProtocolHTTP1},
		},
		StreamServers: []model.StreamServer{{Port: port + 1, Protocol: model.StreamTCP, Listeners: []string{"tcp"}, Routes: []model.StreamRoute{
			{ID: "tcp0", Route: model.RouteRef{Kind: "TCPRoute", Namespace: "shop", Name: "raw"}, Backends: []model.Backend{{Upstream: "shop_local_80", Weight: 1}}},
		}}},
		StreamUpstreams: []model.Upstream{{Name: "shop_local_80", ServiceNamespace: "shop", ServiceName: "local", ServicePort: 80}},
	}
}

// hostileRequest is a request line and headers with quotes, backslashes
// and control characters, as a client may send them (net/http would
// escape them): written on a raw connection.
const (
	hostilePath    = `/items/q"uo\te?x="\x22,}`
	hostileAgent   = "a\"b\\c\x01d\x1b[31m\x7f\te"
	hostileReferer = `r"}\"]`
)

func sendHostile(t *testing.T, addr string, port int32) {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, port), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: shop.example.com\r\nUser-Agent: %s\r\nReferer: %s\r\nConnection: close\r\n\r\n",
		hostilePath, hostileAgent, hostileReferer)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// parseAll parses every line of nginx's output: the access lines, and
// how many other (error log) lines there were.
func parseAll(logs string) (entries []Entry, others int) {
	for _, line := range strings.Split(logs, "\n") {
		if e, ok := Parse(line); ok {
			entries = append(entries, e)
		} else if strings.TrimSpace(line) != "" {
			others++ // nginx's error log (notices)
		}
	}
	return entries, others
}

// TestParseNginxLines renders a Gateway with each access log format,
// runs nginx, sends requests, and parses what nginx wrote.
func TestParseNginxLines(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // a request_time above 0
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(backend.Close)
	u, _ := url.Parse(backend.URL)
	backendPort, _ := strconv.Atoi(u.Port())

	requests := []struct {
		path, agent string
		want        Entry
		raw         bool // sendHostile
	}{
		{"/items/1?q=1", `curl/8 "quoted" \ back café`, Entry{Status: 200, Route: "shop/catalog", Rule: "0", Backend: "shop_local_80", Method: "GET", Path: "/items/1?q=1", BodyBytes: 5}, false},
		{"/beta/x%22y", "agent", Entry{Status: 200, Route: "shop/catalog", Rule: "beta", Backend: "shop_local_80", Path: "/beta/x%22y"}, false},
		{"/api/v1", "agent", Entry{Status: 503, Route: "shop/api", Rule: "0", Backend: "shop_empty_80"}, false},
		{"/broken", "agent", Entry{Status: 500, Route: "shop/broken", Rule: "0", Backend: "invalid"}, false},
		{"/old/page", "agent", Entry{Status: 301, Route: "shop/legacy", Rule: "0"}, false},
		{"/nothing", "agent", Entry{Status: 404}, false},
		// The backend (net/http) answers 400 to the control characters.
		{hostilePath, hostileAgent, Entry{Status: 400, Route: "shop/catalog", Rule: "0", Backend: "shop_local_80", Referer: hostileReferer}, true},
	}
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			addr, port := testenv.FreeLoopbackAddr(t)
			files, err := render.Render(logModel(port, int32(backendPort), format))
			if err != nil {
				t.Fatal(err)
			}
			tree := maps.Clone(files.Config)
			maps.Copy(tree, files.Secret)
			n := testenv.StartNginx(t, tree, testenv.EndpointsTable(map[string][]model.Endpoint{
				"shop_empty_80": {}, "shop_local_80": {{Address: "127.0.0.1", Port: int32(backendPort)}}}), addr, port)
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			start := time.Now().Add(-time.Second)
			var entries []Entry
			others := 0
			for i, r := range requests {
				if r.raw {
					sendHostile(t, addr, port)
				} else {
					req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:%d%s", addr, port, r.path), nil)
					req.Host = "shop.example.com"
					req.Header.Set("User-Agent", r.agent)
					resp, err := client.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				// Each worker writes its own lines: wait for this request's
				// before sending the next, so that lines come in order.
				testenv.Eventually(t, 5*time.Second, "the access log line of "+r.path, func() error {
					entries, others = parseAll(n.Logs())
					if len(entries) <= i {
						return fmt.Errorf("%d access lines", len(entries))
					}
					return nil
				})
			}
			// A TCP session through the stream server, logged when it ends.
			c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, port+1), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /tcp HTTP/1.0\r\n\r\n")
			_, _ = io.Copy(io.Discard, c)
			c.Close()
			testenv.Eventually(t, 5*time.Second, "the access log line of the TCP session", func() error {
				entries, others = parseAll(n.Logs())
				if len(entries) <= len(requests) {
					return fmt.Errorf("%d access lines", len(entries))
				}
				return nil
			})
			if len(entries) != len(requests)+1 {
				t.Fatalf("parsed %d access lines, sent %d requests and a TCP session:\n%s", len(entries), len(requests), n.Logs())
			}
			session := entries[len(requests)]
			if session.Protocol != "TCP" || session.Port != int(port+1) || session.Status != 200 || session.Route != "TCPRoute shop/raw" ||
				!strings.HasSuffix(session.Backend, "shop_local_80") || session.Upstream != fmt.Sprintf("127.0.0.1:%d", backendPort) ||
				session.RemoteAddr != "127.0.0.1" || session.Host != "" || session.Reason != "" {
				t.Errorf("TCP session: %+v", session)
			}
			for i, r := range requests {
				e, w := entries[i], r.want
				if e.Status != w.Status || e.Route != w.Route || e.Rule != w.Rule || e.Backend != w.Backend {
					t.Errorf("%s: %d %q %q %q, want %d %q %q %q", r.path, e.Status, e.Route, e.Rule, e.Backend, w.Status, w.Route, w.Rule, w.Backend)
				}
				if e.Method != "GET" || e.Path != r.path || e.UserAgent != r.agent || e.RemoteAddr != "127.0.0.1" {
					t.Errorf("%s: method %q path %q agent %q remote %q", r.path, e.Method, e.Path, e.UserAgent, e.RemoteAddr)
				}
				if e.Time.Before(start) || e.Time.After(time.Now().Add(time.Second)) {
					t.Errorf("%s: time %v", r.path, e.Time)
				}
				// Proxied requests name an upstream address: the backend's,
				// or nginx's local no-endpoints server's (shop_empty_80).
				proxied := w.Backend == "shop_local_80" || w.Backend == "shop_empty_80"
				if proxied != (e.Upstream != "") || (w.Status == 200 && e.RequestTime < 0.01) {
					t.Errorf("%s: upstream %q request_time %v", r.path, e.Upstream, e.RequestTime)
				}
				if w.BodyBytes != 0 && e.BodyBytes != w.BodyBytes {
					t.Errorf("%s: body bytes %d", r.path, e.BodyBytes)
				}
				if e.Host != "shop.example.com" || e.Referer != w.Referer {
					t.Errorf("%s: host %q referer %q", r.path, e.Host, e.Referer)
				}
			}
			t.Logf("%d access lines parsed, %d other lines skipped", len(entries), others)
			if *capture {
				if err := os.WriteFile(filepath.Join("testdata", "nginx-"+format+".log"), []byte(n.Logs()), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestParseTextLineWithoutHost: a pod still running a config rendered
// before the text format carried host="…" (real line of that nginx) is
// parsed, with an empty host.
func TestParseTextLineWithoutHost(t *testing.T) {
	line := `127.0.0.1 - - [29/Nov/2026:08:48:37 +0000] "GET /items/1?q=1 HTTP/1.1" 200 5 "-" "curl/8 \x22quoted\x22 \x5C back caf\xC3\xA9" ` +
		`route="shop/catalog" rule="0" backend="shop_local_80" upstream="127.0.0.1:40847" request_time=0.021`
	e, ok := Parse(line)
	if !ok || e.Host != "" || e.Path != "/items/1?q=1" || e.UserAgent != `curl/8 "quoted" \ back café` || e.Route != "shop/catalog" ||
		e.Rule != "0" || e.Backend != "shop_local_80" || e.Upstream != "127.0.0.1:40847" || e.RequestTime != 0.021 {
		t.Errorf("%v %+v", ok, e)
	}
}
