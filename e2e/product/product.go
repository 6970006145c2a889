package product

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// Product is the operator installed on the cluster with its samples.
type Product struct {
	// Gateway is the sample Gateway's namespace/name.
	Gateway string
	// URL reaches the sample Gateway's HTTP listener from the host.
	URL string
}

// gatewayAPIChannel is the channel of the Gateway API CRDs Deploy installs:
// $NGO_GATEWAY_API_CHANNEL ("experimental" for fields such as HTTPRoute
// retry), standard by default.
func gatewayAPIChannel() string {
	if c := os.Getenv("NGO_GATEWAY_API_CHANNEL"); c != "" {
		return c
	}
	return "standard"
}

// crdApplyFlag is how kubectl applies a CRD folder: the experimental one
// has a kustomization.yaml, which `-f` would read as a manifest.
func crdApplyFlag(dir string) string {
	if _, err := os.Stat(filepath.Join(dir, "kustomization.yaml")); err == nil {
		return "-k"
	}
	return "-f"
}

// Deploy installs what `make run-local` shows working: the Gateway
// API CRDs (standard channel of the version in go.mod, or the one
// $NGO_GATEWAY_API_CHANNEL names), the operator from
// config/default (its images map to bin/operator and, for the gateway pods,
// nginx + bin/sidecar), the samples of config/samples with their echo
// backend; then waits for the sample Gateway to be Programmed and answer.
// images, the cluster's image rules, must map those images to built
// binaries (DefaultImages: make build).
func Deploy(ctx context.Context, c *cluster.Cluster, images []nodeagent.ImageRule, logf func(string, ...any)) (*Product, error) {
	root := testenv.RepoRoot()
	for _, r := range images {
		for _, f := range []string{r.Entrypoint, r.Binds[dataplane.SidecarBinary]} {
			if _, err := os.Stat(f); f != "" && err != nil {
				return nil, fmt.Errorf("%s is missing: run make build first", f)
			}
		}
	}
	gatewayCRDs, err := testenv.GatewayAPICRDDir(gatewayAPIChannel())
	if err != nil {
		return nil, err
	}
	steps := []struct {
		what string
		args []string
	}{
		{"Gateway API CRDs", []string{"apply", "--server-side", crdApplyFlag(gatewayCRDs), gatewayCRDs}},
		{"CRDs established", []string{"wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"}},
		{"operator (config/default)", []string{"apply", "--server-side", "-k", filepath.Join(root, "config", "default")}},
		{"operator available", []string{"wait", "--for=condition=Available", "--timeout=120s", "-n",
			"nginx-gateway-operator-system", "deployment", "--all"}},
		{"echo backend (config/samples/backend.yaml)", []string{"apply", "-f", filepath.Join(root, "config", "samples", "backend.yaml")}},
		{"samples (config/samples)", []string{"apply", "-k", filepath.Join(root, "config", "samples")}},
		{"sample Gateway Programmed", []string{"wait", "--for=condition=Programmed", "--timeout=120s", "-n", "default", "gateway/gateway"}},
	}
	for _, s := range steps {
		logf("run-local: %s", s.what)
		cmd := c.KubectlCmd(ctx, s.args...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("%s: kubectl %s: %v\n%s", s.what, strings.Join(s.args, " "), err, out)
		}
	}
	raw, err := c.KubectlCmd(ctx, "get", "-n", "default", "gateway/gateway", "-o", "json").Output()
	if err != nil {
		return nil, err
	}
	var gw struct {
		Status struct {
			Addresses []struct{ Value string }
		}
	}
	if err := json.Unmarshal(raw, &gw); err != nil {
		return nil, err
	}
	if len(gw.Status.Addresses) == 0 {
		return nil, fmt.Errorf("the sample Gateway is Programmed but has no status.addresses")
	}
	p := &Product{Gateway: "default/gateway", URL: "http://" + gw.Status.Addresses[0].Value + "/"}
	// The route may need a moment after Programmed to reach the backends.
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 3 * time.Second}
	for {
		resp, err := client.Get(p.URL)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
			err = fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		if time.Now().After(deadline) {
			return p, fmt.Errorf("GET %s: %v", p.URL, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
