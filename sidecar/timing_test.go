package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// routesConfig is httpConfig plus n virtual servers, each with one location
// proxying to its own upstream (zone + keepalive, as the operator renders).
func routesConfig(ip, backend string, version, n int, cert certPair) config {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `}
upstream u%[1]d {
    zone u%[1]d 64k;
    server %[3]s;
    keepalive 4;
}
server {
    listen %[2]s:8080;
    server_name r%[1]d.example.com;
    location /r%[1]d/ {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://u%[1]d;
    }
`, i, ip, backend)
	}
	return httpConfig(ip, backend, version, cert, b.String())
}

// TestReloadTimings applies a small config and one with 1,000 routes a few
// times each, checks that the routes are served, and logs how long nginx -t
// and the reload (signal until new workers run) took, from the sidecar's
// own metrics.
func TestReloadTimings(t *testing.T) {
	const rounds = 5
	for _, tc := range []struct {
		name   string
		routes int
	}{
		{"small", 0},
		{"1000 routes", 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t)
			backend := okBackend(t)
			cert := newCert(t)
			p.write(routesConfig(p.ip, backend, 0, tc.routes, cert))
			p.startSidecar()
			p.startNginx()
			p.waitServed("/", "v=0")
			var validations, reloads []time.Duration
			for v := 1; v <= rounds; v++ {
				c := routesConfig(p.ip, backend, v, tc.routes, cert)
				p.write(c)
				p.waitApplied(c.hash())
				validations = append(validations, seconds(p.metric("last_validation_duration_seconds")))
				reloads = append(reloads, seconds(p.metric("last_reload_duration_seconds")))
			}
			p.waitServed("/", fmt.Sprintf("v=%d", rounds))
			if tc.routes > 0 {
				last := tc.routes - 1
				req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s:8080/r%d/x", p.ip, last), nil)
				req.Host = fmt.Sprintf("r%d.example.com", last)
				resp, err := p.httpClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != "backend" {
					t.Errorf("route %d answers %d %q, want 200 backend", last, resp.StatusCode, body)
				}
			}
			t.Logf("%s: nginx -t median %v (min %v, max %v); reload median %v (min %v, max %v)", tc.name,
				median(validations), slices.Min(validations), slices.Max(validations),
				median(reloads), slices.Min(reloads), slices.Max(reloads))
		})
	}
}

// minReloadInterval is the sidecar's default --min-reload-interval.
const minReloadInterval = 250 * time.Millisecond

func seconds(s float64) time.Duration {
	return time.Duration(s * float64(time.Second)).Round(100 * time.Microsecond)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkApply measures one config change end to end (mount update to
// the applied hash seen in the sidecar's metrics: ns/op, which includes the
// metric's polling) with and without a separate nginx -t before the
// reload, and reports from the sidecar's own step times (same clock) the
// first file event → staged (staged-ms/op: waiting before the reload, or
// nginx -t) and → new workers running (serving-ms/op), and nginx -t and
// reload times separately. Changes are --min-reload-interval apart (the
// wait is outside the timer), as single route changes are in a cluster.
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		name   string
		routes int
	}{
		{"small", 0},
		{"routes=1000", 1000},
		{"routes=3000", 3000},
	} {
		for _, validate := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/validate-before-reload=%v", tc.name, validate), func(b *testing.B) {
				p := newPod(b)
				backend := okBackend(b)
				cert := newCert(b)
				p.extraSidecarArgs = []string{fmt.Sprintf("--validate-before-reload=%v", validate)}
				p.write(routesConfig(p.ip, backend, 0, tc.routes, cert))
				p.startSidecar()
				p.startNginx()
				p.waitServed("/", "v=0")
				validations := p.metric("validations_total")
				var validation, reload, staged, serving time.Duration
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					time.Sleep(minReloadInterval)
					b.StartTimer()
					c := routesConfig(p.ip, backend, i+1, tc.routes, cert)
					p.write(c)
					p.waitApplied(c.hash())
					if validate {
						validation += seconds(p.metric("last_validation_duration_seconds"))
					}
					reload += seconds(p.metric("last_reload_duration_seconds"))
					steps := p.stepTimes()
					staged += steps[dataplane.StepValidated].Sub(steps[dataplane.StepMountChanged])
					serving += steps[dataplane.StepReloaded].Sub(steps[dataplane.StepMountChanged])
				}
				b.StopTimer()
				if got := p.metric("validations_total") - validations; !validate && got != 0 {
					b.Errorf("%v nginx -t runs with --validate-before-reload=false", got)
				}
				b.ReportMetric(float64(validation.Milliseconds())/float64(b.N), "validate-ms/op")
				b.ReportMetric(float64(reload.Milliseconds())/float64(b.N), "reload-ms/op")
				b.ReportMetric(float64(staged.Microseconds())/1000/float64(b.N), "staged-ms/op")
				b.ReportMetric(float64(serving.Microseconds())/1000/float64(b.N), "serving-ms/op")
			})
		}
	}
}
