package tests

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// testGatewayStaticAddress: a Gateway that names an address the local
// load balancer refuses (in no pool) is Programmed False/AddressNotUsable,
// quoting the load balancer's event; named an address it gives only on
// request, the Gateway is Programmed, publishes that address (written by
// the sidecar) and serves its route there.
func testGatewayStaticAddress(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	refused, usable := c.Network.LBRefusedAddress().String(), c.Network.LBRequestFirst.String()
	manifest := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: static, namespace: default}
spec:
  gatewayClassName: nginx
  addresses: [{type: IPAddress, value: %q}]
  listeners:
  - {name: http, protocol: HTTP, port: 80}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: static, namespace: default}
spec:
  parentRefs: [{name: static}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /static}}]
    backendRefs: [{name: echo, port: 80}]
`, refused)
	if err := applyYAML(ctx, c, manifest); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = clustertest.Kubectl(context.Background(), c, "delete", "-n", "default", "gateway/static", "httproute/static", "--ignore-not-found")
	})
	programmed := func(want string) func() error {
		return func() error {
			out, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/static", "-o",
				`jsonpath={range .status.conditions[?(@.type=="Programmed")]}{.status}/{.reason}: {.message}{end}`)
			if err != nil {
				return err
			}
			if !strings.Contains(out, want) {
				return fmt.Errorf("Programmed is %q, want %q", out, want)
			}
			return nil
		}
	}
	clustertest.Eventually(t, 90*time.Second, "the refused address reported with the load balancer's reason",
		programmed("False/AddressNotUsable: spec.addresses[0] "+refused+": the load balancer refused it"))
	if err := programmed("is not allowed in config")(); err != nil {
		t.Errorf("the load balancer's event is not quoted: %v", err)
	}

	patch := fmt.Sprintf(`{"spec":{"addresses":[{"type":"IPAddress","value":%q}]}}`, usable)
	if _, err := clustertest.Kubectl(ctx, c, "patch", "-n", "default", "gateway/static", "--type=merge", "-p", patch); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 90*time.Second, "Programmed with the named address", programmed("True/Programmed"))
	clustertest.Eventually(t, 60*time.Second, "the named address published and serving", func() error {
		addrs, err := clustertest.Kubectl(ctx, c, "get", "-n", "default", "gateway/static", "-o",
			`jsonpath={range .status.addresses[*]}{.type}={.value} {end}`)
		if err != nil {
			return err
		}
		if strings.TrimSpace(addrs) != "IPAddress="+usable {
			return fmt.Errorf("status.addresses %q, want IPAddress=%s", addrs, usable)
		}
		code, body, err := getStatus("http://" + usable + "/static/x")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("GET through %s: %d %v %s", usable, code, err, body)
		}
		return nil
	})
}
