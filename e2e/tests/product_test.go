package tests

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/product"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/logs"
)

// TestProductOnLocalCluster installs the operator the way users do
// (config/default) on a local cluster, applies config/samples and checks
// that the sample Gateway serves the echo backend, follows a route change,
// and logs the request.
func TestProductOnLocalCluster(t *testing.T) {
	clustertest.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds the operator and runs the whole product (-short)")
	}
	// The bound starts once the cluster runs: Start may have waited for
	// another local cluster on this machine to stop.
	ctx, c, p := product.StartForTest(t, t.TempDir(), 14*time.Minute)

	get := func(path string) (int, string, error) {
		client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := client.Get(strings.TrimSuffix(p.URL, "/") + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body), nil
	}
	code, body, err := get("/product/check")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /product/check: %d %v %s", code, err, body)
	}
	var echo struct{ Path, Pod string }
	if err := json.Unmarshal([]byte(body), &echo); err != nil || echo.Path != "/product/check" || !strings.HasPrefix(echo.Pod, "echo-") {
		t.Fatalf("not the echo backend's answer (%v): %s", err, body)
	}

	// A route change reaches nginx: config ConfigMap → pod annotation →
	// volume re-sync → sidecar validates and reloads.
	patch := `{"spec":{"rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/v2"}}],"backendRefs":[{"name":"echo","port":80}]}]}}`
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "httproute/echo", "--type=merge", "-p", patch); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "the route change served", func() error {
		old, _, err := get("/product/check")
		if err != nil {
			return err
		}
		moved, _, err := get("/v2/check")
		if err != nil {
			return err
		}
		if old != http.StatusNotFound || moved != http.StatusOK {
			return fmt.Errorf("/product/check %d (want 404), /v2/check %d (want 200)", old, moved)
		}
		return nil
	})
	out, err := clustertest.Kubectl(ctx, c, "logs", "-n", "default", "deploy/gateway-nginx", "-c", "nginx")
	if err != nil {
		t.Fatal(err)
	}
	logged := false
	for _, line := range strings.Split(out, "\n") {
		e, ok := logs.Parse(line)
		logged = logged || ok && e.Method == "GET" && e.Path == "/v2/check" && e.Status == 200
	}
	if !logged {
		t.Errorf("nginx's access log lacks the request:\n%s", out)
	}

	// Scenarios on the same cluster and operator (product_scenarios_test.go).
	t.Run("GatewayPodExportsNginxCounters", func(t *testing.T) {
		testGatewayPodExportsNginxCounters(t, ctx, c, strings.TrimSuffix(p.URL, "/")+"/v2/check")
	})
	t.Run("GatewayPodUsersAreSeparate", func(t *testing.T) {
		testGatewayPodUsersAreSeparate(t, ctx, c, strings.TrimSuffix(p.URL, "/")+"/v2/check")
	})
	t.Run("GatewayDeletionRemovesOwnedObjects", func(t *testing.T) {
		testGatewayDeletionRemovesOwnedObjects(t, ctx, c)
	})
	t.Run("BackendPodReplacedUnderTraffic", func(t *testing.T) {
		testBackendPodReplacedUnderTraffic(t, ctx, c, strings.TrimSuffix(p.URL, "/")+"/v2/check")
	})
	t.Run("EndpointChurnWithoutReload", func(t *testing.T) {
		testEndpointChurnWithoutReload(t, ctx, c, strings.TrimSuffix(p.URL, "/")+"/v2/check")
	})
	t.Run("InvalidRouteKeepsOthersServing", func(t *testing.T) {
		testInvalidRouteKeepsOthersServing(t, ctx, c, strings.TrimSuffix(p.URL, "/"))
	})
	t.Run("PluginExplainThenLogs", func(t *testing.T) {
		testPluginExplainThenLogs(t, ctx, c, strings.TrimSuffix(p.URL, "/"))
	})
	t.Run("PluginStatusRefusedAndStale", func(t *testing.T) {
		testPluginStatusRefusedAndStale(t, ctx, c, strings.TrimSuffix(p.URL, "/"))
	})
	t.Run("PluginConfigAsViewer", func(t *testing.T) {
		testPluginConfigAsViewer(t, ctx, c)
	})
	t.Run("PoisonRouteOnSharedGateway", func(t *testing.T) {
		testPoisonRouteOnSharedGateway(t, ctx, c, strings.TrimSuffix(p.URL, "/"))
	})
	t.Run("ListenerSetAddsPortWithoutRestart", func(t *testing.T) {
		testListenerSetAddsPortWithoutRestart(t, ctx, c, strings.TrimSuffix(p.URL, "/")+"/v2/check")
	})
	t.Run("GRPCThroughGateway", func(t *testing.T) {
		testGRPCThroughGateway(t, ctx, c)
	})
	t.Run("StreamRoutes", func(t *testing.T) {
		testStreamRoutes(t, ctx, c)
	})
	t.Run("GatewayStaticAddress", func(t *testing.T) {
		testGatewayStaticAddress(t, ctx, c)
	})
}
