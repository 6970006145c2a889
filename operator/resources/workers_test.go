package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// TestWorkerEnv: both containers learn the worker count the same way: the
// number from GatewayParameters, and the nginx container's CPU limit
// through the downward API (never the node's cores).
func TestWorkerEnv(t *testing.T) {
	for _, tc := range []struct {
		name        string
		workers     int32
		cpuLimit    string
		wantWorkers string
		wantLimit   bool
	}{
		{name: "auto, no limit: the launcher counts CPUs (bounded)", wantWorkers: "auto"},
		{name: "auto with a CPU limit", cpuLimit: "1500m", wantWorkers: "auto", wantLimit: true},
		{name: "a number", workers: 4, wantWorkers: "4"},
		{name: "a number and a limit", workers: 4, cpuLimit: "2", wantWorkers: "4", wantLimit: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			infra := testInfra()
			infra.WorkerProcesses = tc.workers
			infra.Resources = corev1.ResourceRequirements{}
			if tc.cpuLimit != "" {
				infra.Resources.Limits = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(tc.cpuLimit)}
			}
			pod := Objects(testOwner, infra, render.Files{}, Options{DefaultImage: "default:1"}).Deployment.Spec.Template.Spec
			for _, c := range pod.Containers {
				env := map[string]corev1.EnvVar{}
				for _, e := range c.Env {
					env[e.Name] = e
				}
				if got := env[dataplane.EnvWorkerProcesses].Value; got != tc.wantWorkers {
					t.Errorf("%s: %s = %q, want %q", c.Name, dataplane.EnvWorkerProcesses, got, tc.wantWorkers)
				}
				limit, ok := env[dataplane.EnvCPULimitMillicores]
				if ok != tc.wantLimit {
					t.Fatalf("%s: %s set %v, want %v", c.Name, dataplane.EnvCPULimitMillicores, ok, tc.wantLimit)
				}
				if !ok {
					continue
				}
				ref := limit.ValueFrom.ResourceFieldRef
				if ref == nil || ref.ContainerName != dataplane.NginxContainerName || ref.Resource != "limits.cpu" || ref.Divisor.String() != "1m" {
					t.Errorf("%s: %s from %+v, want the nginx container's limits.cpu in millicores", c.Name, dataplane.EnvCPULimitMillicores, limit.ValueFrom)
				}
			}
		})
	}
}
