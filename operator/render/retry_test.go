package render

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// flakyBackend fails the first ?fail= tries of each ?id= with ?code= (or,
// with code=reset, by resetting the connection), then answers 200 with the
// request body; it counts the tries of each id.
type flakyBackend struct {
	port  int32
	mu    sync.Mutex
	tries map[string]int
}

func startFlaky(t *testing.T) *flakyBackend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &flakyBackend{port: int32(l.Addr().(*net.TCPAddr).Port), tries: map[string]int{}}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		fail, _ := strconv.Atoi(q.Get("fail"))
		b.mu.Lock()
		b.tries[q.Get("id")]++
		n := b.tries[q.Get("id")]
		b.mu.Unlock()
		if n > fail {
			_, _ = fmt.Fprintf(w, "ok after %d: %s", n, body)
			return
		}
		if q.Get("code") == "reset" {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.(*net.TCPConn).SetLinger(0)
				_ = conn.Close()
			}
			return
		}
		code, _ := strconv.Atoi(q.Get("code"))
		w.WriteHeader(code)
		_, _ = fmt.Fprintf(w, "failure %d", n)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

func (b *flakyBackend) triesOf(id string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tries[id]
}

// TestTrafficRetry runs nginx in front of a Service with one endpoint that
// fails the first tries of each request: a rule retrying 500 and 502 three
// times gets the answer after two failures (the same endpoint tried again,
// the POST body sent each time), gives the client the backend's 500 after
// four, does not retry a 503, and retries a reset connection (nginx's 502).
func TestTrafficRetry(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	b := startFlaky(t)
	up := upstream("default_flaky_80")
	rule := proxyRule("r0", "retry", up.Name)
	rule.Retry = &model.Retry{Codes: []int{500, 502}, Attempts: 3}
	addr, port := testenv.FreeLoopbackAddr(t)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": {prefix("/", always(rule))}}, up))
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpointdns.Table{up.Name: loopback(b.port)}, addr, port)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, c := range []struct {
		id, code  string
		fail      int
		wantCode  int
		wantTries int
	}{
		{"two-500s", "500", 2, 200, 3},
		{"four-500s", "500", 4, 500, 4},
		{"503", "503", 1, 503, 1},
		{"reset", "reset", 1, 200, 2},
	} {
		url := fmt.Sprintf("http://%s:%d/x?id=%s&code=%s&fail=%d", addr, port, c.id, c.code, c.fail)
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = "example.com"
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", c.id, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.wantCode || b.triesOf(c.id) != c.wantTries {
			t.Errorf("%s: %d %q after %d tries, want %d after %d\n%s", c.id, resp.StatusCode, body, b.triesOf(c.id), c.wantCode, c.wantTries, testenv.Tail(n.Logs(), 10))
		}
		if c.wantCode == 200 && !strings.HasSuffix(string(body), ": payload") {
			t.Errorf("%s: body %q, want the request body echoed", c.id, body)
		}
	}
}

// retryGateway has a rule retried twice on 500 and 503 with a timeout per
// try, and a path-rewriting rule retried once.
func retryGateway(testing.TB) *model.Gateway {
	up := upstream("default_echo_80")
	plain := proxyRule("r0", "retry", up.Name)
	plain.Retry = &model.Retry{Codes: []int{500, 503}, Attempts: 2}
	plain.Timeouts = model.Timeouts{BackendRequestMillis: 1500}
	rewrite := proxyRule("r1", "rewrite", up.Name)
	rewrite.Rewrite = &model.Rewrite{Path: &model.PathRewrite{Kind: model.RewritePrefix, Value: "/new", MatchedPrefix: "/old"}}
	rewrite.Retry = &model.Retry{Codes: []int{502}, Attempts: 1}
	return gateway(80, map[string][]model.Location{"example.com": {
		prefix("/", always(plain)),
		prefix("/old", always(rewrite)),
	}}, up)
}
