package nginxproc

import (
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// MaxAutoWorkers bounds the worker count of a container without a CPU
// limit: nginx's own "auto" counts the node's cores, hundreds on a large
// node, each worker with its own connections and memory. A number set in
// GatewayParameters is taken as it is.
const MaxAutoWorkers = 8

// WorkerCount is the number of nginx workers for the container, from the
// env the operator sets (dataplane.EnvWorkerProcesses,
// dataplane.EnvCPULimitMillicores; getenv reads it, os.Getenv in the
// pod) and the CPUs this process may run on (numCPU: runtime.NumCPU):
//   - EnvWorkerProcesses unset: 0, the config decides (a config rendered
//     before the launcher took this over sets worker_processes itself, and
//     a second one would be refused as a duplicate);
//   - a number in EnvWorkerProcesses (1-999), as the user set it;
//   - otherwise ("auto") the CPU limit rounded up (a worker per CPU of
//     quota; more would only share the quota), at least 1;
//   - otherwise the CPUs, at most MaxAutoWorkers.
//
// Values that are not numbers are ignored (they never reach nginx's
// command line).
func WorkerCount(getenv func(string) string, numCPU int) int {
	set := getenv(dataplane.EnvWorkerProcesses)
	if set == "" {
		return 0
	}
	if n, ok := positive(set); ok && n <= 999 {
		return n
	}
	if m, ok := positive(getenv(dataplane.EnvCPULimitMillicores)); ok {
		return max(1, (m+999)/1000)
	}
	return max(1, min(numCPU, MaxAutoWorkers))
}

func positive(s string) (int, bool) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	return n, err == nil && n > 0
}
