package pipeline

import (
	"fmt"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/configsource"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// BenchmarkEncodeSource is the source document's share of a change with
// n routes on one Gateway (BenchmarkChange's input): writing it
// (configsource.Encode) and compressing it for the ConfigMap; doc-KB and
// gz-KB are its sizes.
func BenchmarkEncodeSource(b *testing.B) {
	for _, n := range []int{1000, 3000, 5000} {
		for _, step := range []string{"encode", "gzip"} {
			b.Run(fmt.Sprintf("routes=%d/step=%s", n, step), func(b *testing.B) {
				res := Run(manyRoutes(n))
				gw := res.Output.Gateways[0]
				files := res.Files[gw.NamespacedName]
				b.ReportAllocs()
				cpu := testenv.CPUTime()
				var doc []byte
				var enc resources.EncodedConfig
				doc = configsource.Encode(gw.Model, files.Sources, len(doc))
				for b.Loop() {
					if step == "encode" {
						doc = configsource.Encode(gw.Model, files.Sources, len(doc))
					} else {
						enc = resources.EncodeConfig(map[string][]byte{dataplane.SourceFile: doc, dataplane.GzipSuffix: nil})
					}
				}
				b.ReportMetric(float64((testenv.CPUTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				b.ReportMetric(float64(len(doc))/1000, "doc-KB")
				b.ReportMetric(float64(len(enc.Binary[dataplane.SourceFile+dataplane.GzipSuffix]))/1000, "gz-KB")
			})
		}
	}
}
