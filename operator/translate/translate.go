package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// ControllerName is the GatewayClass controllerName this operator handles.
const ControllerName gatewayv1.GatewayController = "nginx-operator.dev/gateway-controller"

// Input is every object the translation step looks at. The reconciler fills it
// from its cache; the render command fills it from YAML files. Order does
// not matter: the translation step sorts what it needs.
//
// The routes, by far the most numerous objects, are held by pointer: the
// reconciler hands over its cache's own objects rather than a copy of
// thousands of route structs on every reconcile (~380 bytes each). Nothing
// reading an Input may change what they point to.
type Input struct {
	GatewayClasses []gatewayv1.GatewayClass
	Gateways       []gatewayv1.Gateway
	HTTPRoutes     []*gatewayv1.HTTPRoute
	GRPCRoutes     []*gatewayv1.GRPCRoute
	TCPRoutes      []*gatewayv1.TCPRoute
	UDPRoutes      []*gatewayv1.UDPRoute
	TLSRoutes      []*gatewayv1.TLSRoute
	// ListenerSets add listeners to the Gateways that allow them.
	ListenerSets    []gatewayv1.ListenerSet
	ReferenceGrants []gatewayv1beta1.ReferenceGrant
	Namespaces      []corev1.Namespace
	Services        []corev1.Service
	EndpointSlices  []discoveryv1.EndpointSlice
	Secrets         []corev1.Secret
	Parameters      []v1alpha1.GatewayParameters
	// BackendTLSPolicies and the ConfigMaps they may reference (only
	// those are needed; the CA bundle is read from key ca.crt).
	BackendTLSPolicies []gatewayv1.BackendTLSPolicy
	ConfigMaps         []corev1.ConfigMap
	// Refused are routes refused after translation, with the message for
	// their Accepted False (UnsupportedValue) condition: values the render
	// step finds nginx would refuse once escaped, or a route behind the line
	// of a config that nginx -t rejected. They are left out of every model,
	// so one route cannot stop the others of its Gateway from being served.
	Refused map[RouteKey]string
	// GatewayAPICRDVersions maps the name of each installed Gateway API
	// CRD (e.g. "httproutes.gateway.networking.k8s.io") to its
	// gateway.networking.k8s.io/bundle-version annotation ("" when the
	// annotation is missing). The GatewayClass SupportedVersion condition
	// is computed from it; when nil (unknown), that condition is left out.
	GatewayAPICRDVersions map[string]string
	// GatewayAPICRDChannels maps the same names to their
	// gateway.networking.k8s.io/channel annotation: features whose fields
	// exist only in the experimental channel are claimed only when the CRD
	// that has them is experimental (experimentalFeatures).
	GatewayAPICRDChannels map[string]string
}

// Output is the result of one translation: a model per Gateway and every status.
type Output struct {
	// GatewayClasses holds the status of each GatewayClass of our
	// controllerName, keyed by name.
	GatewayClasses map[string]gatewayv1.GatewayClassStatus
	// Gateways holds one result per Gateway whose class is ours, sorted by
	// namespace/name.
	Gateways []GatewayResult
	// ListenerSets holds one result per ListenerSet whose parentRef names
	// a Gateway of ours, sorted by namespace/name.
	ListenerSets []ListenerSetResult
	// Routes holds, per route of any kind that names at least one of our
	// Gateways, the status.parents entries this controller owns
	// (controllerName == ControllerName), sorted; the reconciler merges
	// them with entries of other controllers. Entries with the same
	// conditions share one Conditions slice: nothing may change it in
	// place.
	Routes map[RouteKey][]gatewayv1.RouteParentStatus
	// BackendTLSPolicies holds, per BackendTLSPolicy, the ancestors this
	// controller owns (one per Gateway of ours that routes to a Service
	// port it targets; empty when none); the reconciler merges them with
	// entries of other controllers.
	BackendTLSPolicies map[types.NamespacedName][]gatewayv1.PolicyAncestorStatus
	// References are the Services and Secrets this translation looked up.
	References References
}

// GatewayResult is what the translation step decided for one Gateway.
type GatewayResult struct {
	types.NamespacedName
	// Generation is the Gateway's metadata.generation, copied into every
	// condition's observedGeneration.
	Generation int64
	// Status holds the conditions the translation step decides (Accepted;
	// each listener's Accepted, Conflicted, ResolvedRefs) with the listeners'
	// supportedKinds and attachedRoutes. It has no Programmed condition and
	// no addresses: the controller composes Programmed from
	// ProgrammableListeners and the gateway pods' reports, and the sidecar
	// writes the addresses.
	Status gatewayv1.GatewayStatus
	// ProgrammableListeners names, in spec order, the listeners the data
	// plane serves once it accepts the config. None: the Gateway cannot be
	// programmed, whatever its pods do.
	ProgrammableListeners []string
	// Model is what the data plane serves; nil when the Gateway is not
	// accepted (then no data plane objects are kept for it).
	Model *model.Gateway
	// Endpoints are the ready addresses of each of Model's upstreams, keyed
	// by upstream name, each list sorted; an upstream without ready
	// endpoints has an empty list (its requests answer 503). They are kept
	// out of the model so that the config, and its hash, never depend on
	// them: the operator publishes them apart (resources.Endpoints) and
	// nginx resolves them at run time through the sidecar's DNS.
	Endpoints map[string][]model.Endpoint
	// Infrastructure is what the owned objects are built from.
	Infrastructure model.Infrastructure
	// endpointSources names the Service port and transport behind each
	// key of Endpoints whose Service port resolved, for Reendpoint.
	endpointSources map[string]streamUpstreamKey
}

// translator holds what one Translate call resolves once and shares between
// Gateways.
type translator struct {
	ix *index
	// refused is Input.Refused.
	refused map[RouteKey]string
	// conflicts are the routes refused on a listener because a route of
	// the other kind serves one of their hostnames there (kindConflicts).
	conflicts map[listenerConflict]string
	// listenerSets are the ListenerSets whose parent is a Gateway of ours,
	// for routes whose parentRef names one.
	listenerSets map[types.NamespacedName]*listenerSetState
	// upstreams are the Service ports resolved so far.
	upstreams map[upstreamKey]*resolvedUpstream
	// tlsPolicies are the BackendTLSPolicies by target.
	tlsPolicies backendTLSPolicies
	// streamUpstreams are the endpoints of the Service ports stream routes
	// resolved so far.
	streamUpstreams map[streamUpstreamKey][]model.Endpoint
	// routeConditions are the route status entries' conditions made so
	// far, one slice per distinct list (routeConditionList).
	routeConditions map[[2]metav1.Condition][]metav1.Condition
}

// Translate resolves and validates every input object and returns the model of
// each Gateway of ours and every status this controller owns. It is pure:
// no I/O, no clock, no randomness; the same Input (in any order) gives the
// same Output.
func Translate(in Input) Output {
	b := &translator{ix: newIndex(&in), refused: in.Refused, upstreams: map[upstreamKey]*resolvedUpstream{}, streamUpstreams: map[streamUpstreamKey][]model.Endpoint{}}
	b.tlsPolicies = resolveBackendTLSPolicies(b.ix, in.BackendTLSPolicies)
	out := Output{
		GatewayClasses: map[string]gatewayv1.GatewayClassStatus{},
		// Sized for every route (most name a Gateway of ours), so that
		// it does not grow step by step through thousands.
		Routes: make(map[RouteKey][]gatewayv1.RouteParentStatus, in.RouteCount()),
	}

	classes := map[string]classResult{}
	for i := range in.GatewayClasses {
		gc := &in.GatewayClasses[i]
		if gc.Spec.ControllerName != ControllerName {
			continue
		}
		status, res := buildGatewayClass(b.ix, gc, in.GatewayAPICRDVersions, in.GatewayAPICRDChannels)
		out.GatewayClasses[gc.Name] = status
		classes[gc.Name] = res
	}

	gateways := sortedByNamespacedName(in.Gateways)
	setsByParent := listenerSetsByParent(in.ListenerSets)
	states := map[types.NamespacedName]*gatewayState{}
	b.listenerSets = map[types.NamespacedName]*listenerSetState{}
	var ordered []*gatewayState
	for _, gw := range gateways {
		class, ok := classes[string(gw.Spec.GatewayClassName)]
		if !ok {
			continue
		}
		gs := b.newGatewayState(gw, class, setsByParent[types.NamespacedName{Namespace: gw.Namespace, Name: gw.Name}])
		states[gs.key] = gs
		ordered = append(ordered, gs)
		for _, st := range gs.sets {
			b.listenerSets[st.key] = st
		}
	}

	attachAll := func() {
		for _, kind := range routeKinds {
			for _, ro := range kind.routes(b, &in) {
				if parents := b.attachRoute(ro, states); len(parents) > 0 {
					out.Routes[ro.key] = parents
				}
			}
		}
	}
	attachAll()
	if conflicts := kindConflicts(ordered); len(conflicts) > 0 {
		// Attach again without the routes that lost a listener to a route
		// of the other kind, so their status says so.
		b.conflicts = conflicts
		for _, gs := range ordered {
			gs.attachments = nil
			for _, l := range gs.listeners {
				l.attachedRoutes, l.lastAttached = 0, RouteKey{}
			}
		}
		clear(out.Routes)
		attachAll()
	}

	for _, gs := range ordered {
		res := GatewayResult{
			NamespacedName:        gs.key,
			Generation:            gs.gw.Generation,
			Status:                gs.status(),
			ProgrammableListeners: gs.programmableListeners(),
			Infrastructure:        gs.infra,
		}
		if gs.accepted {
			_, settings := resolveSettings(gs.params...)
			res.Model = b.gatewayModel(gs, settings)
			res.Endpoints, res.endpointSources = b.endpointsOf(gs, res.Model)
			res.Infrastructure.Ports = servicePorts(gs.listeners)
		}
		out.Gateways = append(out.Gateways, res)
		for _, st := range gs.sets {
			out.ListenerSets = append(out.ListenerSets, st.result())
		}
	}
	slices.SortFunc(out.ListenerSets, func(a, b ListenerSetResult) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	out.BackendTLSPolicies = b.backendTLSPolicyStatuses(ordered)
	out.References = b.ix.looked
	return out
}

// gatewayModel builds the data-plane model of an accepted Gateway: its
// certificates, then what each route kind's attached routes serve.
func (b *translator) gatewayModel(gs *gatewayState, settings model.Settings) *model.Gateway {
	m := &model.Gateway{Namespace: gs.key.Namespace, Name: gs.key.Name, Settings: settings}
	certs := addCertificates(gs, m)
	addBackendClientCertificate(gs, m)
	for _, kind := range routeKinds {
		kind.contribute(b, gs, m, certs)
	}
	return m
}

// endpointsOf lists the ready addresses of each upstream of m, and the
// Service port each comes from (when it resolved).
func (b *translator) endpointsOf(gs *gatewayState, m *model.Gateway) (map[string][]model.Endpoint, map[string]streamUpstreamKey) {
	out := make(map[string][]model.Endpoint, len(m.Upstreams)+len(m.StreamUpstreams))
	sources := make(map[string]streamUpstreamKey, len(out))
	for _, u := range m.Upstreams {
		eps := []model.Endpoint{}
		key := upstreamKey{Namespace: u.ServiceNamespace, Name: u.ServiceName, Port: u.ServicePort}
		if r := b.upstreams[key]; r != nil {
			eps = append(eps, r.endpoints...)
			sources[u.Name] = streamUpstreamKey{upstreamKey: key, transport: corev1.ProtocolTCP}
		}
		out[u.Name] = eps
	}
	// A stream upstream without endpoints keeps its (empty) entry: the
	// sidecar's DNS resolves it to the closed port, a success nginx asks
	// again a second later (an unknown name it would keep 10 s), and
	// connections to it are refused; an HTTP upstream's empty entry points
	// at the local 503 server.
	for key, name := range gs.streamUpstreams {
		out[name] = append([]model.Endpoint{}, b.streamUpstreams[key]...)
		if _, resolved := b.streamUpstreams[key]; resolved {
			sources[name] = key
		}
	}
	return out, sources
}

// Reendpoint is Translate(*in) for an in that differs from the input
// prev was translated from only in its EndpointSlices (the same
// InputKey(in).ButEndpointSlices): those feed nothing but the endpoints of
// each Gateway (no model, no status), so only they are computed again,
// from the Service ports the last translation resolved. A Service with
// many pods churns its EndpointSlices all through a rollout, and this is
// what each such event costs instead of a translation of every route.
// prev is not changed.
func Reendpoint(prev Output, in *Input) Output {
	b := &translator{ix: newIndex(in)}
	out := prev
	out.Gateways = slices.Clone(prev.Gateways)
	for i := range out.Gateways {
		g := &out.Gateways[i]
		if g.Endpoints == nil {
			continue
		}
		eps := make(map[string][]model.Endpoint, len(g.Endpoints))
		for name := range g.Endpoints {
			eps[name] = []model.Endpoint{}
			src, ok := g.endpointSources[name]
			if !ok {
				continue
			}
			svc, found := b.ix.services[types.NamespacedName{Namespace: src.Namespace, Name: src.Name}]
			if !found {
				continue
			}
			if sp := servicePort(svc, src.Port, src.transport); sp != nil {
				eps[name] = b.endpoints(svc, sp, src.transport)
			}
		}
		g.Endpoints = eps
	}
	return out
}

// RouteCount is the number of routes of every kind in the input.
func (in *Input) RouteCount() int {
	return len(in.HTTPRoutes) + len(in.GRPCRoutes) + len(in.TCPRoutes) + len(in.UDPRoutes) + len(in.TLSRoutes)
}

// Pointers points at each of items, for an Input's routes read from a list
// (the pointers share the list's items).
func Pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}

// sortedByNamespacedName returns pointers to the objects, sorted by
// namespace then name, so nothing depends on the order of the input.
func sortedByNamespacedName[T any, P interface {
	*T
	GetNamespace() string
	GetName() string
}](in []T) []P {
	out := make([]P, len(in))
	for i := range in {
		out[i] = P(&in[i])
	}
	slices.SortFunc(out, func(a, b P) int { return compareObjects(a, b) })
	return out
}

// compareObjects orders objects by namespace, then name: the order of
// everything the translation step outputs.
func compareObjects(a, b interface {
	GetNamespace() string
	GetName() string
}) int {
	return cmp.Or(strings.Compare(a.GetNamespace(), b.GetNamespace()), strings.Compare(a.GetName(), b.GetName()))
}

// servicePorts lists the distinct ports of the programmed listeners, per
// transport protocol: a TCP and a UDP listener on one number are two
// Service ports.
func servicePorts(ls []*listenerState) []model.ServicePort {
	type portKey struct {
		port     int32
		protocol corev1.Protocol
	}
	seen := map[portKey]bool{}
	var out []model.ServicePort
	for _, l := range ls {
		key := portKey{l.port, corev1.ProtocolTCP}
		if l.protocol == gatewayv1.UDPProtocolType {
			key.protocol = corev1.ProtocolUDP
		}
		if !l.programmed() || seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, model.ServicePort{
			Name:     fmt.Sprintf("%s-%d", strings.ToLower(string(l.protocol)), l.port),
			Port:     l.port,
			Protocol: key.protocol,
		})
	}
	slices.SortFunc(out, func(a, b model.ServicePort) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
	return out
}
