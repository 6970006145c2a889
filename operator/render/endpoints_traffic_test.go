package render

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestTrafficRequestMetAtEndpointChange: a request whose endpoint fails
// after the upstream's endpoints changed (nginx then refuses to try another
// one) is sent again through the server to the new endpoints when it is a
// GET, and answered 502 otherwise; a route with a timeout is never sent
// again.
func TestTrafficRequestMetAtEndpointChange(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	// vanishing holds each request 2.5 s, then drops the connection
	// without an answer: a pod that goes away mid-request.
	vanishing := startRawBackend(t, func(c net.Conn) {
		time.Sleep(2500 * time.Millisecond)
		c.Close()
	})
	good := startEcho(t, "good")
	up := upstream("default_app_80")
	plain := proxyRule("r0", "app", up.Name)
	timed := proxyRule("r1", "timed", up.Name)
	timed.Timeouts = model.Timeouts{RequestMillis: 10000}
	addr, port := testenv.FreeLoopbackAddr(t)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": {
		prefix("/plain", always(plain)), prefix("/timed", always(timed)),
	}}, up))
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpointdns.Table{up.Name: {vanishing}}, addr, port)
	goodEP := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(good.port))

	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/plain/x?a=1", http.StatusOK},
		{http.MethodPost, "/plain/x", http.StatusBadGateway},
		{http.MethodGet, "/timed/x", http.StatusBadGateway},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			n.DNS.Set(endpointdns.Table{up.Name: {vanishing}})
			waitResolved(t, n, up.Name)
			type result struct {
				code int
				body string
				err  error
			}
			done := make(chan result, 1)
			go func() {
				req, _ := http.NewRequest(tc.method, fmt.Sprintf("http://%s:%d%s", addr, port, tc.path), strings.NewReader("body"))
				req.Host = "example.com"
				resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
				if err != nil {
					done <- result{err: err}
					return
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				done <- result{code: resp.StatusCode, body: string(body)}
			}()
			time.Sleep(200 * time.Millisecond) // the request is at the vanishing endpoint
			n.DNS.Set(endpointdns.Table{up.Name: {goodEP}})
			r := <-done
			if r.err != nil || r.code != tc.want {
				t.Fatalf("%d %.100q %v, want %d", r.code, r.body, r.err, tc.want)
			}
			if tc.want == http.StatusOK && (!strings.Contains(r.body, `"Backend":"good"`) || !strings.Contains(r.body, `"URI":"/plain/x?a=1"`)) {
				t.Errorf("answered %q, want the new endpoint, with the client's URI", r.body)
			}
			if tc.want == http.StatusBadGateway {
				// Answered by the server's @ngo_502, whose log line still
				// names the rule that failed (render/accesslog.go).
				route := "default/" + map[string]string{"/plain/x": "app", "/timed/x": "timed"}[tc.path]
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				request := fmt.Sprintf("%s %s HTTP/1.1", tc.method, tc.path)
				if !n.WaitForLog(ctx, request) {
					t.Fatalf("no access log line for %s", request)
				}
				for line := range strings.SplitSeq(n.Logs(), "\n") {
					if errorLogLine.MatchString(line) {
						continue // nginx's error log names the request too
					}
					if strings.Contains(line, request) && (!strings.Contains(line, route) || !strings.Contains(line, up.Name)) {
						t.Errorf("access log %q, want route %s and backend %s", line, route, up.Name)
					}
				}
			}
		})
	}
}

// errorLogLine starts a line of nginx's error log ("2006/01/02 15:04:05 [").
var errorLogLine = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[`)

// waitResolved waits until nginx asked twice more for upstream: it holds
// the table set before.
func waitResolved(t *testing.T, n *testenv.Nginx, upstream string) {
	t.Helper()
	start := n.DNS.SRVAnswers(upstream)
	deadline := time.Now().Add(5 * time.Second)
	for n.DNS.SRVAnswers(upstream) < start+2 {
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not resolve %s again\n%s", upstream, n.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRawBackend accepts TCP connections on 127.0.0.1 and hands each to
// serve.
func startRawBackend(t *testing.T, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return netip.MustParseAddrPort(l.Addr().String())
}
