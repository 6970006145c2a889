package packaging

import (
	"encoding/json"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// TestMonitoringSelectsGatewayPods: config/monitoring's PodMonitor selects
// the pods of a Gateway's Deployment (as operator/resources makes it) and
// scrapes a container port they have, the dashboard ConfigMap carries the
// label Grafana's sidecar imports and valid JSON, and config/default does
// not include the monitoring objects (their CRDs are optional).
// The metric names the files use are checked against a real scrape in
// sidecar.TestMonitoringUsesExportedMetrics.
func TestMonitoringSelectsGatewayPods(t *testing.T) {
	objs, err := bundlegen.Build(configDir(), "monitoring", bundlegen.Images{})
	if err != nil {
		t.Fatal(err)
	}
	set := resources.Objects(resources.Owner{Namespace: "shop", Name: "web"}, model.Infrastructure{}, render.Files{}, resources.Options{})
	pod := set.Deployment.Spec.Template
	ports := map[string]bool{}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			ports[p.Name] = true
		}
	}
	var monitors int
	for _, o := range objs {
		switch o.GetKind() {
		case "PodMonitor":
			monitors++
			var pm struct {
				Spec struct {
					NamespaceSelector struct {
						Any bool `json:"any"`
					} `json:"namespaceSelector"`
					Selector struct {
						MatchLabels      map[string]string `json:"matchLabels"`
						MatchExpressions []struct {
							Key      string `json:"key"`
							Operator string `json:"operator"`
						} `json:"matchExpressions"`
					} `json:"selector"`
					PodMetricsEndpoints []struct {
						Port string `json:"port"`
						Path string `json:"path"`
					} `json:"podMetricsEndpoints"`
				} `json:"spec"`
			}
			mustConvert(t, o.Object, &pm)
			if !pm.Spec.NamespaceSelector.Any {
				t.Error("the PodMonitor must look in every namespace: Gateways live in any")
			}
			if !selects(pm.Spec.Selector.MatchLabels, pod.Labels) {
				t.Errorf("PodMonitor matchLabels %v do not select gateway pod labels %v", pm.Spec.Selector.MatchLabels, pod.Labels)
			}
			for _, e := range pm.Spec.Selector.MatchExpressions {
				if _, ok := pod.Labels[e.Key]; e.Operator != "Exists" || !ok {
					t.Errorf("PodMonitor expression %+v does not select gateway pod labels %v", e, pod.Labels)
				}
			}
			for _, ep := range pm.Spec.PodMetricsEndpoints {
				if !ports[ep.Port] || ep.Path != "/metrics" {
					t.Errorf("PodMonitor scrapes port %q path %q; the gateway pod has ports %v and serves /metrics", ep.Port, ep.Path, ports)
				}
			}
		case "ConfigMap":
			if o.GetLabels()["grafana_dashboard"] != "1" {
				t.Errorf("dashboard ConfigMap %s lacks the label grafana_dashboard=1", o.GetName())
			}
			data, _ := o.Object["data"].(map[string]any)
			dash, _ := data["gateway-dashboard.json"].(string)
			if !json.Valid([]byte(dash)) {
				t.Errorf("dashboard ConfigMap %s holds no valid gateway-dashboard.json", o.GetName())
			}
		}
	}
	if monitors != 1 {
		t.Errorf("%d PodMonitors in config/monitoring, want 1", monitors)
	}

	def, err := bundlegen.Build(configDir(), "default", bundlegen.Images{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range def {
		if k := o.GetKind(); k == "PodMonitor" || k == "PrometheusRule" {
			t.Errorf("config/default includes %s %s: it must install without the Prometheus Operator's CRDs", k, o.GetName())
		}
	}
}
