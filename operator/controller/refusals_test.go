package controller

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// TestDataPlaneMemory: a rejection is blamed on the route of the line
// nginx names, at the generation the config was rendered from; a line of
// ours or an unknown hash refuses nothing; a new generation or a deleted
// route drops the refusal.
func TestDataPlaneMemory(t *testing.T) {
	gw := types.NamespacedName{Namespace: "ns", Name: "gw"}
	poison := translate.RouteKey{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: "ns", Name: "poison"}}
	sources := render.Sources{"servers.conf": {{From: 10, To: 20, Route: model.RouteRef{Kind: "HTTPRoute", Namespace: "ns", Name: "poison"}}}}
	m := newDataPlaneMemory()
	at := func(generation int64) []routeObject {
		return routeObjects(&translate.Input{HTTPRoutes: []*gatewayv1.HTTPRoute{{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "poison", Generation: generation}}}})
	}
	m.remember(gw, renderedConfig{hash: "h1", sources: sources, generations: changedRouteGenerations(at(3))})
	rejected := func(hash, msg string) map[string]dataplane.PodReport {
		return map[string]dataplane.PodReport{"p": {RejectedHash: hash, RejectedMessage: msg}}
	}

	if got := m.noteRejections(gw, rejected("h1", "[emerg] bad in servers.conf:9")); len(got) != 0 {
		t.Errorf("a line of ours refused %v", got)
	}
	if got := m.noteRejections(gw, rejected("h2", "[emerg] bad in servers.conf:15")); len(got) != 0 {
		t.Errorf("a config not rendered here refused %v", got)
	}
	if got := m.noteRejections(gw, rejected("h1", "[emerg] bad in servers.conf:15")); len(got) != 1 || got[0] != poison {
		t.Fatalf("refused %v, want %v", got, poison)
	}
	if got := m.noteRejections(gw, rejected("h1", "[emerg] bad in servers.conf:15")); len(got) != 0 {
		t.Errorf("refused again: %v", got)
	}
	refused := m.refusedRoutes(at(3))
	if msg := refused[poison]; !strings.Contains(msg, "[emerg] bad in servers.conf:15") || !strings.Contains(msg, "rule 0") {
		t.Errorf("refusal message %q", msg)
	}
	// The route changed: its refusal goes, and the old rejection (still on
	// the pod) does not refuse the new generation.
	if refused := m.refusedRoutes(at(4)); len(refused) != 0 {
		t.Errorf("generation 4 refused: %v", refused)
	}
	m.noteRejections(gw, rejected("h1", "[emerg] bad in servers.conf:15"))
	if refused := m.refusedRoutes(at(4)); len(refused) != 0 {
		t.Errorf("generation 4 refused by generation 3's rejection: %v", refused)
	}
	// A route never changed (generation 1, not kept in generations) is
	// refused at that generation; deleted, its refusal goes.
	m.remember(gw, renderedConfig{hash: "h5", sources: sources, generations: changedRouteGenerations(at(1))})
	if got := m.noteRejections(gw, rejected("h5", "[emerg] bad in servers.conf:15")); len(got) != 1 {
		t.Fatalf("a route at generation 1 refused %v", got)
	}
	if refused := m.refusedRoutes(at(1)); len(refused) != 1 {
		t.Errorf("the route at generation 1 is not refused: %v", refused)
	}
	if refused := m.refusedRoutes(nil); len(refused) != 0 || len(m.refused) != 0 {
		t.Errorf("a deleted route is still refused: %v", m.refused)
	}
	// Only the latest configs are remembered.
	for _, h := range []string{"h2", "h3", "h4"} {
		m.remember(gw, renderedConfig{hash: h})
	}
	if _, ok := m.config(gw, "h1"); ok {
		t.Error("h1 still remembered after 3 newer configs")
	}
	m.forget(func(types.NamespacedName) bool { return false })
	if len(m.rendered) != 0 {
		t.Error("configs of unserved Gateways kept")
	}
}
