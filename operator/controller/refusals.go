package controller

import (
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/blame"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// Defense in depth: whatever the translation step misses must not freeze a
// shared Gateway. When a gateway pod rejects a config the reconciler
// rendered, the route behind the line nginx names (blame.Route over that
// config's render.Sources) is refused (translate.Input.Refused, with
// nginx's message) until the route changes, so the next config leaves it
// out and the other routes are served again.

// keepRendered is how many of its latest configs the reconciler remembers
// per Gateway: pods report on a config a little after the next may have
// been rendered.
const keepRendered = 3

// renderedConfig is a config the reconciler rendered, with what a
// rejection of it is blamed on.
type renderedConfig struct {
	hash string
	// encoded is its config files as the ConfigMap stores them (written
	// again as the last-good config), sources what its lines were made for.
	encoded resources.EncodedConfig
	sources render.Sources
	// generations are the metadata.generation of the routes when the
	// config was rendered (changedRouteGenerations: those not at 1): a
	// refusal holds for that generation only.
	generations map[translate.RouteKey]int64
}

// refusalKey is a route at one generation: a new generation gets another chance.
type refusalKey struct {
	route      translate.RouteKey
	generation int64
}

// dataPlaneMemory is what the reconciler remembers between runs, per
// Gateway: the configs it rendered lately and the routes refused.
type dataPlaneMemory struct {
	rendered map[types.NamespacedName][]renderedConfig // newest last
	refused  map[refusalKey]string
}

func newDataPlaneMemory() *dataPlaneMemory {
	return &dataPlaneMemory{rendered: map[types.NamespacedName][]renderedConfig{}, refused: map[refusalKey]string{}}
}

// remember notes a config rendered for gw.
func (m *dataPlaneMemory) remember(gw types.NamespacedName, cfg renderedConfig) {
	list := slices.DeleteFunc(m.rendered[gw], func(c renderedConfig) bool { return c.hash == cfg.hash })
	// Configs rendered one after another mostly see the same route
	// generations: they share one map (one per route; ~0.5 MiB at 5,000).
	for _, c := range list {
		if maps.Equal(c.generations, cfg.generations) {
			cfg.generations = c.generations
			break
		}
	}
	list = append(list, cfg)
	if len(list) > keepRendered {
		list = slices.Delete(list, 0, len(list)-keepRendered)
	}
	m.rendered[gw] = list
}

// config returns the config of hash rendered for gw, if remembered.
func (m *dataPlaneMemory) config(gw types.NamespacedName, hash string) (renderedConfig, bool) {
	for _, c := range m.rendered[gw] {
		if c.hash == hash {
			return c, true
		}
	}
	return renderedConfig{}, false
}

// newestApplied returns the newest config rendered for gw that one of
// pods (not being deleted) reports applied: what the Gateway's last-good
// ConfigMap holds.
func (m *dataPlaneMemory) newestApplied(gw types.NamespacedName, pods []corev1.Pod, reports map[string]dataplane.PodReport) (renderedConfig, bool) {
	configs := m.rendered[gw]
	for i := len(configs) - 1; i >= 0; i-- {
		for j := range pods {
			if pods[j].DeletionTimestamp == nil && reports[pods[j].Name].AppliedHash == configs[i].hash {
				return configs[i], true
			}
		}
	}
	return renderedConfig{}, false
}

// forget drops the configs of Gateways not in served.
func (m *dataPlaneMemory) forget(served func(types.NamespacedName) bool) {
	for gw := range m.rendered {
		if !served(gw) {
			delete(m.rendered, gw)
		}
	}
}

// noteRejections refuses the route behind each config of gw that a pod
// rejected, and returns the routes newly refused. A rejection whose line
// is no route's refuses nothing: the Gateway stays Programmed False with
// nginx's message (DataPlaneProgrammed).
func (m *dataPlaneMemory) noteRejections(gw types.NamespacedName, reports map[string]dataplane.PodReport) []translate.RouteKey {
	var added []translate.RouteKey
	for _, pod := range slices.Sorted(maps.Keys(reports)) {
		hash := reports[pod].RejectedHash
		cfg, ok := m.config(gw, hash)
		if hash == "" || !ok {
			continue
		}
		msg := reports[pod].RejectedMessage
		ref, ok := blame.Route(msg, cfg.sources)
		if !ok {
			continue
		}
		route := translate.RouteKey{Kind: gatewayv1.Kind(ref.Kind), NamespacedName: types.NamespacedName{Namespace: ref.Namespace, Name: ref.Name}}
		key := refusalKey{route: route, generation: generationOf(cfg.generations, route)}
		if _, known := m.refused[key]; known {
			continue
		}
		if len(msg) > maxRejectedMessage {
			msg = msg[:maxRejectedMessage] + "…"
		}
		rule := fmt.Sprintf("rule %d", ref.RuleIndex)
		if ref.RuleName != "" {
			rule = fmt.Sprintf("rule %q", ref.RuleName)
		}
		m.refused[key] = fmt.Sprintf("nginx rejected the configuration at a line of this route's %s (config %s, pod %s): %s", rule, hash, pod, msg)
		added = append(added, route)
	}
	return added
}

// refusedRoutes drops the refusals of routes gone or changed (another
// generation) and returns the others, for translate.Input.Refused.
func (m *dataPlaneMemory) refusedRoutes(routes []routeObject) map[translate.RouteKey]string {
	out := map[translate.RouteKey]string{}
	if len(m.refused) == 0 {
		return out
	}
	generations := map[translate.RouteKey]int64{}
	for _, r := range routes {
		generations[r.key] = r.obj.GetGeneration()
	}
	for key, msg := range m.refused {
		if gen, ok := generations[key.route]; !ok || gen != key.generation {
			delete(m.refused, key)
			continue
		}
		out[key.route] = msg
	}
	return out
}

// changedRouteGenerations maps each of the routes whose
// metadata.generation is not 1 to it; the others (generationOf) were
// created and never changed, most routes of a cluster. Every route's took
// ~0.5 MiB at 5,000 routes, for the reconcile in flight and again for
// each config remembered (renderedConfig).
func changedRouteGenerations(routes []routeObject) map[translate.RouteKey]int64 {
	out := map[translate.RouteKey]int64{}
	for _, r := range routes {
		if gen := r.obj.GetGeneration(); gen != 1 {
			out[r.key] = gen
		}
	}
	return out
}

// generationOf is the generation of route, of those in generations
// (changedRouteGenerations) when they were taken.
func generationOf(generations map[translate.RouteKey]int64, route translate.RouteKey) int64 {
	if gen, ok := generations[route]; ok {
		return gen
	}
	return 1
}
