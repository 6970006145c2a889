package render

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// largeModel has n hostnames, each a server with an inline location and a
// location dispatching on a header and a query parameter, and n upstreams.
func largeModel(n int) *model.Gateway {
	gw := &model.Gateway{Namespace: "default", Name: "large", Settings: testSettings()}
	gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{Port: 80, Default: true})
	for i := range n {
		up := upstream(fmt.Sprintf("default_svc%d_80", i))
		gw.Upstreams = append(gw.Upstreams, up)
		main := &model.Rule{ID: fmt.Sprintf("r%d", 2*i), Route: route(fmt.Sprintf("route-%d", i), 0), Backends: []model.Backend{backend(up.Name, 1)}}
		canary := &model.Rule{ID: fmt.Sprintf("r%d", 2*i+1), Route: route(fmt.Sprintf("route-%d", i), 1), Backends: []model.Backend{backend(up.Name, 1)},
			RequestHeaders: model.HeaderModifier{Set: []model.Header{{Name: "X-Canary", Value: "1"}}}}
		gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{
			Port: 80, Hostname: fmt.Sprintf("app-%d.a-rather-long-domain-name-for-testing.example.com", i),
			Locations: []model.Location{
				prefix("/api", when(canary, header("x-canary", "yes"), query("v", fmt.Sprint(i))), always(main)),
				prefix("/", always(main)),
			},
		})
	}
	return gw
}

func BenchmarkRender3000Routes(b *testing.B) {
	gw := largeModel(3000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(gw); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLargeConfigAccepted checks that nginx accepts a config of 3,000
// routes: hash sizes for server names, variables and maps must fit.
func TestLargeConfigAccepted(t *testing.T) {
	if testing.Short() {
		t.Skip("nginx -t on a large config")
	}
	files, err := Render(largeModel(3000))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeTree(t, dir, merged(files))
	testenv.RequireNginxTest(t, dir)
}

// BenchmarkRenderAfterChange is the render step of one route change: a
// Gateway of n routes (one server, routesModel) rendered again after one
// location's path changed, with the last render's Fragments, as
// pipeline.Rerun does. cpu-ms/op is the process's CPU time per render,
// garbage collection included.
func BenchmarkRenderAfterChange(b *testing.B) {
	for _, n := range []int{1000, 3000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			gw := routesModel(n)
			_, frags, err := RenderAfter(gw, Fragments{})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu := testenv.CPUTime()
			i := 0
			for b.Loop() {
				i++
				gw.HTTPServers[0].Locations[0].Path = fmt.Sprintf("/r0-%d", i%2)
				if _, frags, err = RenderAfter(gw, frags); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((testenv.CPUTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// BenchmarkRenderAfterLiveHeap is BenchmarkRenderAfterChange watched by
// the garbage collector: peak-live-MB is the largest live heap a
// collection found during a render, less what was live before it (the
// model and the last render's files and Fragments, which pipeline.Memo
// keeps). That, not what a render allocates in all, is what raises the
// operator's heap goal (GOGC) when a collection runs in the middle of a
// change. GOGC is 5 here so that collections run often within a render.
func BenchmarkRenderAfterLiveHeap(b *testing.B) {
	for _, n := range []int{3000, 5000} {
		b.Run(fmt.Sprintf("routes=%d", n), func(b *testing.B) {
			gw := routesModel(n)
			files, frags, err := RenderAfter(gw, Fragments{})
			if err != nil {
				b.Fatal(err)
			}
			peak := testenv.NewLiveHeapPeak(b)
			i := 0
			for b.Loop() {
				i++
				gw.HTTPServers[0].Locations[0].Path = fmt.Sprintf("/r0-%d", i%2)
				var next Files
				var nextFrags Fragments
				peak.Measure(func() { next, nextFrags, err = RenderAfter(gw, frags) })
				if err != nil {
					b.Fatal(err)
				}
				runtime.KeepAlive(files)
				files, frags = next, nextFrags
			}
			peak.Report(b)
		})
	}
}
