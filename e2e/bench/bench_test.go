//go:build benche2e

package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/product"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var (
	sizesFlag   = flag.String("bench.sizes", "100,1000,3000", "route counts on the Gateway, measured in this order")
	changesFlag = flag.Int("bench.changes", 20, "route changes measured per size (and under load)")
	churnAtFlag = flag.Int("bench.churn-at", 1000, "route count at which route churn under load is measured (0: not measured)")
	loadFlag    = flag.Duration("bench.throughput", 10*time.Second, "duration of each throughput run (0: not measured)")
	outFlag     = flag.String("bench.out", "", "markdown file the results are written to (e.g. docs/performance.md); empty: logged only")
)

// TestBenchE2E runs the whole benchmark on one local cluster: the operator
// as users install it, a Gateway "bench" with N HTTPRoutes on the echo
// Service, and beside its pod (in the same network namespace, same
// backends) plain nginx with a hand-written config of the same routes.
func TestBenchE2E(t *testing.T) {
	clustertest.RequireRoot(t)
	sizes, err := parseSizes(*sizesFlag)
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	ctx, c, _ := product.StartForTest(t, bin, 55*time.Minute)
	b := newBench(ctx, t, c, filepath.Join(bin, "operator"))
	floor := startFloor(t, b)

	res := &results{Started: time.Now(), Changes: *changesFlag}
	for i, n := range sizes {
		t.Logf("bench: %d routes", n)
		b.fillRoutes(n)
		floor.setPaths(b.paths)
		if i == 0 && *loadFlag > 0 {
			res.Throughput = b.throughput(floor, *loadFlag)
		}
		sz := b.propagation(n, *changesFlag, floor)
		if n == *churnAtFlag {
			c := b.churn(*changesFlag)
			res.Churn = &c
		}
		sz.OperatorRSS = b.operatorRSS()
		res.Sizes = append(res.Sizes, sz)
		t.Logf("bench: %s", sz.summary())
	}
	res.Endpoints = endpointChurn(ctx, b)
	res.Finished = time.Now()
	md := res.markdown()
	t.Logf("results:\n%s", md)
	if *outFlag != "" {
		out := *outFlag
		if !filepath.IsAbs(out) {
			out = filepath.Join(testenv.RepoRoot(), out)
		}
		// What follows the marker in the file (figures of the Go benchmarks,
		// written by hand) is kept.
		kept := ""
		if old, err := os.ReadFile(out); err == nil {
			if i := strings.Index(string(old), endMarker); i >= 0 {
				kept = string(old[i+len(endMarker):])
			}
		}
		md += endMarker + kept
		if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// endMarker ends what the benchmark writes in docs/performance.md.
const endMarker = "\n<!-- end of what make bench-e2e writes; kept below: -->\n"

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-bench.sizes: %q is not a route count", f)
		}
		if len(sizes) > 0 && n <= sizes[len(sizes)-1] {
			return nil, fmt.Errorf("-bench.sizes must grow: routes are only added")
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

// endpointChurn is where the endpoint-churn figures plug in (issue 13,
// "Endpoints without reloads", built on another branch): 100 pod
// replacements behind a route under steady traffic, reloads (must be 0),
// failed requests (must be 0), time from pod Ready to its first request.
// It returns nil until that scenario exists; the report then says so.
func endpointChurn(ctx context.Context, b *bench) *endpointFigures {
	_, _ = ctx, b
	return nil
}

// endpointFigures are the endpoint-churn results (see endpointChurn).
type endpointFigures struct {
	Replacements, Reloads, Requests, Failed int
	ReadyToServed                           percentiles
}
