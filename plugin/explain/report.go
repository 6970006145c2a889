package explain

import (
	"cmp"
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// Report is the document the command prints: the explanation of one
// request on one Gateway.
type Report struct {
	// Gateway is "namespace/name".
	Gateway string `json:"gateway"`
	// Notes say what the explanation could not see or assumed.
	Notes          []string `json:"notes,omitempty"`
	explain.Result `json:",inline"`
}

// Build translates and renders in as the operator does and explains req
// on Gateway nn. Routes that name the Gateway but are not attached to it
// get a "not attached" verdict with their Accepted condition's reason.
func Build(in translate.Input, nn types.NamespacedName, req explain.Request) (Report, error) {
	return build(in, nn, func(m *model.Gateway, eps explain.Endpoints) explain.Result { return explain.Explain(m, eps, req) })
}

// BuildConnection is Build for a connection to a TCP, UDP or TLS listener.
func BuildConnection(in translate.Input, nn types.NamespacedName, c explain.Connection) (Report, error) {
	return build(in, nn, func(m *model.Gateway, eps explain.Endpoints) explain.Result {
		return explain.ExplainConnection(m, eps, c)
	})
}

func build(in translate.Input, nn types.NamespacedName, ask func(*model.Gateway, explain.Endpoints) explain.Result) (Report, error) {
	rep := Report{Gateway: nn.String()}
	piped := pipeline.Run(in)
	var gw *translate.GatewayResult
	for i := range piped.Output.Gateways {
		if piped.Output.Gateways[i].NamespacedName == nn {
			gw = &piped.Output.Gateways[i]
		}
	}
	if gw == nil {
		return rep, fmt.Errorf("Gateway %s is not among the objects read, or its GatewayClass is not of controller %s", nn, translate.ControllerName)
	}
	if gw.Model == nil {
		c := meta(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted))
		return rep, fmt.Errorf("Gateway %s is not accepted (%s: %s): nginx serves nothing for it", nn, c.Reason, c.Message)
	}
	if err := piped.Errors[nn]; err != nil {
		rep.Notes = append(rep.Notes, fmt.Sprintf("this configuration does not render (%v): the gateway pods keep serving an older one, which this explanation does not show", err))
	}
	rep.Result = ask(gw.Model, explain.Endpoints(gw.Endpoints))
	rep.Routes = append(rep.Routes, notAttached(piped.Output, nn, rep.Routes)...)
	slices.SortFunc(rep.Routes, func(a, b explain.RouteVerdict) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Kind, b.Kind))
	})
	return rep, nil
}

// notAttached lists the routes that name Gateway nn in a parentRef and
// are not accepted there, unless already listed.
func notAttached(out translate.Output, nn types.NamespacedName, listed []explain.RouteVerdict) []explain.RouteVerdict {
	var verdicts []explain.RouteVerdict
	for key, parents := range out.Routes {
		route := key.NamespacedName.String()
		if slices.ContainsFunc(listed, func(v explain.RouteVerdict) bool { return v.Route == route && v.Kind == string(key.Kind) }) {
			continue
		}
		for _, p := range parents {
			ns := key.Namespace
			if p.ParentRef.Namespace != nil {
				ns = string(*p.ParentRef.Namespace)
			}
			if ns != nn.Namespace || string(p.ParentRef.Name) != nn.Name {
				continue
			}
			c := meta(p.Conditions, string(gatewayv1.RouteConditionAccepted))
			if c.Status == metav1.ConditionTrue {
				continue
			}
			why := fmt.Sprintf("Accepted %s (%s): %s", c.Status, c.Reason, c.Message)
			if p.ParentRef.SectionName != nil {
				why = fmt.Sprintf("listener %s: %s", *p.ParentRef.SectionName, why)
			}
			verdicts = append(verdicts, explain.RouteVerdict{Route: route, Kind: string(key.Kind), Verdict: explain.RouteNotAttached, Why: why})
			break
		}
	}
	return verdicts
}

func meta(conds []metav1.Condition, t string) metav1.Condition {
	for _, c := range conds {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{Type: t, Status: metav1.ConditionUnknown, Reason: "NoCondition", Message: "no condition"}
}
