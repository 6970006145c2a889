package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// The monitoring files (config/monitoring) name the sidecar's metrics in
// PromQL. TestMonitoringUsesExportedMetrics reads every query of the
// dashboard and every alert expression and checks each metric they name
// against a real scrape of the sidecar beside a real nginx, so the files
// cannot drift from the code.

var (
	promqlString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	promqlMatchers = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`\$?[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	// labelValuesLabel is the label argument of Grafana's label_values(metric, label).
	labelValuesLabel = regexp.MustCompile(`,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)
	promqlKeywords   = map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true}
)

// promqlMetricNames are the metric names a PromQL expression (or a Grafana
// label_values query) selects: identifiers that are not functions,
// keywords, label names (in matchers and grouping clauses) or Grafana
// variables.
func promqlMetricNames(expr string) []string {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "label_values(") {
		expr = labelValuesLabel.ReplaceAllString(expr, ")")
	}
	expr = promqlString.ReplaceAllString(expr, " ")
	expr = promqlMatchers.ReplaceAllString(expr, " ")
	expr = promqlGrouping.ReplaceAllString(expr, " ")
	var names []string
	for _, m := range promqlIdent.FindAllStringSubmatch(expr, -1) {
		ident := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), "("))
		if m[1] != "" || strings.HasPrefix(ident, "$") || promqlKeywords[strings.ToLower(ident)] {
			continue // a function, a Grafana variable, a keyword
		}
		names = append(names, ident)
	}
	return names
}

// exportedSeries says whether a scrape has a series of that name: a
// family's own name, or a histogram's _bucket, _sum and _count.
func exportedSeries(fams map[string]*dto.MetricFamily, name string) bool {
	if fams[name] != nil {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && fams[base].GetType() == dto.MetricType_HISTOGRAM {
			return true
		}
	}
	return false
}

// dashboardQueries are the PromQL queries of a Grafana dashboard: every
// "expr", and the templating variables' queries.
func dashboardQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var dash map[string]any
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, child := range v {
				if s, ok := child.(string); ok && k == "expr" {
					out[where+"."+k] = s
				}
				walk(where+"."+k, child)
			}
		case []any:
			for i, child := range v {
				walk(where+"["+strconv.Itoa(i)+"]", child)
			}
		}
	}
	walk("panels", dash["panels"])
	templating, _ := dash["templating"].(map[string]any)
	vars, _ := templating["list"].([]any)
	for _, v := range vars {
		v, _ := v.(map[string]any)
		if v["type"] != "query" {
			continue
		}
		q, _ := v["query"].(map[string]any)
		if s, ok := q["query"].(string); ok {
			out["templating."+v["name"].(string)] = s
		}
	}
	return out
}

// ruleExpressions are the alert expressions of a PrometheusRule, by alert.
func ruleExpressions(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Kind string
		Spec struct {
			Groups []struct {
				Rules []struct{ Alert, Record, Expr string }
			}
		}
	}
	if err := yaml.Unmarshal(data, &rule); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if rule.Kind != "PrometheusRule" {
		t.Fatalf("%s: kind %q", path, rule.Kind)
	}
	out := map[string]string{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			out[r.Alert+r.Record] = r.Expr
		}
	}
	return out
}

func TestPromqlMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.99, sum by (le, namespace) (rate(a_bucket{pod=~"$pod"}[$__rate_interval])))`: {"a_bucket"},
		`x == 0 unless on (namespace, pod) y == 1`:                                                         {"x", "y"},
		`time() - last_ts{ns="a"}`:                                                                         {"last_ts"},
		`count(up == 0) or vector(0)`:                                                                      {"up"},
		`label_values(gens{namespace=~"$namespace"}, gateway)`:                                             {"gens"},
		`increase(a_total[15m]) > 0 or increase(b_total[15m]) > 0`:                                         {"a_total", "b_total"},
	} {
		if got := promqlMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("promqlMetricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}

// TestMonitoringUsesExportedMetrics: every metric that the Grafana
// dashboard and the PrometheusRule in config/monitoring name is one the
// sidecar exports (a real scrape: sidecar and nginx with the status server,
// after a config was applied), and each query names at least one.
func TestMonitoringUsesExportedMetrics(t *testing.T) {
	p := newPod(t)
	c := httpConfig(p.ip, okBackend(t), 1, newCert(t), p.statusServer())
	p.serve(c, "v=1")
	p.waitApplied(c.hash())
	p.waitNginxGauges(map[string]float64{"up": 1})
	fams, err := p.metrics()
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(testenv.RepoRoot(), "config", "monitoring")
	queries := dashboardQueries(t, filepath.Join(dir, "gateway-dashboard.json"))
	alerts := ruleExpressions(t, filepath.Join(dir, "prometheusrule.yaml"))
	for _, alert := range []string{"NginxGatewayConfigStale", "NginxGatewayConfigRejected", "NginxGatewayReloadFailures", "NginxGatewayTooManyWorkerGenerations"} {
		if alerts[alert] == "" {
			t.Errorf("prometheusrule.yaml has no alert %s", alert)
		}
	}
	for where, expr := range alerts {
		queries["alert "+where] = expr
	}
	if len(queries) < 20 {
		t.Fatalf("only %d queries found in the dashboard and the rule: %v", len(queries), queries)
	}
	used := map[string]bool{}
	for where, expr := range queries {
		names := promqlMetricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: %q names no metric", where, expr)
		}
		for _, name := range names {
			used[name] = true
			if !exportedSeries(fams, name) {
				t.Errorf("%s: %q names %s, which the sidecar does not export", where, expr, name)
			}
		}
	}
	t.Logf("%d queries use %d series: %v", len(queries), len(used), slices.Sorted(maps.Keys(used)))
}
