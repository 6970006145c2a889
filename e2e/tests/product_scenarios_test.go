package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
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

// The scenarios below run inside TestProductOnLocalCluster, on its cluster
// and deployed operator, after the sample route was moved to /v2.

// ownedKinds are the kinds of the objects the operator creates per Gateway,
// all named resources.Name(gateway) and owned by it (besides the report
// and endpoints ConfigMaps, resources.ReportName and EndpointsName).
var ownedKinds = []string{"deployment", "service", "configmap", "secret", "serviceaccount", "role", "rolebinding"}

// getStatus sends one GET on a fresh connection and returns its status code.
func getStatus(url string) (int, string, error) {
	return getStatusWithin(url, 3*time.Second)
}

func getStatusWithin(url string, timeout time.Duration) (int, string, error) {
	client := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

func applyYAML(ctx context.Context, c *cluster.Cluster, yaml string) error {
	cmd := c.KubectlCmd(ctx, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(yaml)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	return nil
}

// testGatewayDeletionRemovesOwnedObjects creates a second Gateway with its
// own route, checks it serves, deletes it and expects the garbage collector
// to remove its pods and every object named after it.
func testGatewayDeletionRemovesOwnedObjects(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	const gw = "doomed"
	const owned = gw + "-nginx"
	const ownedReport = owned + "-report"
	const ownedEndpoints = owned + "-endpoints"
	manifest := `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: doomed, namespace: default}
spec:
  gatewayClassName: nginx
  listeners:
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: doomed, namespace: default}
spec:
  parentRefs: [{name: doomed}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /doomed}}]
    backendRefs: [{name: echo, port: 80}]
`
	if err := applyYAML(ctx, c, manifest); err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=90s", "-n", "default", "gateway/"+gw); err != nil {
		t.Fatal(err)
	}
	addr, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/"+gw, "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || addr == "" {
		t.Fatalf("the second Gateway has no address: %q %v", addr, err)
	}
	clustertest.Eventually(t, 60*time.Second, "the second Gateway serving its route", func() error {
		code, body, err := getStatus("http://" + addr + "/doomed/x")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("%d %v %s", code, err, body)
		}
		return nil
	})
	podSelector := metav1.ListOptions{LabelSelector: dataplane.LabelGatewayName + "=" + gw + "," + dataplane.LabelGatewayNamespace + "=default"}
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, podSelector)
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("the second Gateway's pods: %v (%d found)", err, len(pods.Items))
	}
	for _, kind := range ownedKinds {
		if _, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", kind+"/"+owned); err != nil {
			t.Fatalf("before deletion: %v", err)
		}
	}
	// Each sidecar reported, with the token mounted in its container only,
	// in the report ConfigMap (it may not touch pods).
	report, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, ownedReport, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the report ConfigMap: %v", err)
	}
	reports := dataplane.ParseReports(report.Data)
	for _, p := range pods.Items {
		if reports[p.Name].AppliedHash == "" || reports[p.Name].AppliedHash != p.Annotations[dataplane.AnnotationConfigHash] {
			t.Errorf("pod %s: report %+v, config-hash %q", p.Name, reports[p.Name], p.Annotations[dataplane.AnnotationConfigHash])
		}
	}

	began := time.Now()
	if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "gateway/"+gw, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "the deleted Gateway's pods and objects gone", func() error {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, podSelector)
		if err != nil {
			return err
		}
		var left []string
		for _, p := range pods.Items {
			left = append(left, "pod/"+p.Name)
		}
		for _, obj := range append(slices.Clone(ownedKinds), "configmap/"+ownedReport, "configmap/"+ownedEndpoints) {
			if !strings.Contains(obj, "/") {
				obj += "/" + owned
			}
			out, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", obj, "--ignore-not-found", "-o", "name")
			if err != nil {
				return err
			}
			if s := strings.TrimSpace(out); s != "" {
				left = append(left, s)
			}
		}
		if len(left) > 0 {
			return fmt.Errorf("still there: %s", strings.Join(left, ", "))
		}
		return nil
	})
	t.Logf("the Gateway's pods and objects were gone %s after its deletion", time.Since(began).Round(100*time.Millisecond))
	if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "httproute/"+gw); err != nil {
		t.Error(err)
	}
}

// testBackendPodReplacedUnderTraffic deletes one of the two echo pods while
// a request loop runs against the sample Gateway, and expects no request to
// fail while the Deployment replaces it.
func testBackendPodReplacedUnderTraffic(t *testing.T, ctx context.Context, c *cluster.Cluster, url string) {
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=echo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("want 2 echo pods, have %d", len(pods.Items))
	}
	victim := pods.Items[0].Name

	type failure struct {
		at   time.Duration
		code int
		err  error
		body string
	}
	var failures []failure
	requests := 0
	began := time.Now()
	// Bounded: 30 s at most, however the replacement goes.
	stop := began.Add(30 * time.Second)
	deleted, replacedAt := false, time.Time{}
	for time.Now().Before(stop) {
		// A connection nginx opens to the vanished pod's address gets no
		// answer; nginx gives up after its 2 s connect timeout and tries the
		// other pod: a slow answer, not a dropped one, so the client waits 5 s.
		sent := time.Now()
		code, body, err := getStatusWithin(url, 5*time.Second)
		requests++
		if took := time.Since(sent); took > time.Second {
			t.Logf("slow request at %s: %s (status %d)", sent.Sub(began).Round(time.Millisecond), took.Round(time.Millisecond), code)
		}
		if err != nil || code != http.StatusOK {
			failures = append(failures, failure{sent.Sub(began), code, err, body})
		}
		elapsed := time.Since(began)
		switch {
		case !deleted && elapsed > time.Second:
			if _, err := clustertest.Kubectl(ctx, c, "delete", "pod", "-n", "default", victim, "--wait=false"); err != nil {
				t.Fatal(err)
			}
			deleted = true
		case deleted && replacedAt.IsZero() && requests%10 == 0:
			// Replaced: the victim is gone and two other echo pods are Ready.
			now, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=echo"})
			if err == nil {
				ready, victimLeft := 0, false
				for i := range now.Items {
					if now.Items[i].Name == victim {
						victimLeft = true
					} else if clustertest.PodReady(&now.Items[i]) {
						ready++
					}
				}
				if !victimLeft && ready == 2 {
					replacedAt = time.Now()
				}
			}
		case !replacedAt.IsZero() && time.Since(replacedAt) > 2*time.Second:
			// Traffic kept flowing for a while on the new set of pods.
			stop = time.Now()
		}
	}
	t.Logf("%d requests in %s; pod %s replaced after %s", requests, time.Since(began).Round(100*time.Millisecond), victim,
		func() string {
			if replacedAt.IsZero() {
				return "(not within the loop)"
			}
			return replacedAt.Sub(began).Round(100 * time.Millisecond).String()
		}())
	if replacedAt.IsZero() {
		t.Errorf("echo pod %s was not replaced within 30 s", victim)
	}
	for _, f := range failures {
		t.Errorf("request failed at %s: status %d, error %v, body %q", f.at.Round(time.Millisecond), f.code, f.err, f.body)
	}
	if len(failures) > 0 {
		out, _ := clustertest.Kubectl(ctx, c, "logs", "-n", "default", "deploy/gateway-nginx", "-c", "nginx")
		t.Logf("nginx log lines other than 200:\n%s", churn.LinesNotOK(out))
	}
}

// testInvalidRouteKeepsOthersServing makes the sample route invalid (a
// regular expression the build step refuses), expects its status to say why
// while another route keeps serving, then restores it.
func testInvalidRouteKeepsOthersServing(t *testing.T, ctx context.Context, c *cluster.Cluster, baseURL string) {
	other := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: other, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /other}}]
    backendRefs: [{name: echo, port: 80}]
`
	if err := applyYAML(ctx, c, other); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "httproute/other"); err != nil {
			t.Error(err)
		}
	}()
	serves := func(path string) func() error { return servesOK(baseURL, path) }
	clustertest.Eventually(t, 60*time.Second, "the other route serving", serves("/other/x"))
	clustertest.Eventually(t, 10*time.Second, "the sample route serving", serves("/v2/check"))

	invalid := `{"spec":{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/("}}],"backendRefs":[{"name":"echo","port":80}]}]}}`
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "httproute/echo", "--type=merge", "-p", invalid); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "the refused route's status", func() error {
		gen, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", "jsonpath={.metadata.generation}")
		if err != nil {
			return err
		}
		q := `jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")]}`
		out, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", q)
		if err != nil {
			return err
		}
		for _, want := range []string{`"status":"False"`, `"reason":"UnsupportedValue"`, "spec.rules[0].matches[0].path", `"observedGeneration":` + gen} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("Accepted condition lacks %s: %s", want, out)
			}
		}
		return nil
	})
	// The other route keeps serving, over a few seconds (a reload may follow
	// the status).
	for i := 0; i < 10; i++ {
		if err := serves("/other/x")(); err != nil {
			t.Fatalf("while the sample route is refused: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}

	restore := `{"spec":{"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/v2"}}],"backendRefs":[{"name":"echo","port":80}]}]}}`
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "httproute/echo", "--type=merge", "-p", restore); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "the restored route serving", serves("/v2/check"))
	clustertest.Eventually(t, 30*time.Second, "the restored route Accepted", func() error {
		out, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", `jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("Accepted %q %v", out, err)
		}
		return nil
	})
	if err := serves("/other/x")(); err != nil {
		t.Error(err)
	}
}

// testPoisonRouteOnSharedGateway: a route with a value nginx would refuse
// once escaped (a response header of 400 "$", each written as
// ${ngo_dollar}) is refused with a reason naming the field and nginx's
// limit, while a route another team adds afterwards goes live; a gateway
// pod restarted while the poison route exists becomes ready and serves the
// good routes.
func testPoisonRouteOnSharedGateway(t *testing.T, ctx context.Context, c *cluster.Cluster, baseURL string) {
	poison := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: poison, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /poison}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {set: [{name: X-Poison, value: "` + strings.Repeat("$", 400) + `"}]}
    backendRefs: [{name: echo, port: 80}]
`
	newcomer := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: newcomer, namespace: default}
spec:
  parentRefs: [{name: gateway, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /newcomer}}]
    backendRefs: [{name: echo, port: 80}]
`
	defer func() {
		if _, err := clustertest.Kubectl(ctx, c, "delete", "-n", "default", "httproute/poison", "httproute/newcomer", "--ignore-not-found"); err != nil {
			t.Error(err)
		}
	}()
	serves := func(path string) func() error { return servesOK(baseURL, path) }
	if err := applyYAML(ctx, c, poison); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "the poison route refused", func() error {
		q := `jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")]}`
		out, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "httproute/poison", "-o", q)
		if err != nil {
			return err
		}
		for _, want := range []string{`"status":"False"`, `"reason":"UnsupportedValue"`, "responseHeaderModifier.set[0].value", "4,095"} {
			if !strings.Contains(out, want) {
				return fmt.Errorf("Accepted condition lacks %s: %s", want, out)
			}
		}
		return nil
	})
	began := time.Now()
	if err := applyYAML(ctx, c, newcomer); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "another team's new route serving", serves("/newcomer/x"))
	t.Logf("the new route answered 200 %s after it was applied, with the poison route present", time.Since(began).Round(10*time.Millisecond))
	clustertest.Eventually(t, 10*time.Second, "the sample route serving", serves("/v2/check"))

	// A gateway pod replaced while the poison route exists starts from a
	// config nginx accepts and becomes ready.
	selector := dataplane.LabelGatewayName + "=gateway"
	before, err := clustertest.Kubectl(ctx, c, "get", "pods", "-n", "default", "-l", selector, "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "delete", "pods", "-n", "default", "-l", selector, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 120*time.Second, "a new gateway pod ready", func() error {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for i := range pods.Items {
			p := &pods.Items[i]
			if !strings.Contains(" "+before+" ", " "+p.Name+" ") && p.DeletionTimestamp == nil && clustertest.PodReady(p) {
				return nil
			}
		}
		return fmt.Errorf("no new ready gateway pod yet (old: %s)", before)
	})
	clustertest.Eventually(t, 60*time.Second, "the new route served by the new pod", serves("/newcomer/x"))
	clustertest.Eventually(t, 10*time.Second, "the sample route served by the new pod", serves("/v2/check"))
}

// servesOK is a check for clustertest.Eventually: GET baseURL+path answers
// 200.
func servesOK(baseURL, path string) func() error {
	return func() error {
		code, body, err := getStatus(baseURL + path)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET %s: %d %v %s", path, code, err, body)
		}
		return nil
	}
}

// sampleGatewayPod is the sample Gateway's one pod.
func sampleGatewayPod(t *testing.T, ctx context.Context, c *cluster.Cluster) *corev1.Pod {
	return churn.GatewayPod(ctx, t, churn.Target{Cluster: c, Namespace: "default", Gateway: "gateway"})
}
