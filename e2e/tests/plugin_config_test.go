package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin"
	pluginconfig "github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/config"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/status"
)

// viewer is the ServiceAccount the scenario binds to the plugin's viewer
// ClusterRole (config/plugin/viewer_role.yaml) and impersonates.
const viewer = "system:serviceaccount:default:plugin-viewer"

// testPluginConfigAsViewer runs `kubectl nginx-gateway config` and
// `status` against the sample Gateway as a user that has only the viewer
// role (impersonated; no pods/exec): the routes shown are the HTTPRoute's
// as applied, the upstream's endpoints the Service's ready EndpointSlice
// addresses, the config the one the operator wants, and status shows each
// pod's reloads and worker generations, all read through the pod proxy.
func testPluginConfigAsViewer(t *testing.T, ctx context.Context, c *cluster.Cluster) {
	if _, err := clustertest.Kubectl(ctx, c, "apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "plugin", "viewer_role.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := applyYAML(ctx, c, `apiVersion: v1
kind: ServiceAccount
metadata: {name: plugin-viewer, namespace: default}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: plugin-viewer, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: nginx-gateway-plugin-viewer}
subjects: [{kind: ServiceAccount, name: plugin-viewer, namespace: default}]
`); err != nil {
		t.Fatal(err)
	}
	for verb, want := range map[string]string{"create pods/exec": "no", "get pods/proxy": "yes", "get secrets": "no"} {
		args := append([]string{"auth", "can-i"}, strings.Fields(verb)...)
		out, _ := c.KubectlCmd(ctx, append(args, "-n", "default", "--as", viewer)...).Output()
		if got := strings.TrimSpace(string(out)); got != want {
			t.Fatalf("the viewer may %s: %q, want %q", verb, got, want)
		}
	}

	runPlugin := func(args ...string) (string, int) {
		t.Helper()
		var out, errOut bytes.Buffer
		code := plugin.Run(ctx, append([]string{"--kubeconfig", c.Kubeconfig, "-n", "default", "--as", viewer}, args...),
			genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		if code != plugin.ExitOK && code != plugin.ExitNotInSync {
			t.Fatalf("kubectl nginx-gateway %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String(), code
	}
	asJSON := func(v any, args ...string) {
		t.Helper()
		out, _ := runPlugin(append(args, "-o", "json")...)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	// The objects as applied (read with the admin's rights).
	var route gatewayv1.HTTPRoute
	getJSON(t, ctx, c, &route, "get", "-n", "default", "httproute/echo")
	var wantLocations []string
	for _, rule := range route.Spec.Rules {
		for _, m := range rule.Matches {
			if m.Path != nil && m.Path.Type != nil && m.Path.Value != nil {
				wantLocations = append(wantLocations, map[gatewayv1.PathMatchType]string{
					gatewayv1.PathMatchPathPrefix: "prefix ", gatewayv1.PathMatchExact: "exact "}[*m.Path.Type]+*m.Path.Value)
			}
		}
	}
	slices.Sort(wantLocations)

	clustertest.Eventually(t, 60*time.Second, "the pod's config is the wanted one and shows the route as applied", func() error {
		var st struct{ Gateways []status.GatewayStatus }
		asJSON(&st, "status", "gateway")
		var routes pluginconfig.Document
		asJSON(&routes, "config", "gateway", "routes")
		if len(st.Gateways) != 1 || routes.Hash != st.Gateways[0].WantedHash {
			return fmt.Errorf("pod %s runs %s, the operator wants %+v", routes.Pod, routes.Hash, st.Gateways)
		}
		var got []string
		for _, r := range routes.Routes {
			if r.Route != "default/echo" || r.Inherited {
				continue
			}
			got = append(got, r.Location)
			if len(r.Backends) != 1 || r.Backends[0].Service != "default/echo:80" || r.Port != 80 {
				return fmt.Errorf("route row %+v: want port 80, backend default/echo:80", r)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, wantLocations) {
			return fmt.Errorf("locations of default/echo %v, applied %v", got, wantLocations)
		}
		return nil
	})

	clustertest.Eventually(t, 30*time.Second, "the upstream's endpoints are the Service's ready endpoints", func() error {
		var epSlices discoveryv1.EndpointSliceList
		getJSON(t, ctx, c, &epSlices, "get", "-n", "default", "endpointslices", "-l", discoveryv1.LabelServiceName+"=echo")
		var want []string
		for _, s := range epSlices.Items {
			for _, ep := range s.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, p := range s.Ports {
					for _, a := range ep.Addresses {
						want = append(want, fmt.Sprintf("%s:%d", a, *p.Port))
					}
				}
			}
		}
		slices.Sort(want)
		var ups pluginconfig.Document
		asJSON(&ups, "config", "gateway", "upstreams")
		for _, u := range ups.Upstreams {
			if u.Service == "default/echo:80" {
				if len(want) == 0 || !slices.Equal(u.Endpoints, want) {
					return fmt.Errorf("upstream %s endpoints %v (%s), EndpointSlices %v", u.Name, u.Endpoints, u.EndpointsNote, want)
				}
				t.Logf("upstream %s: %v", u.Name, u.Endpoints)
				return nil
			}
		}
		return fmt.Errorf("no upstream of default/echo:80 in %+v", ups.Upstreams)
	})

	var listeners pluginconfig.Document
	asJSON(&listeners, "config", "gateway", "listeners")
	if !slices.ContainsFunc(listeners.Listeners, func(l pluginconfig.Listener) bool {
		return l.Port == 80 && l.Protocol == "HTTP" && slices.Contains(l.Listeners, "http")
	}) {
		t.Errorf("listeners lack the sample's http listener on port 80: %+v", listeners.Listeners)
	}
	if out, _ := runPlugin("config", "gateway", "raw"); !strings.Contains(out, "# ▼ HTTPRoute default/echo rule 0") || strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("raw lacks the route's annotated block, or shows a key:\n%s", out)
	}
	// The tables as a user sees them, for the log.
	for _, args := range [][]string{{"status", "gateway"}, {"config", "gateway", "listeners"}, {"config", "gateway", "routes"}, {"config", "gateway", "upstreams"}} {
		out, _ := runPlugin(args...)
		t.Logf("$ kubectl nginx-gateway %s -n default\n%s", strings.Join(args, " "), out)
	}
	var st struct{ Gateways []status.GatewayStatus }
	asJSON(&st, "status", "gateway")
	for _, p := range st.Gateways[0].Pods {
		if p.DataPlane == nil || p.DataPlane.WorkerGenerations < 1 || p.DataPlaneError != "" {
			t.Errorf("pod %s: data plane %+v, error %q", p.Name, p.DataPlane, p.DataPlaneError)
			continue
		}
		t.Logf("pod %s: %d reloads, last %v (%.0f ms), %d generations", p.Name, p.DataPlane.Reloads, p.DataPlane.LastReload,
			p.DataPlane.LastReloadSeconds*1000, p.DataPlane.WorkerGenerations)
	}
}

// getJSON reads kubectl's -o json of an object or list into v.
func getJSON(t *testing.T, ctx context.Context, c *cluster.Cluster, v any, args ...string) {
	t.Helper()
	out, err := c.KubectlCmd(ctx, append(args, "-o", "json")...).Output()
	if err != nil {
		t.Fatalf("kubectl %s: %v", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatal(err)
	}
}
