//go:build benche2e

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// results are one run's figures.
type results struct {
	Started, Finished time.Time
	Changes           int
	Sizes             []sizeResult
	Churn             *churnResult
	Throughput        *throughputResult
	Endpoints         *endpointFigures
}

// markdown is docs/performance.md.
func (r *results) markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Performance\n\n")
	w("Written by `make bench-e2e` (`e2e/bench`, build tag `benche2e`) on the local cluster (`e2e/`): the operator as\n")
	w("`config/default` installs it, a Gateway `bench` with N HTTPRoutes (`PathPrefix /r<i>`) on the sample echo Service\n")
	w("(two pods), and beside the gateway pod, in its network namespace with the same backends, plain nginx from the same\n")
	w("root filesystem with a hand-written config of the same routes (one keepalive upstream, `location = /p` and\n")
	w("`location /p/` per route). Figures, not assertions; every client request below is on a fresh connection without retries\n")
	w("unless it says keepalive.\n\n")
	w("- Date: %s (measuring took %s)\n", r.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Finished.Sub(r.Started).Round(time.Second))
	w("- Machine: %s\n", machine())
	w("- Commit: %s\n\n", commit())

	w("## Route propagation\n\n")
	w("A new HTTPRoute is created; \"stored\" is when the API server answered the create, then the route is asked for every\n")
	w("5 ms through the Gateway's address until it answers 200. Plain nginx: its config gets the same route, SIGHUP, asked\n")
	w("for every 5 ms until 200 (the floor: what nginx itself needs on this machine), measured right after each change.\n")
	w("p50 / p90 / max over %d changes.\n\n", r.Changes)
	w("| routes | stored → first 200 | create sent → first 200 | plain nginx: reload → first 200 | p50 difference | operator RSS right after the changes (anonymous) | operator RSS settled (anonymous) | operator peak so far (VmHWM) |\n")
	w("|---|---|---|---|---|---|---|---|\n")
	for _, s := range r.Sizes {
		w("| %d | %s | %s | %s | %s | %s | %s | %s |\n", s.Routes, s.StoredToOK, s.CreateToOK, s.Floor, ms(s.StoredToOK.P50-s.Floor.P50),
			mib(s.OperatorRSS)+" ("+mib(s.OperatorAnon)+")", mib(s.OperatorSettledRSS)+" ("+mib(s.OperatorSettledAnon)+")", mib(s.OperatorPeak))
	}
	w("\nWhere our time goes (p50 of each step, from the previous one; the operator's steps are seen through watches,\n")
	w("the sidecar's from its metric `nginx_gateway_sidecar_last_apply_step_timestamp_seconds`, same clock):\n\n")
	w("| routes |")
	for _, n := range stepNames {
		w(" %s |", n)
	}
	w("\n|---|")
	for range stepNames {
		w("---|")
	}
	w("\n")
	for _, s := range r.Sizes {
		w("| %d |", s.Routes)
		for _, p := range s.Steps {
			if p.N == 0 {
				w(" – |")
			} else {
				w(" %s |", ms(p.P50))
			}
		}
		w("\n")
	}
	w("\n\"files visible in pod\" is the sidecar's first file event after the node agent (the kubelet's stand-in) re-synced\n")
	w("the pod's volumes on the annotation change; \"staged\" includes the sidecar's debounce and any wait for\n")
	w("`--min-reload-interval` (docs/design.md, \"One parse per route change\").\n\n")

	w("## Route churn under load\n\n")
	if c := r.Churn; c != nil {
		w("%d route changes at %d routes, one after the other (each until it serves), while %d clients request an existing\n", c.Changes, c.Routes, trafficLoops)
		w("route through the Gateway's address, each request on a fresh connection, never retried.\n\n")
		w("| requests | failed | worker generations alive at peak | stored → first 200 under load (p50 / p90 / max) |\n|---|---|---|---|\n")
		w("| %d | %d | %d | %s |\n\n", c.Requests, c.Failed, c.GenerationsPeak, c.StoredToOKUnderLoad)
		if len(c.FirstFailures) > 0 {
			w("First failures: %s\n\n", strings.Join(c.FirstFailures, "; "))
		}
	} else {
		w("Not measured in this run (`-bench.churn-at`).\n\n")
	}

	w("## Throughput\n\n")
	if t := r.Throughput; t != nil {
		w("`%s %s`, keepalive, on one route at %d routes, from the host to the gateway pod's address (port 80, the\n", t.Tool, t.Args, r.Sizes[0].Routes)
		w("Gateway's nginx) and to plain nginx in the same network namespace (hand-written keepalive config, same echo\n")
		w("backends); best of two runs each, alternating. Both nginx run `worker_processes auto` on this machine's cores.\n\n")
		w("| gateway | plain nginx | ratio |\n|---|---|---|\n")
		ratio := 0.0
		if t.Plain > 0 {
			ratio = t.Gateway / t.Plain
		}
		w("| %.0f req/s | %.0f req/s | %.2f× |\n\n", t.Gateway, t.Plain, ratio)
		if t.GatewayErrs != "" || t.PlainErrs != "" {
			w("Errors reported by wrk: gateway %q, plain nginx %q\n\n", t.GatewayErrs, t.PlainErrs)
		}
	} else {
		w("Not measured in this run (no wrk, or `-bench.throughput 0`).\n\n")
	}

	w("## Endpoint churn\n\n")
	if e := r.Endpoints; e != nil {
		w("%d pod replacements (rollout restarts of the two-replica echo Deployment, each until its new pods served) behind\n", e.Replacements)
		w("route `/r0` at %d routes, while %d clients request it through the Gateway's address, each request on a fresh\n", e.Routes, trafficLoops)
		w("connection, never retried (`e2e/churn`, shared with the e2e test `EndpointChurnWithoutReload`). Reloads: the\n")
		w("sidecar's `reloads_total` before and after; new nginx processes: pids in the gateway pod's network namespace after\n")
		w("that were not there before (a reload or a restart starts new ones).\n\n")
		w("| pod replacements | nginx reloads | new nginx processes | requests | failed | new pods served | pod Ready → address in the endpoints ConfigMap | pod Ready → first request served |\n")
		w("|---|---|---|---|---|---|---|---|\n")
		w("| %d | %d | %d | %d | %d | %d | %s | %s |\n\n", e.Replacements, e.Reloads, e.NewProcesses, e.Requests, e.Failed, e.NewPods, e.ReadyToPublished, e.ReadyToServed)
		w("p50 / p90 / max. Most of Ready → first request is nginx re-resolving each upstream one second after its last\n")
		w("answer (docs/design.md, \"Endpoints: no reload\").\n\n")
		if len(e.FirstFailures) > 0 {
			w("First failures: %s\n\n", strings.Join(e.FirstFailures, "; "))
		}
	} else {
		w("Not measured in this run (`-bench.replacements 0`).\n\n")
	}
	return b.String()
}

func mib(n int64) string {
	if n == 0 {
		return "–"
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// machine describes the host: CPU model, cores, memory, kernel.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(data), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.1f GiB memory", float64(kb)/(1<<20))
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d cores%s, Linux %s (shared with other work while measured)", model, runtime.NumCPU(), mem, strings.TrimSpace(string(kernel)))
}

func commit() string {
	out, err := exec.Command("git", "-C", testenv.RepoRoot(), "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
