package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/podproxy"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/status"
)

// pluginRun runs `kubectl nginx-gateway ARGS -n default` with the admin's
// kubeconfig and returns its standard output, error output and exit code.
func pluginRun(ctx context.Context, c *cluster.Cluster, args ...string) (string, string, int) {
	var out, errOut bytes.Buffer
	code := plugin.Run(ctx, append([]string{"--kubeconfig", c.Kubeconfig, "-n", "default"}, args...),
		genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

// sampleStatus is `status gateway -o json` of the sample Gateway with the
// command's exit code, checked against the documented meaning of the code
// (docs/troubleshooting.md): 0 when the Gateway is Accepted and Programmed
// and every pod SYNCED, 2 otherwise; never 1.
func sampleStatus(t *testing.T, ctx context.Context, c *cluster.Cluster) (status.GatewayStatus, int) {
	t.Helper()
	out, errOut, code := pluginRun(ctx, c, "status", "gateway", "-o", "json")
	var list struct{ Gateways []status.GatewayStatus }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Gateways) != 1 {
		t.Fatalf("status -o json: exit %d, %v\n%s%s", code, err, out, errOut)
	}
	gw := list.Gateways[0]
	inSync := gw.Accepted.Status == metav1.ConditionTrue && gw.Programmed.Status == metav1.ConditionTrue && len(gw.Pods) > 0
	for _, p := range gw.Pods {
		inSync = inSync && p.State == status.Synced
	}
	if want := map[bool]int{true: plugin.ExitOK, false: plugin.ExitNotInSync}[inSync]; code != want {
		t.Fatalf("status exits %d, want %d (Accepted %s, Programmed %s, pods %+v)", code, want, gw.Accepted.Status,
			gw.Programmed.Status, gw.Pods)
	}
	return gw, code
}

// logStatusTable logs `status gateway` as a user sees it.
func logStatusTable(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	out, errOut, code := pluginRun(ctx, c, "status", "gateway")
	t.Logf("$ kubectl nginx-gateway status gateway -n default; echo $?\n%s%s%d", out, errOut, code)
}

// testPluginStatusRefusedAndStale runs `kubectl nginx-gateway status` on
// the sample Gateway (1) with a route nginx cannot take: listed under the
// refused routes with its reason, exit code 2 while a pod does not serve
// the wanted config and 0 once it does; (2) with a pod whose sidecar is
// stopped (SIGSTOP to its process group, found from the container ID the
// local cluster's node agent reports) when a route changes: the pod STALE
// for some seconds, exit code 2; SYNCED and exit code 0 once the sidecar
// runs again. Then it logs a session of the four commands.
func testPluginStatusRefusedAndStale(t *testing.T, ctx context.Context, c *cluster.Cluster, baseURL string) {
	const route = "plugin-checks"
	routeYAML := func(path string) string {
		return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ` + route + `, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: ` + path + `}}]
    backendRefs: [{name: echo, port: 80}]
`
	}
	// A response header of 400 "$": each is escaped to ${ngo_dollar}, and
	// the value exceeds nginx's 4,095-byte token (as in
	// testPoisonRouteOnSharedGateway).
	refused := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: refused, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /refused}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Refused, value: "` + strings.Repeat("$", 400) + `"}]}
    backendRefs: [{name: echo, port: 80}]
`
	t.Cleanup(func() {
		if _, err := clustertest.Kubectl(context.Background(), c, "delete", "-n", "default", "httproute/refused",
			"httproute/"+route, "--ignore-not-found"); err != nil {
			t.Error(err)
		}
	})
	if err := applyYAML(ctx, c, routeYAML("/checks")); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "the route serving", servesOK(baseURL, "/checks/x"))
	clustertest.Eventually(t, 30*time.Second, "the sample Gateway in sync", func() error {
		if gw, code := sampleStatus(t, ctx, c); code != plugin.ExitOK {
			return fmt.Errorf("exit %d: %+v", code, gw.Pods)
		}
		return nil
	})

	// (1) A refused route.
	if err := applyYAML(ctx, c, refused); err != nil {
		t.Fatal(err)
	}
	codes := map[int]int{}
	clustertest.Eventually(t, 60*time.Second, "the route listed as refused, every pod SYNCED", func() error {
		gw, code := sampleStatus(t, ctx, c)
		codes[code]++
		var found *status.RouteStatus
		for i, r := range gw.RefusedRoutes {
			if r.Kind == "HTTPRoute" && r.Namespace == "default" && r.Name == "refused" {
				found = &gw.RefusedRoutes[i]
			}
		}
		if found == nil {
			return fmt.Errorf("refused routes %+v", gw.RefusedRoutes)
		}
		if found.Reason != "UnsupportedValue" || !strings.Contains(found.Message, "responseHeaderModifier.set[0].value") {
			t.Fatalf("refused for %s: %s; want UnsupportedValue naming the header's value", found.Reason, found.Message)
		}
		if code != plugin.ExitOK {
			return fmt.Errorf("exit %d, pods %+v", code, gw.Pods)
		}
		return nil
	})
	t.Logf("status exit codes seen while the route was being refused: %v", codes)
	clustertest.Eventually(t, 30*time.Second, "a Warning Event on the refused route", func() error {
		events, err := c.Client.EventsV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Regarding.Kind == "HTTPRoute" && e.Regarding.Name == "refused" && e.Type == corev1.EventTypeWarning &&
				e.Reason == "UnsupportedValue" && strings.Contains(e.Note, "responseHeaderModifier.set[0].value") {
				t.Logf("Event on HTTPRoute default/refused: %s %s: %s", e.Type, e.Reason, e.Note)
				return nil
			}
		}
		return fmt.Errorf("%d events in default, none UnsupportedValue on HTTPRoute refused", len(events.Items))
	})
	logStatusTable(t, ctx, c)

	// (2) A stale pod.
	pod, pid := gatewaySidecar(t, ctx, c)
	if err := syscall.Kill(-pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping the sidecar of %s (process group %d): %v", pod, pid, err)
	}
	resumed := false
	resume := func() {
		if resumed {
			return
		}
		resumed = true
		// ESRCH: the node agent restarted the container (its liveness
		// probe failed), which is fine: the new sidecar runs.
		if err := syscall.Kill(-pid, syscall.SIGCONT); err != nil && err != syscall.ESRCH {
			t.Errorf("resuming the sidecar of %s: %v", pod, err)
		}
	}
	t.Cleanup(resume)
	stoppedAt := time.Now()
	if err := applyYAML(ctx, c, routeYAML("/checks-moved")); err != nil {
		t.Fatal(err)
	}
	// The pod stays ready for some seconds only (its sidecar answers the
	// readiness probe); each status waits podproxy.AnswerTimeout for the
	// stopped sidecar's metrics.
	var stale status.PodStatus
	for deadline := time.Now().Add(40 * time.Second); stale.Name == ""; time.Sleep(200 * time.Millisecond) {
		gw, code := sampleStatus(t, ctx, c)
		for _, p := range gw.Pods {
			if p.Name == pod && p.State == status.Stale && p.StaleFor != "" {
				if code != plugin.ExitNotInSync {
					t.Fatalf("a STALE pod, exit %d", code)
				}
				stale = p
			}
		}
		if stale.Name == "" && time.Now().After(deadline) {
			t.Fatalf("pod %s never STALE with the wanted config annotated (%s after SIGSTOP): %+v", pod,
				time.Since(stoppedAt).Round(time.Millisecond), gw.Pods)
		}
	}
	logStatusTable(t, ctx, c)
	t.Logf("pod %s STALE for %s (annotated %s at %v, applied %s), %s after its sidecar stopped", pod, stale.StaleFor,
		stale.AnnotatedHash, stale.AnnotatedAt, stale.AppliedHash, time.Since(stoppedAt).Round(time.Millisecond))
	if _, err := time.ParseDuration(stale.StaleFor); err != nil || stale.AnnotatedAt == nil || stale.AnnotatedHash == stale.AppliedHash {
		t.Errorf("a STALE pod: %+v", stale)
	}
	if !strings.Contains(stale.DataPlaneError, "no answer within") {
		t.Errorf("the stopped sidecar's metrics: %q, want no answer within %s", stale.DataPlaneError, podproxy.AnswerTimeout)
	}
	resume()
	clustertest.Eventually(t, 90*time.Second, "the pod SYNCED after its sidecar resumed", func() error {
		gw, code := sampleStatus(t, ctx, c)
		if code != plugin.ExitOK {
			return fmt.Errorf("exit %d, pods %+v", code, gw.Pods)
		}
		return nil
	})
	clustertest.Eventually(t, 30*time.Second, "the moved route serving", servesOK(baseURL, "/checks-moved/x"))
	logStatusTable(t, ctx, c)

	// A session of the four commands on the sample Gateway, for the docs.
	if code, body, err := getStatus(baseURL + "/v2/session"); err != nil || code != 200 {
		t.Fatalf("GET /v2/session: %d %v %s", code, err, body)
	}
	for _, args := range [][]string{
		{"status", "gateway"},
		{"config", "gateway", "routes"},
		{"explain", "gateway", "--url", baseURL + "/v2/session?x=1", "-H", "X-Session: 1"},
		{"logs", "gateway", "--since", "10m", "--summary"},
		{"logs", "gateway", "--since", "10m", "--route", "default/echo"},
	} {
		out, errOut, code := pluginRun(ctx, c, args...)
		if code != plugin.ExitOK {
			t.Errorf("%s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		t.Logf("$ kubectl nginx-gateway %s -n default\n%s%s", strings.Join(args, " "), out, errOut)
	}
}

// gatewaySidecar returns a ready sample gateway pod and the process ID of
// its sidecar container: the node agent names it in the container ID
// (localcluster://<pod>-<container>-<pid>), and the process leads its own
// process group.
func gatewaySidecar(t *testing.T, ctx context.Context, c *cluster.Cluster) (string, int) {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: dataplane.LabelGatewayName + "=gateway"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		p := &pods.Items[i]
		if p.DeletionTimestamp != nil || !clustertest.PodReady(p) {
			continue
		}
		for _, s := range p.Status.ContainerStatuses {
			if s.Name != dataplane.SidecarContainerName || s.State.Running == nil {
				continue
			}
			pid, err := strconv.Atoi(s.ContainerID[strings.LastIndex(s.ContainerID, "-")+1:])
			if err != nil || pid <= 1 {
				t.Fatalf("no process ID in container ID %q", s.ContainerID)
			}
			return p.Name, pid
		}
	}
	t.Fatalf("no ready gateway pod with a running sidecar: %v", podNames(pods.Items))
	return "", 0
}

func podNames(pods []corev1.Pod) []string {
	names := make([]string, len(pods))
	for i := range pods {
		names[i] = pods[i].Name
	}
	return names
}
