package tests

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/churn"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// testGatewayPodExportsNginxCounters: in a real gateway pod (nginx as uid
// 101, the sidecar as uid 102, the run folder shared), the sidecar reads
// nginx's stub_status over the status server's unix socket: nginx is up,
// requests through the Gateway move nginx_gateway_nginx_http_requests_total
// by at least their number, and the pod serves its newest config.
func testGatewayPodExportsNginxCounters(t *testing.T, ctx context.Context, c *cluster.Cluster, url string) {
	gw := sampleGatewayPod(t, ctx, c)
	metricsURL := fmt.Sprintf("http://%s:%d%s", gw.Status.PodIP, dataplane.MetricsPort, dataplane.MetricsPath)
	if up := churn.SidecarCounter(t, metricsURL, "nginx_gateway_nginx_up"); up != 1 {
		t.Fatalf("nginx_gateway_nginx_up = %v: the sidecar cannot read nginx's status socket", up)
	}
	if inSync := churn.SidecarCounter(t, metricsURL, "nginx_gateway_sidecar_config_in_sync"); inSync != 1 {
		t.Errorf("nginx_gateway_sidecar_config_in_sync = %v, want 1", inSync)
	}
	before := churn.SidecarCounter(t, metricsURL, "nginx_gateway_nginx_http_requests_total")
	const requests = 20
	client := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for range requests {
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	after := churn.SidecarCounter(t, metricsURL, "nginx_gateway_nginx_http_requests_total")
	if after-before < requests {
		t.Errorf("nginx_gateway_nginx_http_requests_total moved by %v over %d requests", after-before, requests)
	}
	t.Logf("nginx_gateway_nginx_http_requests_total %v → %v over %d requests", before, after, requests)
}
