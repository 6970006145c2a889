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
// with code=reset, by resetting the connection; code=close, by closing it
// without an answer; code=slow, by answering 200 "late" only after a
// second), then answers 200 with the request body; it counts the tries of
// each id.
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
		switch q.Get("code") {
		case "reset", "close":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if q.Get("code") == "reset" {
					_ = conn.(*net.TCPConn).SetLinger(0)
				}
				_ = conn.Close()
			}
			return
		case "slow":
			time.Sleep(time.Second)
			_, _ = fmt.Fprintf(w, "late %d", n)
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
	n, base := b.startGateway(t, prefix("/", always(rule)))
	for _, c := range []retryCase{
		{"/x", "two-500s", "500", 2, 200, 3},
		{"/x", "four-500s", "500", 4, 500, 4},
		{"/x", "503", "503", 1, 503, 1},
		{"/x", "reset", "reset", 1, 200, 2},
	} {
		b.expect(t, n, base, c)
	}
}

// startGateway runs nginx with the locations on server example.com, their
// rules proxying to upstream default_flaky_80, the backend its one
// endpoint; it returns nginx and its base URL.
func (b *flakyBackend) startGateway(t *testing.T, locations ...model.Location) (*testenv.Nginx, string) {
	t.Helper()
	up := upstream("default_flaky_80")
	addr, port := testenv.FreeLoopbackAddr(t)
	files, err := Render(gateway(port, map[string][]model.Location{"example.com": locations}, up))
	if err != nil {
		t.Fatal(err)
	}
	return startNginx(t, files, endpointdns.Table{up.Name: loopback(b.port)}, addr, port), fmt.Sprintf("http://%s:%d", addr, port)
}

// retryCase is a request to path that the flaky backend fails fail
// times with code (?id=id&code=code&fail=fail); the client must get
// wantCode after wantTries tries. A POST with a body, or a GET when the
// id ends in "-get".
type retryCase struct {
	path, id, code string
	fail           int
	wantCode       int
	wantTries      int
}

// expect sends c's request to the nginx at base (Host example.com) and
// checks its answer and the tries the backend saw.
func (b *flakyBackend) expect(t *testing.T, n *testenv.Nginx, base string, c retryCase) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	url := fmt.Sprintf("%s%s?id=%s&code=%s&fail=%d", base, c.path, c.id, c.code, c.fail)
	method, payload := http.MethodPost, io.Reader(strings.NewReader("payload"))
	if strings.HasSuffix(c.id, "-get") {
		method, payload = http.MethodGet, nil
	}
	req, err := http.NewRequest(method, url, payload)
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
	if c.wantCode == 200 && method == http.MethodPost && !strings.HasSuffix(string(body), ": payload") {
		t.Errorf("%s: body %q, want the request body echoed", c.id, body)
	}
}

// TestTrafficRetryWithoutAnswer: a try that gets no answer from the
// backend is retried whatever the retry codes (HTTPRouteRetryConnectionError,
// HTTPRouteRetryBackendTimeout), also by a rule without codes; a backend
// that answers 502 or 504 itself is not retried unless the code is a
// retry code. One endpoint: every retry goes back to it.
func TestTrafficRetryWithoutAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	b := startFlaky(t)
	up := upstream("default_flaky_80")
	timed := proxyRule("r0", "timed", up.Name)
	timed.Retry = &model.Retry{Codes: []int{500}, Attempts: 2}
	timed.Timeouts = model.Timeouts{BackendRequestMillis: 300}
	noCodes := proxyRule("r1", "no-codes", up.Name)
	noCodes.Retry = &model.Retry{Attempts: 1}
	noCodes.Timeouts = model.Timeouts{BackendRequestMillis: 300}
	untimed := proxyRule("r2", "untimed", up.Name)
	untimed.Retry = &model.Retry{Codes: []int{503}, Attempts: 1}
	n, base := b.startGateway(t, prefix("/timed", always(timed)), prefix("/no-codes", always(noCodes)), prefix("/untimed", always(untimed)))
	for _, c := range []retryCase{
		// Backend timeout: each try has its 300 ms.
		{"/timed", "timed-slow-once", "slow", 1, 200, 2},
		{"/timed", "timed-slow-always", "slow", 5, 504, 3},
		// Connection errors.
		{"/timed", "timed-reset", "reset", 2, 200, 3},
		{"/timed", "timed-close", "close", 1, 200, 2},
		// The backend's own 502 and 504 are answers, not retried.
		{"/timed", "timed-own-502", "502", 1, 502, 1},
		{"/timed", "timed-own-504", "504", 1, 504, 1},
		{"/timed", "timed-500", "500", 1, 200, 2},
		// Retry without codes: errors without answer only.
		{"/no-codes", "no-codes-slow", "slow", 1, 200, 2},
		{"/no-codes", "no-codes-reset", "reset", 1, 200, 2},
		{"/no-codes", "no-codes-500", "500", 1, 500, 1},
		{"/no-codes", "no-codes-own-502", "502", 1, 502, 1},
		// Without a backendRequest timeout: a reset.
		{"/untimed", "untimed-reset", "reset", 1, 200, 2},
		{"/untimed", "untimed-own-502", "502", 1, 502, 1},
		// A GET whose every try fails is not sent again through the
		// server afterwards (http.conf's resend after an endpoint change).
		{"/untimed", "untimed-reset-always-get", "reset", 5, 502, 2},
	} {
		b.expect(t, n, base, c)
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
