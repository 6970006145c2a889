package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin"
	pluginexplain "github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/logs"
)

// testPluginExplainThenLogs explains a request with the kubectl plugin
// (live: the cluster's objects, read with the admin's rights), sends it
// through the sample Gateway, and finds it with the plugin's logs command
// (pods/log of every gateway pod) under the route, rule and backend that
// explain named.
func testPluginExplainThenLogs(t *testing.T, ctx context.Context, c *cluster.Cluster, baseURL string) {
	runPlugin := func(args ...string) string {
		t.Helper()
		out, errOut, code := pluginRun(ctx, c, args...)
		if code != plugin.ExitOK {
			t.Fatalf("kubectl nginx-gateway %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	path := fmt.Sprintf("/v2/explained?id=%d", time.Now().UnixNano())
	var said pluginexplain.Report
	if err := json.Unmarshal([]byte(runPlugin("explain", "gateway", "--url", baseURL+path, "-o", "json")), &said); err != nil {
		t.Fatal(err)
	}
	if said.Selected == nil || said.Selected.Route != "default/echo" || said.Response.AccessLog == nil || len(said.Response.Backends) != 1 ||
		len(said.Response.Backends[0].Endpoints) == 0 {
		t.Fatalf("explain: %+v", said)
	}
	t.Logf("explain: %s rule %s, backend %s, endpoints %v", said.Selected.Route, said.Selected.Rule,
		said.Response.AccessLog.Backend, said.Response.Backends[0].Endpoints)

	if code, body, err := getStatus(baseURL + path); err != nil || code != http.StatusOK {
		t.Fatalf("GET %s: %d %v %s", path, code, err, body)
	}
	clustertest.Eventually(t, 30*time.Second, "the request in the plugin's logs", func() error {
		var entries []logs.Entry
		if err := json.Unmarshal([]byte(runPlugin("logs", "gateway", "--route", "default/echo", "--since", "5m", "-o", "json")), &entries); err != nil {
			return err
		}
		for _, e := range entries {
			if e.Path != path {
				continue
			}
			if e.Status != 200 || e.Rule != said.Selected.Rule || e.Backend != said.Response.AccessLog.Backend {
				t.Fatalf("nginx logged %d rule %q backend %q; explain said rule %q backend %q", e.Status, e.Rule, e.Backend,
					said.Selected.Rule, said.Response.AccessLog.Backend)
			}
			if e.Host == "" {
				t.Errorf("no host in the parsed line: %+v", e)
			}
			return nil
		}
		return fmt.Errorf("%d lines of default/echo, none for %s", len(entries), path)
	})
	// As nginx wrote it: the JSON default.
	raw := runPlugin("logs", "gateway", "--route", "default/echo", "--since", "5m", "-o", "raw")
	if !strings.Contains(raw, `{"time":"`) || !strings.Contains(raw, `"request":"GET `+path+` HTTP/1.1"`) {
		t.Errorf("no JSON access line for %s:\n%s", path, raw)
	}
	t.Logf("logs -o raw:\n%s", raw)
	t.Logf("logs:\n%s", runPlugin("logs", "gateway", "--since", "5m"))
	if out := runPlugin("logs", "gateway", "--since", "5m", "--summary"); !strings.Contains(out, "default/echo") {
		t.Errorf("summary lacks the route:\n%s", out)
	}
}
