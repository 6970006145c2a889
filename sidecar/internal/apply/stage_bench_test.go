package apply

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
)

// operatorShapedConfig is a ConfigMap of n routes as the operator stores
// it (every file gzipped): servers.conf, upstreams.conf and the source
// document at about the sizes pipeline.BenchmarkChange's Gateway renders
// (310, 200 and 570 bytes a route).
func operatorShapedConfig(t testing.TB, n int) map[string][]byte {
	var servers, upstreams, source strings.Builder
	source.WriteString(`{"Version":1,"Gateway":{"HTTPServers":[{"Locations":[`)
	for i := range n {
		fmt.Fprintf(&servers, "    location /r%[1]d {\n        set $ngo_route \"default/route-%[1]d\";\n        proxy_pass http://default_svc_%[1]d_80$ngo_uri;\n        proxy_set_header Host $host;\n        proxy_http_version 1.1;\n        proxy_set_header Connection \"\";\n    }\n    location = /r%[1]d {\n        proxy_pass http://default_svc_%[1]d_80;\n    }\n", i)
		fmt.Fprintf(&upstreams, "upstream default_svc_%[1]d_80 {\n    zone default_svc_%[1]d_80 64k;\n    server ngo-default-svc-%[1]d-80.endpoints.local:8080 resolve;\n    keepalive 16;\n    keepalive_timeout 60s;\n}\n", i)
		fmt.Fprintf(&source, `{"Path":"/r%[1]d","Match":"PathPrefix","Candidates":[{"Rule":{"ID":"r%[1]d","Route":{"Kind":"HTTPRoute","Namespace":"default","Name":"route-%[1]d"},"Backends":[{"Upstream":"default_svc_%[1]d_80","Weight":1}]},"PathField":"spec.rules[0].matches[0].path.value"}]},{"From":%[1]d,"To":%[1]d,"Route":{"Kind":"HTTPRoute","Namespace":"default","Name":"route-%[1]d"}},{"Name":"default_svc_%[1]d_80","ServiceNamespace":"default","ServiceName":"svc-%[1]d","ServicePort":80,"Protocol":"http"},`, i)
	}
	source.WriteString(`{}]}]}}`)
	return map[string][]byte{
		"nginx.conf.gz":     testenv.Gzip(t, []byte("events {}\nhttp { include servers.conf; include upstreams.conf; }\n")),
		"servers.conf.gz":   testenv.Gzip(t, []byte(servers.String())),
		"upstreams.conf.gz": testenv.Gzip(t, []byte(upstreams.String())),
		dataplane.SourceFile + dataplane.GzipSuffix: testenv.Gzip(t, []byte(source.String())),
	}
}

// BenchmarkStage is the sidecar's "staged" step without nginx: read both
// mounts, decompress, hash and write the staging folder, for a ConfigMap
// of n routes shaped as the operator stores it. Each of the four is
// timed apart (CPU time of the process, ms per op).
func BenchmarkStage(b *testing.B) {
	for _, n := range []int{1000, 3000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			a, cfg := newApplierWith(b, b.TempDir(), func(*Config) {})
			if err := kubeletvolume.WriteKeys(cfg.ConfigDir, operatorShapedConfig(b, n), 0o644); err != nil {
				b.Fatal(err)
			}
			if err := kubeletvolume.WriteKeys(cfg.SecretDir, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}, 0o600); err != nil {
				b.Fatal(err)
			}
			var read, expand, hash, stage time.Duration
			size := 0
			b.ReportAllocs()
			for b.Loop() {
				t0 := testenv.CPUTime()
				config, _, err := mount.ReadWithKey(cfg.ConfigDir, dataplane.SecretsHashKey)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := mount.Read(cfg.SecretDir); err != nil {
					b.Fatal(err)
				}
				t1 := testenv.CPUTime()
				files, err := mount.Expand(config, a.cfg.limits())
				if err != nil {
					b.Fatal(err)
				}
				t2 := testenv.CPUTime()
				h := dataplane.Hash(mount.Contents(files))
				t3 := testenv.CPUTime()
				dir, err := a.stage(h, files)
				if err != nil {
					b.Fatal(err)
				}
				t4 := testenv.CPUTime()
				read, expand, hash, stage = read+t1-t0, expand+t2-t1, hash+t3-t2, stage+t4-t3
				size = 0
				for _, f := range files {
					size += len(f.Data)
				}
				if err := os.RemoveAll(dir); err != nil {
					b.Fatal(err)
				}
			}
			perOp := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(b.N) }
			b.ReportMetric(perOp(read), "read-ms/op")
			b.ReportMetric(perOp(expand), "gunzip-ms/op")
			b.ReportMetric(perOp(hash), "hash-ms/op")
			b.ReportMetric(perOp(stage), "write-ms/op")
			b.ReportMetric(float64(size)/1000, "tree-KB")
		})
	}
}
