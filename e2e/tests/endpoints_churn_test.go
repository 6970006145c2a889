package tests

import (
	"context"
	"slices"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/churn"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
)

// testEndpointChurnWithoutReload scales the sample's echo backend 2 → 1 → 3
// → 1 → 2 and restarts it (kubectl rollout restart) while clients that
// never retry (a fresh connection per request) send requests through the
// sample Gateway. Endpoint changes reach nginx through the sidecar's DNS,
// so: no request fails, nginx never reloads (its master and workers are the
// same processes before and after, the sidecar's reloads_total does not
// move), and every new pod serves soon after it is Ready (logged: the time
// from the test seeing the pod Ready to the first answer from it; echo-basic
// answers with its pod name). The observing is e2e/churn's, shared with the
// benchmark.
func testEndpointChurnWithoutReload(t *testing.T, ctx context.Context, c *cluster.Cluster, url string) {
	o := churn.Observe(ctx, t, churn.Target{Cluster: c, Namespace: "default", Gateway: "gateway",
		Backend: "app.kubernetes.io/name=echo", URL: url, Clients: 2})
	o.Scale("echo", 1)
	o.Scale("echo", 3)
	o.Scale("echo", 1)
	o.Scale("echo", 2)
	o.RolloutRestart("echo", 2)
	res := o.Finish()

	p := churn.Percentile
	t.Logf("endpoint churn: %d requests, %d failed; pods that became Ready during the churn: %d; Ready → first request served: p50 %v, max %v (all: %v); of which Ready → in the endpoints ConfigMap: p50 %v, max %v; ConfigMap → first request served: p50 %v, max %v (all: %v); the sidecar serving a change → nginx asking for it: mean %v over %d changes",
		res.Requests, len(res.Failures), res.NewPods, p(res.ReadyToServed, 50), p(res.ReadyToServed, 100), res.ReadyToServed,
		p(res.ReadyToPublished, 50), p(res.ReadyToPublished, 100), p(res.PublishedToServed, 50), p(res.PublishedToServed, 100), res.PublishedToServed,
		res.PickupMean, res.Pickups)
	for _, line := range res.Timelines {
		t.Logf("new pod %s", line)
	}
	t.Logf("the sidecar's DNS, when nginx asked for changed endpoints:\n%s", o.SidecarLog("nginx asked for changed endpoints"))
	if notOK := o.NginxLogNotOK(); notOK != "" {
		t.Logf("nginx log lines other than 200 (errors included):\n%s", notOK)
	}
	for _, f := range res.Failures {
		t.Errorf("request failed: %s", f)
	}
	if res.NewPods < 4 {
		t.Errorf("only %d new pods were seen Ready and serving, want at least 4 (2 scale-up, 2 restart)", res.NewPods)
	}
	if res.ReloadsAfter != res.ReloadsBefore {
		t.Errorf("the sidecar reloaded nginx during the endpoint churn: reloads_total %v → %v", res.ReloadsBefore, res.ReloadsAfter)
	}
	if !slices.Equal(res.ProcessesBefore, res.ProcessesAfter) {
		t.Errorf("nginx processes changed during the endpoint churn (a reload or a restart): %v → %v", res.ProcessesBefore, res.ProcessesAfter)
	}
	if res.EndpointUpdates == 0 {
		t.Error("endpoints_updates_total is 0: the sidecar served no endpoint change")
	}
}
