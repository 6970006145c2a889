package rendercmd

import (
	"cmp"
	"encoding/json"
	"slices"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/controller"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// report is what the command prints: every status the operator would
// write, sorted. Conditions carry no lastTransitionTime (the translation step has
// no clock).
type report struct {
	GatewayClasses []classStatus       `json:"gatewayClasses,omitempty"`
	Gateways       []gatewayStatus     `json:"gateways,omitempty"`
	ListenerSets   []listenerSetStatus `json:"listenerSets,omitempty"`
	Routes         []routeStatus       `json:"routes,omitempty"`
}

type classStatus struct {
	Name   string                       `json:"name"`
	Status gatewayv1.GatewayClassStatus `json:"status"`
}

type gatewayStatus struct {
	Namespace string                  `json:"namespace"`
	Name      string                  `json:"name"`
	Status    gatewayv1.GatewayStatus `json:"status"`
}

type listenerSetStatus struct {
	Namespace string                      `json:"namespace"`
	Name      string                      `json:"name"`
	Status    gatewayv1.ListenerSetStatus `json:"status"`
}

type routeStatus struct {
	Kind      string                        `json:"kind"`
	Namespace string                        `json:"namespace"`
	Name      string                        `json:"name"`
	Parents   []gatewayv1.RouteParentStatus `json:"parents"`
}

// marshalReport writes the report as YAML without null fields (the
// conditions' unset lastTransitionTime).
func marshalReport(r report) ([]byte, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		return nil, err
	}
	return yaml.Marshal(dropNulls(tree))
}

func dropNulls(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, item := range v {
			if item == nil {
				delete(v, k)
			} else {
				v[k] = dropNulls(item)
			}
		}
	case []any:
		for i := range v {
			v[i] = dropNulls(v[i])
		}
	}
	return v
}

// newReport composes the statuses as the operator would, with every
// Gateway's data plane assumed to serve its config.
func newReport(out translate.Output) report {
	var r report
	statuses := controller.ComposeStatuses(out, nil)
	for name, status := range statuses.GatewayClasses {
		r.GatewayClasses = append(r.GatewayClasses, classStatus{Name: name, Status: status})
	}
	slices.SortFunc(r.GatewayClasses, func(a, b classStatus) int { return cmp.Compare(a.Name, b.Name) })
	for _, gw := range out.Gateways {
		r.Gateways = append(r.Gateways, gatewayStatus{Namespace: gw.Namespace, Name: gw.Name, Status: statuses.Gateways[gw.NamespacedName]})
	}
	slices.SortFunc(r.Gateways, func(a, b gatewayStatus) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	for _, ls := range out.ListenerSets { // sorted by namespace/name
		r.ListenerSets = append(r.ListenerSets, listenerSetStatus{Namespace: ls.Namespace, Name: ls.Name, Status: statuses.ListenerSets[ls.NamespacedName]})
	}
	for key, parents := range statuses.Routes {
		r.Routes = append(r.Routes, routeStatus{Kind: string(key.Kind), Namespace: key.Namespace, Name: key.Name, Parents: parents})
	}
	slices.SortFunc(r.Routes, func(a, b routeStatus) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return r
}
