package tests

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/churn"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// listenerSetPort is the port the scenario's ListenerSet adds: one the
// sample Gateway does not listen on, and none of the gateway pod's own.
const listenerSetPort = 8088

// testListenerSetAddsPortWithoutRestart lets the sample Gateway take the
// ListenerSets of its namespace and adds one with a listener on a new port
// and a route on that listener, while two clients send requests (a fresh
// connection each, no retries) to the Gateway's own listener at url. The
// Service gains the port and the new listener answers; the gateway pod is
// the same (same UID, no container restart, the same nginx master process),
// the Deployment's pod template did not change, nginx reloaded (the
// sidecar's reloads_total grew) and no request failed.
func testListenerSetAddsPortWithoutRestart(t *testing.T, ctx context.Context, c *cluster.Cluster, trafficURL string) {
	pod := sampleGatewayPod(t, ctx, c)
	metricsURL := fmt.Sprintf("http://%s:%d%s", pod.Status.PodIP, dataplane.MetricsPort, dataplane.MetricsPath)
	reloads := churn.SidecarCounter(t, metricsURL, "nginx_gateway_sidecar_reloads_total")
	processes := churn.NginxProcesses(t, pod)
	if len(processes) < 2 {
		t.Fatalf("found nginx processes %v in the gateway pod's network namespace, want a master and workers", processes)
	}
	master := processes[0] // the master forks the workers: the lowest pid
	deployment, err := c.Client.AppsV1().Deployments("default").Get(ctx, "gateway-nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	generation := deployment.Generation

	t.Cleanup(func() {
		for _, obj := range []string{"httproute/on-listenerset", "listenerset/extra-port"} {
			if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", obj, "--ignore-not-found"); err != nil {
				t.Error(err)
			}
		}
		if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "gateway/gateway", "--type=merge",
			"-p", `{"spec":{"allowedListeners":null}}`); err != nil {
			t.Error(err)
		}
	})

	traffic := churn.StartTraffic(trafficURL, 2)
	began := time.Now()
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "gateway/gateway", "--type=merge",
		"-p", `{"spec":{"allowedListeners":{"namespaces":{"from":"Same"}}}}`); err != nil {
		t.Fatal(err)
	}
	manifest := `apiVersion: gateway.networking.k8s.io/v1
kind: ListenerSet
metadata: {name: extra-port, namespace: default}
spec:
  parentRef: {name: gateway}
  listeners:
  - {name: extra, protocol: HTTP, port: ` + strconv.Itoa(listenerSetPort) + `}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: on-listenerset, namespace: default}
spec:
  parentRefs: [{kind: ListenerSet, name: extra-port, sectionName: extra}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /listenerset}}]
    backendRefs: [{name: echo, port: 80}]
`
	if err := applyYAML(ctx, c, manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=90s", "-n", "default", "listenerset/extra-port"); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(trafficURL)
	if err != nil {
		t.Fatal(err)
	}
	newListener := fmt.Sprintf("http://%s:%d/listenerset/check", u.Hostname(), listenerSetPort)
	clustertest.Eventually(t, 60*time.Second, "the ListenerSet's listener serving its route", func() error {
		code, body, err := getStatus(newListener)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %v %s", newListener, code, err, body)
		}
		return nil
	})
	served := time.Since(began)
	// Traffic keeps flowing on the Gateway's own listener a moment longer:
	// the old workers finish after the reload.
	time.Sleep(2 * time.Second)
	requests, failures, _ := traffic.Stop()
	t.Logf("ListenerSet listener on port %d answering %s after the change; %d requests to the Gateway's own listener meanwhile, %d failed",
		listenerSetPort, served.Round(100*time.Millisecond), requests, len(failures))
	for _, f := range failures {
		t.Errorf("request failed: %s", f)
	}

	svc, err := c.Client.CoreV1().Services("default").Get(ctx, "gateway-nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == listenerSetPort }) {
		t.Errorf("the Service has no port %d: %+v", listenerSetPort, svc.Spec.Ports)
	}
	after := sampleGatewayPod(t, ctx, c)
	if after.UID != pod.UID {
		t.Errorf("the gateway pod was replaced: %s (%s) → %s (%s)", pod.Name, pod.UID, after.Name, after.UID)
	}
	if restarts(after) != restarts(pod) {
		t.Errorf("gateway containers restarted: %d → %d restarts", restarts(pod), restarts(after))
	}
	if now := churn.NginxProcesses(t, after); !slices.Contains(now, master) {
		t.Errorf("the nginx master process %d is gone (processes now %v): nginx was restarted, not reloaded", master, now)
	}
	deployment, err = c.Client.AppsV1().Deployments("default").Get(ctx, "gateway-nginx", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if deployment.Generation != generation {
		t.Errorf("the Deployment changed (generation %d → %d): its pod template depends on the listeners", generation, deployment.Generation)
	}
	if got := churn.SidecarCounter(t, metricsURL, "nginx_gateway_sidecar_reloads_total"); got <= reloads {
		t.Errorf("nginx did not reload for the new listener: reloads_total %v → %v", reloads, got)
	}
	status, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/gateway", "-o", "jsonpath={.status.attachedListenerSets}")
	if err != nil || strings.TrimSpace(status) != "1" {
		t.Errorf("Gateway status.attachedListenerSets = %q (%v), want 1", status, err)
	}
}

// restarts sums the restart counts of a pod's containers.
func restarts(pod *corev1.Pod) int32 {
	var n int32
	for _, s := range pod.Status.ContainerStatuses {
		n += s.RestartCount
	}
	return n
}
