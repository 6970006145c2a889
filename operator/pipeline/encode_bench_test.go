package pipeline

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/configsource"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
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

// BenchmarkEncodeLiveHeap is the encode step of a route change with n
// routes (RerunLean's: the source document written, the files compressed
// against the last run's, hashed) watched by the garbage collector, as
// render's BenchmarkRenderAfterLiveHeap: peak-live-MB is the largest live
// heap a collection found during the step, less what was live before it
// (the model, the new files, and the last run's files and encoding, which
// the step is the last to hold: it may let them go as it goes). GOGC is 5
// so that collections run often within the step.
func BenchmarkEncodeLiveHeap(b *testing.B) {
	for _, n := range []int{3000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			in := manyRoutes(n)
			last := Run(in)
			path := "/r0-changed"
			in.HTTPRoutes[0].Spec.Rules[0].Matches[0].Path.Value = &path
			gw := translate.Translate(in).Gateways[0]
			lastFiles, lastEncoded := last.Files[gw.NamespacedName], last.Encoded[gw.NamespacedName]
			lastSource := len(lastFiles.Config[dataplane.SourceFile])
			peak := testenv.NewLiveHeapPeak(b)
			for b.Loop() {
				b.StopTimer()
				files, _, err := render.RenderAfter(gw.Model, render.Fragments{})
				if err != nil {
					b.Fatal(err)
				}
				// The step's own copy of the last files, as rerun's.
				prevConfig := map[string][]byte{}
				for name, content := range lastFiles.Config {
					if name != dataplane.SourceFile {
						prevConfig[name] = bytes.Clone(content)
					}
				}
				b.StartTimer()
				peak.Measure(func() { encode(gw.Model, files, lastSource, prevConfig, lastEncoded) })
			}
			peak.Report(b)
		})
	}
}
