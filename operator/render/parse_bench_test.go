package render

import (
	"fmt"
	"os"
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
// held to.
func handWritten(n int) map[string][]byte {
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
	for i := range n {
		fmt.Fprintf(&b, "    upstream s%d {\n        zone upstreams %dk;\n        server 10.%d.%d.%d:8080;\n        keepalive 32;\n    }\n",
			i, zoneKB, i/65536, i/256%256, i%256)
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
// reports their ratio (goal: ≤ 1.1).
func BenchmarkNginxCheck(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("nginx -t runs nginx with chroot, which needs root")
	}
	for _, n := range []int{1000, 3000, 5000} {
		files, err := Render(routesModel(n))
		if err != nil {
			b.Fatal(err)
		}
		trees := map[string]map[string][]byte{"rendered": merged(files), "hand-written": handWritten(n)}
		var took = map[string]time.Duration{}
		for _, kind := range []string{"rendered", "hand-written"} {
			b.Run(fmt.Sprintf("routes=%d/%s", n, kind), func(b *testing.B) {
				dir := b.TempDir()
				writeTree(b, dir, trees[kind])
				start := time.Now()
				for b.Loop() {
					testenv.RequireNginxTest(b, dir)
				}
				took[kind] = time.Since(start) / time.Duration(b.N)
			})
		}
		if took["hand-written"] > 0 {
			b.Logf("routes=%d: rendered/hand-written nginx -t = %.2f× (%v / %v)", n,
				float64(took["rendered"])/float64(took["hand-written"]), took["rendered"].Round(time.Millisecond), took["hand-written"].Round(time.Millisecond))
		}
	}
}
