package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// statusServer is the rendered status server (templates/upstreams.conf.tmpl)
// as a test config's extra: it closes httpConfig's server and opens nginx's
// status server on the socket the sidecar reads, under the pod's run folder.
func (p *gatewayPod) statusServer() string {
	socket := inside(filepath.Join(p.run, filepath.Base(dataplane.SocketPath), dataplane.NginxStatusSocket))
	return fmt.Sprintf("}\nserver {\n    listen unix:%s;\n    access_log off;\n    location = %s { stub_status; }\n",
		socket, dataplane.NginxStatusURI)
}

// nginxCounters are the nginx_gateway_nginx_* values of one scrape.
func (p *gatewayPod) nginxCounters() (map[string]float64, error) {
	fams, err := p.metrics()
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for name, fam := range fams {
		rest, ok := strings.CutPrefix(name, "nginx_gateway_nginx_")
		if !ok || len(fam.Metric) != 1 {
			continue
		}
		if m := fam.Metric[0]; m.Counter != nil {
			out[rest] = m.Counter.GetValue()
		} else if m.Gauge != nil {
			out[rest] = m.Gauge.GetValue()
		}
	}
	return out, nil
}

// waitNginxGauges waits until the scrape's connection gauges are want.
func (p *gatewayPod) waitNginxGauges(want map[string]float64) map[string]float64 {
	p.t.Helper()
	var got map[string]float64
	testenv.Eventually(p.t, 10*time.Second, "nginx connection gauges", func() error {
		var err error
		if got, err = p.nginxCounters(); err != nil {
			return err
		}
		for name, v := range want {
			if got[name] != v {
				return fmt.Errorf("%s = %v, want %v (scrape: %v)", name, got[name], v, got)
			}
		}
		return nil
	})
	return got
}

// TestNginxCountersExported: the sidecar exports nginx's own counters
// (stub_status, read over the status server's unix socket at each scrape),
// and requests through nginx move them exactly: each request on a fresh
// connection adds one accepted and handled connection and one request, as
// does the scrape itself. Connections held open show as waiting (idle
// keep-alive) and reading (a request header not finished); the scrape is
// the one writing. A stopped nginx is reported down.
func TestNginxCountersExported(t *testing.T) {
	p := newPod(t)
	backend := okBackend(t)
	p.serve(httpConfig(p.ip, backend, 1, newCert(t), p.statusServer()), "v=1")
	p.httpClient.CloseIdleConnections()
	before := p.waitNginxGauges(map[string]float64{"up": 1, "connections_active": 1, "connections_writing": 1, "connections_reading": 0, "connections_waiting": 0})

	const requests = 7
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range requests {
		path := []string{"/", "/proxy"}[i%2]
		resp, err := fresh.Get(fmt.Sprintf("http://%s:8080%s", p.ip, path))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d", path, resp.StatusCode)
		}
	}
	after, err := p.nginxCounters()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"connections_accepted_total", "connections_handled_total", "http_requests_total"} {
		// +1: the second scrape's own connection and request.
		if got := after[name] - before[name]; got != requests+1 {
			t.Errorf("%s moved by %v over %d requests and one scrape, want %d", name, got, requests, requests+1)
		}
	}

	idle := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}
	defer idle.CloseIdleConnections()
	resp, err := idle.Get(fmt.Sprintf("http://%s:8080/", p.ip))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close() // the connection stays open, idle
	partial, err := net.Dial("tcp", net.JoinHostPort(p.ip, "8080"))
	if err != nil {
		t.Fatal(err)
	}
	defer partial.Close()
	if _, err := io.WriteString(partial, "GET / HTTP/1.1\r\nHost: gateway.test\r\n"); err != nil {
		t.Fatal(err)
	}
	p.waitNginxGauges(map[string]float64{"connections_active": 3, "connections_reading": 1, "connections_writing": 1, "connections_waiting": 1})

	p.nginx.stop(10 * time.Second)
	got := p.waitNginxGauges(map[string]float64{"up": 0})
	if _, ok := got["http_requests_total"]; ok {
		t.Errorf("counters exported while nginx is down: %v", got)
	}
}

// histogramCount is the number of observations of a sidecar histogram.
func (p *gatewayPod) histogramCount(name string) uint64 {
	p.t.Helper()
	fam := p.family(name)
	if fam == nil || fam.GetType() != dto.MetricType_HISTOGRAM || len(fam.Metric) != 1 {
		p.t.Fatalf("%s is not one histogram: %v", name, fam)
	}
	return fam.Metric[0].Histogram.GetSampleCount()
}

// waitMetric waits until a sidecar gauge or counter is want.
func (p *gatewayPod) waitMetric(name string, want float64) {
	p.t.Helper()
	testenv.Eventually(p.t, 10*time.Second, name, func() error {
		if got := p.metric(name); got != want {
			return fmt.Errorf("%s = %v, want %v", name, got, want)
		}
		return nil
	})
}

// TestReloadAndSyncMetrics: every nginx -t and reload is observed in the
// duration histograms (as many as the counters say), the last reload's
// outcome and time are exported, and config_in_sync / config_rejected
// follow the newest config read from the mounts: served, refused, served.
func TestReloadAndSyncMetrics(t *testing.T) {
	p := newPod(t)
	backend := okBackend(t)
	cert := newCert(t)
	p.serve(httpConfig(p.ip, backend, 1, cert, ""), "v=1")
	p.waitMetric("config_in_sync", 1)
	p.waitMetric("config_rejected", 0)

	start := time.Now()
	v2 := httpConfig(p.ip, backend, 2, cert, "")
	p.write(v2)
	p.waitApplied(v2.hash())
	p.waitMetric("config_in_sync", 1)
	p.waitMetric("last_reload_success", 1)
	if at := p.metric("last_reload_timestamp_seconds"); at < float64(start.Unix()) || at > float64(time.Now().Unix()+1) {
		t.Errorf("last reload at %v, want between %v and now", at, start.Unix())
	}

	bad := httpConfig(p.ip, backend, 3, cert, "    location /typo { retrun 200; }")
	p.write(bad)
	p.waitMetric("config_rejected", 1)
	p.waitMetric("config_in_sync", 0)
	p.waitMetric("last_reload_success", 0)

	v4 := httpConfig(p.ip, backend, 4, cert, "")
	p.write(v4)
	p.waitApplied(v4.hash())
	p.waitMetric("config_in_sync", 1)
	p.waitMetric("config_rejected", 0)
	p.waitMetric("last_reload_success", 1)

	// Two good reloads after the start (v2, v4), one refused (v3); nginx -t
	// ran once, before nginx started from v1.
	if got := p.histogramCount("reload_duration_seconds"); got != 3 || float64(got) != p.metric("reloads_total") {
		t.Errorf("reload_duration_seconds has %d observations, reloads_total %v; want 3 each", got, p.metric("reloads_total"))
	}
	if got := p.histogramCount("validation_duration_seconds"); got != 1 || float64(got) != p.metric("validations_total") {
		t.Errorf("validation_duration_seconds has %d observations, validations_total %v; want 1 each", got, p.metric("validations_total"))
	}
}
