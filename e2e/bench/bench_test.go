//go:build benche2e

package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/churn"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/product"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var (
	sizesFlag        = flag.String("bench.sizes", "100,1000,3000", "route counts on the Gateway, measured in this order")
	changesFlag      = flag.Int("bench.changes", 20, "route changes measured per size (and under load)")
	churnAtFlag      = flag.Int("bench.churn-at", 1000, "route count at which route churn under load is measured (0: not measured)")
	replacementsFlag = flag.Int("bench.replacements", 100, "backend pod replacements under traffic for endpoint churn (0: not measured)")
	loadFlag         = flag.Duration("bench.throughput", 10*time.Second, "duration of each throughput run (0: not measured)")
	outFlag          = flag.String("bench.out", "", "markdown file the results are written to (e.g. docs/performance.md); empty: logged only")
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
		sz.OperatorRSS, sz.OperatorAnon, sz.OperatorPeak = b.operatorRSS()
		sz.OperatorSettledRSS, sz.OperatorSettledAnon = b.settledOperatorRSS()
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

// endpointChurn replaces the echo backend's pods -bench.replacements times
// (rollout restarts of its two-replica Deployment, each waited for until
// its new pods served) behind the Gateway's route /r0 while clients that
// never retry request it, observed by e2e/churn as the e2e test
// EndpointChurnWithoutReload does: nginx reloads (must be 0), failed
// requests (must be 0), pod Ready → address in the endpoints ConfigMap →
// first request served. nil when not measured.
func endpointChurn(ctx context.Context, b *bench) *endpointFigures {
	if *replacementsFlag <= 0 {
		return nil
	}
	const replicas = 2
	o := churn.Observe(ctx, b.t, churn.Target{Cluster: b.c, Namespace: namespace, Gateway: gatewayName,
		Backend: "app.kubernetes.io/name=" + backendService, URL: b.url + "/r0/churn", Clients: trafficLoops})
	restarts := (*replacementsFlag + replicas - 1) / replicas
	for range restarts {
		if _, err := clustertest.Kubectl(ctx, b.c, "rollout", "restart", "-n", namespace, "deployment/"+backendService); err != nil {
			b.t.Fatal(err)
		}
		if _, err := clustertest.Kubectl(ctx, b.c, "rollout", "status", "-n", namespace, "deployment/"+backendService, "--timeout=180s"); err != nil {
			b.t.Fatal(err)
		}
		o.WaitNewPodsServed()
	}
	o.WaitServedBy(replicas)
	res := o.Finish()
	b.t.Logf("bench: endpoint churn: %d requests, %d failed, reloads %v → %v, new pods served %d", res.Requests, len(res.Failures), res.ReloadsBefore, res.ReloadsAfter, res.NewPods)
	for i, f := range res.Failures {
		if i == 5 {
			break
		}
		b.t.Logf("bench: endpoint churn: failed request %s", f)
	}
	return &endpointFigures{
		Replacements:     restarts * replicas,
		Routes:           len(b.paths),
		Reloads:          int(res.ReloadsAfter - res.ReloadsBefore),
		NewProcesses:     newProcesses(res.ProcessesBefore, res.ProcessesAfter),
		Requests:         res.Requests,
		Failed:           len(res.Failures),
		FirstFailures:    res.Failures[:min(len(res.Failures), 3)],
		NewPods:          res.NewPods,
		ReadyToPublished: percentilesOf(res.ReadyToPublished),
		ReadyToServed:    percentilesOf(res.ReadyToServed),
	}
}

// newProcesses counts the pids of after that are not in before.
func newProcesses(before, after []int) int {
	n := 0
	for _, pid := range after {
		if !slices.Contains(before, pid) {
			n++
		}
	}
	return n
}

// endpointFigures are the endpoint-churn results (see endpointChurn).
type endpointFigures struct {
	Replacements, Routes, Reloads, Requests, Failed int
	// NewProcesses counts the nginx processes (master, workers) in the
	// gateway pod's network namespace after that were not there before: a
	// reload or restart starts some. (Fewer after is fine: workers of an
	// earlier reload that were still draining, and plain nginx's, share
	// the namespace.)
	NewProcesses  int
	FirstFailures []string
	// NewPods is how many new pods were seen Ready and then serving.
	NewPods                         int
	ReadyToPublished, ReadyToServed percentiles
}
