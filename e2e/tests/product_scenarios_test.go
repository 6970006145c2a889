package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// The scenarios below run inside TestProductOnLocalCluster, on its cluster
// and deployed operator, after the sample route was moved to /v2.

// ownedKinds are the kinds of the objects the operator creates per Gateway,
// all named resources.Name(gateway) and owned by it.
var ownedKinds = []string{"deployment", "service", "configmap", "secret", "serviceaccount", "role", "rolebinding"}

// getStatus sends one GET on a fresh connection and returns its status code.
func getStatus(url string) (int, string, error) {
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
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
	if _, err := kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=90s", "-n", "default", "gateway/"+gw); err != nil {
		t.Fatal(err)
	}
	addr, err := kubectl(ctx, c, "get", "-n", "default", "gateway/"+gw, "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || addr == "" {
		t.Fatalf("the second Gateway has no address: %q %v", addr, err)
	}
	eventually(t, 60*time.Second, "the second Gateway serving its route", func() error {
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
		if _, err := kubectl(ctx, c, "get", "-n", "default", kind+"/"+owned); err != nil {
			t.Fatalf("before deletion: %v", err)
		}
	}

	began := time.Now()
	if _, err := kubectl(ctx, c, "delete", "-n", "default", "gateway/"+gw, "--wait=false"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the deleted Gateway's pods and objects gone", func() error {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, podSelector)
		if err != nil {
			return err
		}
		var left []string
		for _, p := range pods.Items {
			left = append(left, "pod/"+p.Name)
		}
		for _, kind := range ownedKinds {
			out, err := kubectl(ctx, c, "get", "-n", "default", kind+"/"+owned, "--ignore-not-found", "-o", "name")
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
	if _, err := kubectl(ctx, c, "delete", "-n", "default", "httproute/"+gw); err != nil {
		t.Error(err)
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
		if _, err := kubectl(ctx, c, "delete", "-n", "default", "httproute/other"); err != nil {
			t.Error(err)
		}
	}()
	serves := func(path string) func() error {
		return func() error {
			code, body, err := getStatus(baseURL + path)
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("GET %s: %d %v %s", path, code, err, body)
			}
			return nil
		}
	}
	eventually(t, 60*time.Second, "the other route serving", serves("/other/x"))
	eventually(t, 10*time.Second, "the sample route serving", serves("/v2/check"))

	invalid := `{"spec":{"rules":[{"matches":[{"path":{"type":"RegularExpression","value":"/("}}],"backendRefs":[{"name":"echo","port":80}]}]}}`
	if _, err := kubectl(ctx, c, "patch", "-n", "default", "httproute/echo", "--type=merge", "-p", invalid); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the refused route's status", func() error {
		gen, err := kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", "jsonpath={.metadata.generation}")
		if err != nil {
			return err
		}
		q := `jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")]}`
		out, err := kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", q)
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
	if _, err := kubectl(ctx, c, "patch", "-n", "default", "httproute/echo", "--type=merge", "-p", restore); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the restored route serving", serves("/v2/check"))
	eventually(t, 30*time.Second, "the restored route Accepted", func() error {
		out, err := kubectl(ctx, c, "get", "-n", "default", "httproute/echo", "-o", `jsonpath={.status.parents[0].conditions[?(@.type=="Accepted")].status}`)
		if err != nil || out != "True" {
			return fmt.Errorf("Accepted %q %v", out, err)
		}
		return nil
	})
	if err := serves("/other/x")(); err != nil {
		t.Error(err)
	}
}
