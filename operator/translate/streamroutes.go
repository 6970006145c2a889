package translate

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

const (
	kindTCPRoute = "TCPRoute"
	kindUDPRoute = "UDPRoute"
	kindTLSRoute = "TLSRoute"
)

// streamRoutes is the processor of one connection-level route kind
// (TCPRoute, UDPRoute, TLSRoute): the three share their shape (parentRefs,
// one rule of weighted backendRefs, hostnames for TLSRoute) and are served
// by nginx `stream` servers (model.StreamServer).
type streamRoutes struct {
	routeKind gatewayv1.Kind
	listener  gatewayv1.ProtocolType
	// server is the model protocol of the listeners of this kind.
	server model.StreamProtocol
	// transport is the Service port protocol of the backends.
	transport corev1.Protocol
	// idPrefix starts the model IDs of this kind's routes.
	idPrefix string
	list     func(in *Input) []streamSource
}

var (
	tcpRoutes = streamRoutes{
		routeKind: kindTCPRoute, listener: gatewayv1.TCPProtocolType, server: model.StreamTCP,
		transport: corev1.ProtocolTCP, idPrefix: "tcp",
		list: func(in *Input) []streamSource {
			out := make([]streamSource, len(in.TCPRoutes))
			for i := range in.TCPRoutes {
				r := in.TCPRoutes[i]
				out[i] = streamSource{meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs}
				for _, rule := range r.Spec.Rules {
					out[i].rules = append(out[i].rules, streamSourceRule{name: rule.Name, backendRefs: rule.BackendRefs})
				}
			}
			return out
		},
	}
	udpRoutes = streamRoutes{
		routeKind: kindUDPRoute, listener: gatewayv1.UDPProtocolType, server: model.StreamUDP,
		transport: corev1.ProtocolUDP, idPrefix: "udp",
		list: func(in *Input) []streamSource {
			out := make([]streamSource, len(in.UDPRoutes))
			for i := range in.UDPRoutes {
				r := in.UDPRoutes[i]
				out[i] = streamSource{meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs}
				for _, rule := range r.Spec.Rules {
					out[i].rules = append(out[i].rules, streamSourceRule{name: rule.Name, backendRefs: rule.BackendRefs})
				}
			}
			return out
		},
	}
	tlsRoutes = streamRoutes{
		routeKind: kindTLSRoute, listener: gatewayv1.TLSProtocolType, server: model.StreamTLS,
		transport: corev1.ProtocolTCP, idPrefix: "tls",
		list: func(in *Input) []streamSource {
			out := make([]streamSource, len(in.TLSRoutes))
			for i := range in.TLSRoutes {
				r := in.TLSRoutes[i]
				out[i] = streamSource{meta: &r.ObjectMeta, parentRefs: r.Spec.ParentRefs, hostnames: r.Spec.Hostnames}
				for _, rule := range r.Spec.Rules {
					out[i].rules = append(out[i].rules, streamSourceRule{name: rule.Name, backendRefs: rule.BackendRefs})
				}
			}
			return out
		},
	}
)

// streamSource is the part of a TCPRoute, UDPRoute or TLSRoute the
// translation reads.
type streamSource struct {
	meta       *metav1.ObjectMeta
	parentRefs []gatewayv1.ParentReference
	hostnames  []gatewayv1.Hostname
	rules      []streamSourceRule
}

type streamSourceRule struct {
	name        *gatewayv1.SectionName
	backendRefs []gatewayv1.BackendRef
}

func (k streamRoutes) kind() gatewayv1.Kind { return k.routeKind }

func (k streamRoutes) protocols() []gatewayv1.ProtocolType {
	return []gatewayv1.ProtocolType{k.listener}
}

func (k streamRoutes) routes(t *translator, in *Input) []routeObject {
	sources := k.list(in)
	slices.SortFunc(sources, func(a, b streamSource) int {
		return cmp.Or(strings.Compare(a.meta.Namespace, b.meta.Namespace), strings.Compare(a.meta.Name, b.meta.Name))
	})
	out := make([]routeObject, len(sources))
	for i, src := range sources {
		key := RouteKey{Kind: k.routeKind, NamespacedName: types.NamespacedName{Namespace: src.meta.Namespace, Name: src.meta.Name}}
		out[i] = routeObject{
			key:        key,
			parentRefs: src.parentRefs,
			compile:    func() *routeState { return t.compileStreamRoute(k, key, src) },
		}
	}
	return out
}

// streamRoute is the kind-specific part of a stream route's routeState.
type streamRoute struct {
	// created orders the routes of one listener (or TLS hostname): the
	// oldest is served, as the spec's conflict rules say.
	created  metav1.Time
	ruleName string
	backends []streamBackend
}

// streamBackend is a validated backendRef of a stream route.
type streamBackend struct {
	weight  int32
	key     streamUpstreamKey
	invalid bool
}

// streamUpstreamKey is one Service port and its transport: a TCP and a UDP
// port of the same number are two upstreams.
type streamUpstreamKey struct {
	upstreamKey
	transport corev1.Protocol
}

func (k streamUpstreamKey) compare(o streamUpstreamKey) int {
	if k.upstreamKey != o.upstreamKey {
		if k.less(o.upstreamKey) {
			return -1
		}
		return 1
	}
	return strings.Compare(string(k.transport), string(o.transport))
}

// compileStreamRoute validates a stream route apart from its parents.
func (b *translator) compileStreamRoute(k streamRoutes, key RouteKey, src streamSource) *routeState {
	sr := &streamRoute{created: src.meta.CreationTimestamp}
	rs := &routeState{key: key, generation: src.meta.Generation, spec: sr}
	if rs.err = rs.compileHostnames(src.hostnames); rs.err != nil {
		return rs
	}
	if len(src.rules) > 1 {
		rs.err = unsupported(fmt.Errorf("spec.rules: %d rules given, a %s has one", len(src.rules), k.routeKind))
		return rs
	}
	if len(src.rules) == 0 {
		return rs // nothing to proxy to: connections are closed
	}
	rule := src.rules[0]
	if rule.name != nil {
		if err := checkSectionName("spec.rules[0].name", string(*rule.name)); err != nil {
			rs.err = unsupported(err)
			return rs
		}
		sr.ruleName = string(*rule.name)
	}
	for i := range rule.backendRefs {
		ref := &rule.backendRefs[i]
		field := fmt.Sprintf("spec.rules[0].backendRefs[%d]", i)
		weight := int32(1)
		if ref.Weight != nil {
			weight = *ref.Weight
		}
		if weight < 0 || weight > 1000000 {
			rs.err = unsupported(fmt.Errorf("%s.weight: %d is not within 0..1000000", field, weight))
			return rs
		}
		uk, svc, sp, refErr := b.resolveServicePort(key, ref.BackendObjectReference, field, k.transport)
		rs.noteRefError(refErr)
		sk := streamUpstreamKey{upstreamKey: uk, transport: k.transport}
		if refErr == nil {
			if _, done := b.streamUpstreams[sk]; !done {
				b.streamUpstreams[sk] = b.endpoints(svc, sp, k.transport)
			}
		}
		if weight == 0 {
			continue // no traffic; still checked for status
		}
		sr.backends = append(sr.backends, streamBackend{weight: weight, key: sk, invalid: refErr != nil})
	}
	return rs
}

// streamServerKey is one stream server of a Gateway.
type streamServerKey struct {
	port     int32
	protocol model.StreamProtocol
}

// contribute adds the stream servers of this kind's programmed listeners,
// each with the routes it serves: per listener (TCP, UDP) or per hostname
// (TLS), the oldest of the routes attached there.
func (k streamRoutes) contribute(b *translator, gs *gatewayState, m *model.Gateway, certs certificateNames) {
	servers := map[streamServerKey]*model.StreamServer{}
	var order []streamServerKey
	listeners := map[*model.StreamServer][]*listenerState{}
	server := func(port int32) *model.StreamServer {
		key := streamServerKey{port, k.server}
		if s, ok := servers[key]; ok {
			return s
		}
		servers[key] = &model.StreamServer{Port: port, Protocol: k.server}
		order = append(order, key)
		return servers[key]
	}
	// A TLS connection belongs to the most specific listener of its port
	// whose hostname matches its server name (listener isolation): a
	// listener's hostname gets an entry even when no route is attached
	// there, and a route serves a hostname only through that listener.
	type hostKey struct {
		server   *model.StreamServer
		hostname string
	}
	chosen := map[hostKey]*routeState{}
	owner := map[hostKey]*listenerState{}
	var hosts []hostKey
	take := func(hk hostKey, l *listenerState, rs *routeState) {
		cur, seen := chosen[hk]
		if !seen {
			hosts = append(hosts, hk)
			chosen[hk] = nil
			owner[hk] = l
		}
		if rs != nil && (cur == nil || olderRoute(rs, cur)) {
			chosen[hk] = rs
		}
	}
	for _, l := range gs.listeners {
		if !l.programmed() || l.protocol != k.listener {
			continue
		}
		s := server(l.port)
		s.Listeners = append(s.Listeners, l.id())
		listeners[s] = append(listeners[s], l)
	}
	for s, ls := range listeners {
		if k.server == model.StreamTLS {
			for _, l := range ls {
				take(hostKey{s, l.hostname}, l, nil)
			}
		}
	}
	for _, a := range gs.attachments {
		if a.route.key.Kind != k.routeKind || !a.listener.programmed() {
			continue
		}
		s := server(a.listener.port)
		if k.server != model.StreamTLS {
			take(hostKey{s, ""}, a.listener, a.route)
			continue
		}
		for _, h := range a.hostnames {
			// HTTPS listeners of the port take their names too.
			if mostSpecificListener(append(slices.Clone(listeners[s]), httpsListeners(gs.listeners, s.Port)...), h) == a.listener {
				take(hostKey{s, h}, a.listener, a.route)
			}
		}
	}
	slices.SortFunc(hosts, func(a, b hostKey) int {
		return cmp.Or(cmp.Compare(a.server.Port, b.server.Port), strings.Compare(a.hostname, b.hostname))
	})

	// Upstreams: the ones of the chosen routes' valid backends, named in
	// key order, shared with the other stream kinds of the Gateway.
	var used []streamUpstreamKey
	for _, hk := range hosts {
		if rs := chosen[hk]; rs != nil && rs.err == nil {
			for _, be := range rs.spec.(*streamRoute).backends {
				if !be.invalid && !slices.Contains(used, be.key) {
					used = append(used, be.key)
				}
			}
		}
	}
	slices.SortFunc(used, streamUpstreamKey.compare)
	for _, key := range used {
		if _, named := gs.streamUpstreams[key]; named {
			continue
		}
		base := key.baseName()
		if key.transport != corev1.ProtocolTCP {
			base += "_" + strings.ToLower(string(key.transport))
		}
		name := gs.streamNames.take(base)
		gs.streamUpstreams[key] = name
		m.StreamUpstreams = append(m.StreamUpstreams, model.Upstream{
			Name:             name,
			ServiceNamespace: key.Namespace,
			ServiceName:      key.Name,
			ServicePort:      key.Port,
		})
	}
	slices.SortFunc(m.StreamUpstreams, func(a, b model.Upstream) int { return strings.Compare(a.Name, b.Name) })

	for i, hk := range hosts {
		sr := model.StreamRoute{Hostname: hk.hostname, ID: fmt.Sprintf("%s%d", k.idPrefix, i)}
		if l := owner[hk]; l.terminate {
			sr.TLS = &model.ServerTLS{}
			for _, c := range l.certs {
				sr.TLS.CertificateNames = append(sr.TLS.CertificateNames, certs[types.NamespacedName{Namespace: c.Namespace, Name: c.Name}])
			}
		}
		if rs := chosen[hk]; rs != nil {
			spec := rs.spec.(*streamRoute)
			sr.Route = model.RouteRef{Kind: string(k.routeKind), Namespace: rs.key.Namespace, Name: rs.key.Name, RuleName: spec.ruleName}
			for _, be := range spec.backends {
				mb := model.Backend{Weight: be.weight, Invalid: be.invalid}
				if !be.invalid {
					mb.Upstream = gs.streamUpstreams[be.key]
				}
				sr.Backends = append(sr.Backends, mb)
			}
		}
		hk.server.Routes = append(hk.server.Routes, sr)
	}
	for _, key := range order {
		s := servers[key]
		if k.server == model.StreamTLS {
			s.HTTPS = httpsHostnames(gs.listeners, s.Port)
		}
		m.StreamServers = append(m.StreamServers, *s)
	}
	slices.SortFunc(m.StreamServers, func(a, b model.StreamServer) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), strings.Compare(string(a.Protocol), string(b.Protocol)))
	})
}

// olderRoute reports whether a was created before b (then by namespace and
// name): the spec gives a contested listener or hostname to the oldest
// route.
func olderRoute(a, b *routeState) bool {
	ta, tb := a.spec.(*streamRoute).created, b.spec.(*streamRoute).created
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	return cmp.Or(strings.Compare(a.key.Namespace, b.key.Namespace), strings.Compare(a.key.Name, b.key.Name)) < 0
}

// mostSpecificListener returns the listener of ls whose hostname covers
// hostname most specifically (the longest; "" covers every name).
func mostSpecificListener(ls []*listenerState, hostname string) *listenerState {
	var best *listenerState
	for _, l := range ls {
		if hostnameCovers(l.hostname, hostname) && (best == nil || len(l.hostname) > len(best.hostname)) {
			best = l
		}
	}
	return best
}

// httpsListeners are the programmed HTTPS listeners on port.
func httpsListeners(ls []*listenerState, port int32) []*listenerState {
	var out []*listenerState
	for _, l := range ls {
		if l.programmed() && l.port == port && l.protocol == gatewayv1.HTTPSProtocolType {
			out = append(out, l)
		}
	}
	return out
}

// httpsHostnames are the hostnames of the programmed HTTPS listeners on
// port, sorted ("" for one without hostname).
func httpsHostnames(ls []*listenerState, port int32) []string {
	var out []string
	for _, l := range httpsListeners(ls, port) {
		if !slices.Contains(out, l.hostname) {
			out = append(out, l.hostname)
		}
	}
	slices.Sort(out)
	return out
}
