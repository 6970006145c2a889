package render

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// routesModel is the shape users run at scale and e2e/bench measures: n
// HTTPRoutes on one Gateway listener without hostname, each a PathPrefix
// /r<i> to its own Service (one upstream per route, the costly case for
// nginx's upstream lookups), with the names translate gives
// (<namespace>_<service>_<port>).
func routesModel(n int) *model.Gateway {
	gw := &model.Gateway{Namespace: "default", Name: "bench", Settings: testSettings()}
	srv := model.HTTPServer{Port: 80, Default: true, Listeners: []string{"http"}}
	for i := range n {
		svc := fmt.Sprintf("backend-service-%d", i)
		up := model.Upstream{Name: fmt.Sprintf("default_backend_service_%d_80", i), ServiceNamespace: "default", ServiceName: svc, ServicePort: 80,
			Protocol: model.ProtocolHTTP1}
		gw.Upstreams = append(gw.Upstreams, up)
		rule := &model.Rule{ID: fmt.Sprintf("r%d", i), Route: route(fmt.Sprintf("route-%d", i), 0), Backends: []model.Backend{backend(up.Name, 1)}}
		srv.Locations = append(srv.Locations, prefix(fmt.Sprintf("/r%d", i), always(rule)))
	}
	slices.SortFunc(gw.Upstreams, func(a, b model.Upstream) int { return strings.Compare(a.Name, b.Name) })
	gw.HTTPServers = []model.HTTPServer{srv}
	return gw
}

// handWritten is the config a person writes for routesModel(n): the same
// upstreams (zone, keepalive) and, per route, the two locations that mean
// PathPrefix, each proxying with the same request headers, and an access
// log; upstream names as short as they get (s<i>: nginx compares names
// for every proxy_pass, see upstreamRef). The floor our rendered config is
// held to. Its upstreams list fixed addresses, so it has no resolver; with
// resolve, each names its Service by DNS (`server … service=http resolve`,
// a resolver in http{}), as ours must to follow endpoint changes without a
// reload: the floor of the same meaning.
func handWritten(n int, resolve bool) map[string][]byte {
	var b strings.Builder
	b.WriteString(`worker_processes 1;
events { worker_connections 1024; }
http {
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    fastcgi_temp_path fastcgi_temp;
    uwsgi_temp_path uwsgi_temp;
    scgi_temp_path scgi_temp;
    access_log "" combined;
    proxy_http_version 1.1;
    proxy_set_header Host $http_host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Connection "";
`)
	zoneKB := roundUp(4*n, 1024, 1024) // as much as the rendered config's zone
	if resolve {
		b.WriteString("    resolver 127.0.0.1:53;\n")
	}
	for i := range n {
		server := fmt.Sprintf("10.%d.%d.%d:8080", i/65536, i/256%256, i%256)
		if resolve {
			server = fmt.Sprintf("backend-service-%d.default.svc service=http resolve", i)
		}
		fmt.Fprintf(&b, "    upstream s%d {\n        zone upstreams %dk;\n        server %s;\n        keepalive 32;\n    }\n", i, zoneKB, server)
	}
	b.WriteString("    server {\n        listen 80 default_server;\n")
	for i := range n {
		fmt.Fprintf(&b, "        location = /r%[1]d { proxy_pass http://s%[1]d; }\n        location /r%[1]d/ { proxy_pass http://s%[1]d; }\n", i)
	}
	b.WriteString("        location / { return 404; }\n    }\n}\n")
	return map[string][]byte{"nginx.conf": []byte(b.String())}
}

// BenchmarkNginxCheck runs `nginx -t` on the rendered config of
// routesModel(n) and on the hand-written config of the same routes, and
// reports their ratio (goal: ≤ 1.1) by wall time, by CPU time (user and
// system) and by minor page faults (memory nginx touched: the system half
// of its CPU time, which BenchmarkNginxCheckInstructions does not count; a
// figure that does not move with the machine's load).
func BenchmarkNginxCheck(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("nginx -t runs nginx with chroot, which needs root")
	}
	type cost struct {
		wall, cpu time.Duration
		faults    float64
	}
	for _, n := range []int{1000, 3000, 5000} {
		files, err := Render(routesModel(n))
		if err != nil {
			b.Fatal(err)
		}
		trees := map[string]map[string][]byte{"rendered": merged(files), "hand-written": handWritten(n, false)}
		costs := map[string]cost{}
		for _, kind := range []string{"rendered", "hand-written"} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, kind), func(b *testing.B) {
				dir := b.TempDir()
				writeTree(b, dir, trees[kind])
				var c cost
				start := time.Now()
				for b.Loop() {
					usage, err := testenv.NginxTestUsage(dir)
					if err != nil {
						b.Fatal(err)
					}
					c.cpu += time.Duration(usage.Utime.Nano() + usage.Stime.Nano())
					c.faults += float64(usage.Minflt)
				}
				c.wall = time.Since(start) / time.Duration(b.N)
				c.cpu /= time.Duration(b.N)
				c.faults /= float64(b.N)
				b.ReportMetric(float64(c.cpu)/1e6, "cpu-ms/op")
				b.ReportMetric(c.faults, "page-faults/op")
				costs[kind] = c
			})
		}
		if hw := costs["hand-written"]; hw.wall > 0 {
			ours := costs["rendered"]
			b.Logf("routes=%d: rendered/hand-written nginx -t = %.2f× wall (%v / %v), %.2f× CPU (%v / %v), %.2f× page faults (%.0f / %.0f)", n,
				float64(ours.wall)/float64(hw.wall), ours.wall.Round(time.Millisecond), hw.wall.Round(time.Millisecond),
				float64(ours.cpu)/float64(hw.cpu), ours.cpu.Round(time.Millisecond), hw.cpu.Round(time.Millisecond),
				ours.faults/hw.faults, ours.faults, hw.faults)
		}
	}
}

// upstreamLookup is where nginx looks an upstream up by name, once for each
// proxy_pass, comparing it with every upstream before it
// (ngx_http_upstream_add, which calls ngx_strncasecmp for names of equal
// length): the cost quadratic in routes, and the one that takes the most
// instructions but, comparing bytes already in cache, the least time per
// instruction.
var upstreamLookup = []string{"ngx_http_upstream_add", "ngx_strncasecmp"}

// BenchmarkNginxCheckInstructions counts the instructions `nginx -t`
// executes for the rendered config of routesModel(n), the hand-written one
// and the hand-written one with resolve (same meaning as ours), with
// valgrind: figures that do not move with the machine's load, as
// BenchmarkNginxCheck's times do. It reports each count (Minstr-…) and the
// ratios of ours to each (ratio-…), also without nginx's upstream lookup
// (ratio-…-outside-lookup), whose instructions are cheap next to the rest,
// and the branches valgrind's simulated predictor guessed wrong
// (Mmispredicted-…, ratio-mispredicted-…), which cost time no instruction
// count shows: the instruction ratio and the time ratio are different
// measures, and both are reported (BenchmarkNginxCheck: time and page
// faults).
func BenchmarkNginxCheckInstructions(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("nginx -t runs nginx with chroot, which needs root")
	}
	if _, err := exec.LookPath("valgrind"); err != nil {
		b.Skip("counting instructions needs valgrind")
	}
	for _, n := range []int{1000, 3000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			files, err := Render(routesModel(n))
			if err != nil {
				b.Fatal(err)
			}
			kinds := []string{"rendered", "hand-written", "hand-written-resolve"}
			dirs := map[string]string{}
			for kind, tree := range map[string]map[string][]byte{"rendered": merged(files),
				"hand-written": handWritten(n, false), "hand-written-resolve": handWritten(n, true)} {
				dirs[kind] = b.TempDir()
				writeTree(b, dirs[kind], tree)
			}
			counts := map[string]testenv.NginxInstructions{}
			for b.Loop() {
				for _, kind := range kinds {
					if counts[kind], err = testenv.NginxTestInstructions(dirs[kind]); err != nil {
						b.Fatal(err)
					}
				}
			}
			ours := counts["rendered"]
			for _, kind := range kinds {
				b.ReportMetric(float64(counts[kind].Total)/1e6, "Minstr-"+kind)
				b.ReportMetric(float64(counts[kind].Mispredicted)/1e6, "Mmispredicted-"+kind)
			}
			line := fmt.Sprintf("routes=%d: rendered %.0f M instructions, %.1f M mispredicted branches", n, float64(ours.Total)/1e6, float64(ours.Mispredicted)/1e6)
			for _, kind := range kinds[1:] {
				floor := counts[kind]
				ratio := float64(ours.Total) / float64(floor.Total)
				outside := float64(ours.Total-ours.Sum(upstreamLookup...)) / float64(floor.Total-floor.Sum(upstreamLookup...))
				b.ReportMetric(ratio, "ratio-"+kind)
				b.ReportMetric(outside, "ratio-"+kind+"-outside-lookup")
				b.ReportMetric(float64(ours.Mispredicted)/float64(floor.Mispredicted), "ratio-mispredicted-"+kind)
				line += fmt.Sprintf("; /%s %.2f× (%.0f M), outside the upstream lookup %.2f× (%.0f / %.0f M), mispredicted %.2f× (%.1f M)", kind, ratio,
					float64(floor.Total)/1e6, outside, float64(ours.Total-ours.Sum(upstreamLookup...))/1e6,
					float64(floor.Total-floor.Sum(upstreamLookup...))/1e6, float64(ours.Mispredicted)/float64(floor.Mispredicted),
					float64(floor.Mispredicted)/1e6)
			}
			b.Log(line)
		})
	}
}
