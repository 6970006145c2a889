package nginxproc

import (
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

func TestWorkerCount(t *testing.T) {
	for _, tc := range []struct {
		name         string
		workers, cpu string
		numCPU, want int
	}{
		{"not asked: the config decides", "", "2000", 4, 0},
		{"unlimited: the CPUs", "auto", "", 4, 4},
		{"unlimited on a large node: capped", "auto", "", 256, MaxAutoWorkers},
		{"a CPU limit, not the node's cores", "auto", "2000", 64, 2},
		{"a fractional limit rounds up", "auto", "1500", 64, 2},
		{"a small limit is one worker", "auto", "100", 64, 1},
		{"the user's number wins over the limit", "6", "2000", 64, 6},
		{"garbage is auto", "2; user root", "x", 3, 3},
		{"out of range is auto", "1000", "", 3, 3},
		{"zero CPUs reported", "auto", "", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{dataplane.EnvWorkerProcesses: tc.workers, dataplane.EnvCPULimitMillicores: tc.cpu}
			if got := WorkerCount(func(k string) string { return env[k] }, tc.numCPU); got != tc.want {
				t.Errorf("WorkerCount = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGlobalsDirectives(t *testing.T) {
	if got, want := (Globals{PidFile: "/run/n.pid", WorkerProcesses: 3}).Directives(), "daemon off; pid /run/n.pid; worker_processes 3;"; got != want {
		t.Errorf("Directives = %q, want %q", got, want)
	}
	if got, want := (Globals{PidFile: "/run/n.pid"}).Directives(), "daemon off; pid /run/n.pid;"; got != want {
		t.Errorf("Directives = %q, want %q", got, want)
	}
}
