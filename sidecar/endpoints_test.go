package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// endpointsConfig proxies /proxy to upstream as the rendered config does
// (templates/upstreams.conf.tmpl): nginx resolves the upstream's endpoints
// through the sidecar's DNS, and an upstream without endpoints resolves to
// the local 503 server.
func endpointsConfig(p *gatewayPod, upstream string) config {
	routes := fmt.Sprintf(`resolver %[2]s;
resolver_timeout 1s;
upstream %[3]s {
    zone ngo_upstreams 1024k;
    server %[4]s service=%[5]s resolve max_fails=0;
    keepalive 8;
}
server {
    listen %[6]s;
    access_log off;
    return 503;
}
server {
    listen %[1]s:8080;
    location /proxy {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://%[3]s;
    }
}
`, p.ip, p.dnsAddr(), upstream, dataplane.UpstreamDNSName(upstream), dataplane.EndpointsSRVService, p.noEndpointsAddr())
	return config{configFiles: map[string][]byte{"nginx.conf": []byte(mainConf), "routes.conf": []byte(routes)}}
}

// namedBackend answers every request with its name and status code.
func namedBackend(t *testing.T, name string, code int) netip.AddrPort {
	return netip.MustParseAddrPort(startBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = io.WriteString(w, name)
	}))
}

// TestEndpointsChangeWithoutReload: the sidecar serves the Gateway's
// endpoints ConfigMap to nginx as DNS; a change of the endpoints moves
// traffic to the new addresses within a couple of seconds with the same
// nginx workers (no reload), no endpoints answer 503, and a backend's own
// 502 passes through unchanged.
func TestEndpointsChangeWithoutReload(t *testing.T) {
	p, c, ns, _, gateway := reportingPod(t, "endpoints")
	ctx := context.Background()
	const upstream = "default_echo_80"
	a, b := namedBackend(t, "a", http.StatusOK), namedBackend(t, "b", http.StatusOK)
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: resources.EndpointsName(gateway), Namespace: ns},
		Data:       map[string]string{upstream: dataplane.FormatEndpoints([]netip.AddrPort{a})},
	}
	if err := c.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	p.env = append(p.env, dataplane.EnvEndpointsConfigMap+"="+cm.Name)
	cfg := endpointsConfig(p, upstream)
	p.write(cfg)
	p.startSidecar()
	p.startNginx()
	p.waitApplied(cfg.hash())
	testenv.Eventually(t, 10*time.Second, "ready once the endpoints are read", func() error { return p.ready(http.StatusOK) })
	p.waitServed("/proxy", "a")

	master, workers := p.nginxPids()
	reloads := p.metric("reloads_total")
	publish := func(eps ...netip.AddrPort) time.Time {
		t.Helper()
		cm.Data = map[string]string{upstream: dataplane.FormatEndpoints(eps)}
		if err := c.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		return time.Now()
	}
	// waitAnswer waits until nginx answers want, then checks it keeps
	// answering it (no stale address left behind), and logs how long the
	// change took to reach traffic.
	waitAnswer := func(what string, since time.Time, wantCode int, want string) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, what, func() error {
			code, body, err := p.get("http", "/proxy")
			if err != nil {
				return err
			}
			if code != wantCode || (want != "" && body != want) {
				return fmt.Errorf("%d %q, want %d %q", code, body, wantCode, want)
			}
			return nil
		})
		t.Logf("%s: %v from the ConfigMap update to the first answer", what, time.Since(since).Round(time.Millisecond))
		for range 20 {
			if code, body, err := p.get("http", "/proxy"); err != nil || code != wantCode || (want != "" && body != want) {
				t.Fatalf("%s: then %d %q %v", what, code, body, err)
			}
		}
	}

	waitAnswer("a replaced by b", publish(b), http.StatusOK, "b")
	waitAnswer("no endpoints answer 503", publish(), http.StatusServiceUnavailable, "")
	bad := namedBackend(t, "the backend's own 502", http.StatusBadGateway)
	waitAnswer("a backend's 502 passes through", publish(bad), http.StatusBadGateway, "the backend's own 502")
	since := publish(a, b)
	testenv.Eventually(t, 10*time.Second, "both a and b serve", func() error {
		seen := map[string]bool{}
		for range 10 {
			_, body, err := p.get("http", "/proxy")
			if err != nil {
				return err
			}
			seen[body] = true
		}
		if !seen["a"] || !seen["b"] || len(seen) != 2 {
			return fmt.Errorf("answers from %v, want a and b only", seen)
		}
		return nil
	})
	t.Logf("a and b: %v from the ConfigMap update", time.Since(since).Round(time.Millisecond))
	var live dataplane.LiveEndpoints
	if err := p.getJSON(dataplane.LiveEndpointsPath, &live); err != nil {
		t.Fatal(err)
	}
	wantEps := []string{a.String(), b.String()}
	slices.Sort(wantEps)
	if !live.Synced || len(live.Upstreams) != 1 || !slices.Equal(live.Upstreams[upstream], wantEps) {
		t.Errorf("%s = %+v, want %s: %v", dataplane.LiveEndpointsPath, live, upstream, wantEps)
	}

	master2, workers2 := p.nginxPids()
	slices.Sort(workers)
	slices.Sort(workers2)
	if master2 != master || !slices.Equal(workers, workers2) {
		t.Errorf("nginx processes changed: master %d → %d, workers %v → %v (a reload or a restart)", master, master2, workers, workers2)
	}
	if got := p.metric("reloads_total"); got != reloads {
		t.Errorf("reloads_total %v → %v: an endpoint change reloaded nginx", reloads, got)
	}
	if got := p.metric("endpoints_updates_total"); got < 5 {
		t.Errorf("endpoints_updates_total = %v, want at least 5 (one per version)", got)
	}
	// Each of the four changes was waited for until served, so nginx asked
	// for it once: how long nginx's re-resolution timer made it wait.
	if got := p.histogramCount("endpoints_pickup_seconds"); got != 4 {
		t.Errorf("endpoints_pickup_seconds has %d observations, want 4 (one per change)", got)
	} else {
		sum := p.family("endpoints_pickup_seconds").Metric[0].Histogram.GetSampleSum()
		t.Logf("the sidecar serving a change → nginx asking for it: mean %v over 4 changes", seconds(sum/4))
	}
}
