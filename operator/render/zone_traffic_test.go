package render

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

var upstreamZoneLine = regexp.MustCompile(`zone ngo_upstreams ([0-9]+k);`)

// TestTrafficReloadKeepsResolvedPeers: a route change that adds 50
// upstreams, and so changes the size of the shared upstream zone
// (upstreamBlock), reloads nginx while requests flow (each on a fresh
// connection, POST so that nginx never sends one again, and the client
// never retries), and none fails, although the DNS answers nothing but
// SERVFAIL from just before the reload on: the new workers start from the
// addresses the old ones resolved. nginx never reuses an upstream zone
// across a reload, whatever its size: it makes a new one and copies each
// upstream's resolved peers from the old one by upstream and server name
// (nginx >= 1.27.3), so the zone's size may change with any route change.
func TestTrafficReloadKeepsResolvedPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	echo := startEcho(t, "app")
	app := echo.upstream()
	addr, port := testenv.FreeLoopbackAddr(t)
	// Every upstream resolves to the echo backend.
	render := func(upstreams int) (Files, endpointdns.Table) {
		ups := []model.Upstream{app}
		endpoints := endpointdns.Table{app.Name: loopback(echo.port)}
		for i := 1; i < upstreams; i++ {
			up := upstream(fmt.Sprintf("default_extra_%03d_80", i))
			ups = append(ups, up)
			endpoints[up.Name] = loopback(echo.port)
		}
		files, err := Render(gateway(port, map[string][]model.Location{"example.com": {
			prefix("/app", always(proxyRule("r0", "app", app.Name))),
		}}, ups...))
		if err != nil {
			t.Fatal(err)
		}
		return files, endpoints
	}
	before, endpoints := render(40)
	after, _ := render(90)
	zoneBefore := upstreamZoneLine.FindSubmatch(before.Config[FileUpstreams])
	zoneAfter := upstreamZoneLine.FindSubmatch(after.Config[FileUpstreams])
	if string(zoneBefore[1]) == string(zoneAfter[1]) {
		t.Fatalf("the upstream zone is %s before and after: nothing tested", zoneBefore[1])
	}

	n := startNginx(t, before, endpoints, addr, port)

	var sent, failed atomic.Int64
	var mu sync.Mutex
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s:%d/app/x", addr, port), strings.NewReader("body"))
				req.Host = "example.com"
				resp, err := client.Do(req)
				sent.Add(1)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						continue
					}
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
				failed.Add(1)
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%s %v", time.Now().Format("15:04:05.000"), err))
				mu.Unlock()
			}
		})
	}
	time.Sleep(time.Second)
	n.DNS.Set(nil) // SERVFAIL: nobody learns an address from now on
	reloadedAt := time.Now()
	n.Reload(t, merged(after))
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("reloaded at %s; %d requests, %d failed", reloadedAt.Format("15:04:05.000"), sent.Load(), failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed across the reload (zone %s → %s), first: %v", failed.Load(), sent.Load(),
			zoneBefore[1], zoneAfter[1], failures[:min(len(failures), 5)])
	}
	if sent.Load() < 100 {
		t.Errorf("only %d requests sent", sent.Load())
	}
}
