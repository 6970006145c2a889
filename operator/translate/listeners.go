package translate

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

const (
	gatewayGroup  = gatewayv1.GroupName
	kindHTTPRoute = "HTTPRoute"
	kindGateway   = "Gateway"
	kindService   = "Service"
	kindSecret    = "Secret"
)

// listenerState is a listener after validation, plus what routes add to it.
type listenerState struct {
	name string
	// namespace is that of the object defining the listener (the Gateway or
	// a ListenerSet): allowedRoutes "Same" and certificateRefs without a
	// namespace mean it.
	namespace string
	// set is the ListenerSet defining the listener; nil for the Gateway's own.
	set      *listenerSetState
	hostname string // "" when the listener has no hostname (all hostnames)
	port     int32
	protocol gatewayv1.ProtocolType

	// accepted is false when the listener is unusable (unsupported protocol
	// or value, conflict); acceptedReason/Message explain it.
	accepted        bool
	acceptedReason  string
	acceptedMessage string
	// conflictReason is set when the listener conflicts with another;
	// conflictWith says which took precedence, for a ListenerSet's
	// listener (portClaims), without naming it: a set's status must not
	// tell what its siblings hold.
	conflictReason string
	conflictWith   string
	// refsReason is set when ResolvedRefs is False; certsOK is false when
	// the TLS certificates could not be resolved (the listener then serves
	// nothing), while InvalidRouteKinds alone leaves it serving.
	refsReason  string
	refsMessage string
	certsOK     bool

	supportedKinds []gatewayv1.RouteGroupKind
	// kinds are the route kinds that may attach (supportedKinds as a set).
	kinds map[gatewayv1.Kind]bool

	nsFrom     gatewayv1.FromNamespaces
	nsSelector labels.Selector

	// certs are the resolved certificate Secrets, in certificateRefs order.
	certs []*corev1.Secret
	// terminate is set for a TLS listener in mode Terminate: its
	// connections are decrypted with certs and proxied in cleartext.
	terminate bool

	// attachedRoutes counts the routes attached with Accepted True, each
	// once however many of its parentRefs select the listener: they attach
	// one after another (attachRoute), so lastAttached, the route counted
	// last, tells one already counted. A set of the routes took ~0.5 MiB
	// at 5,000 routes for a count.
	attachedRoutes int32
	lastAttached   RouteKey
	// clientValidation is the client certificate validation of an HTTPS
	// listener (Gateway spec.tls.frontend, frontendtls.go); nil: none.
	clientValidation *frontendValidation
}

// programmed reports whether the listener is served by the data plane.
func (l *listenerState) programmed() bool {
	return l.accepted && l.conflictReason == "" && l.certsOK
}

// id names the listener uniquely within its Gateway: its name for the
// Gateway's own, "namespace/listenerset/name" for a ListenerSet's (a
// listener name has no "/", and names repeat across ListenerSets). The
// model's comments and the route conflict keys use it.
func (l *listenerState) id() string {
	if l.set == nil {
		return l.name
	}
	return l.set.key.Namespace + "/" + l.set.key.Name + "/" + l.name
}

// allowsNamespace reports whether a route in ns may attach (allowedRoutes.namespaces).
func (l *listenerState) allowsNamespace(ix *index, ns string) bool {
	switch l.nsFrom {
	case gatewayv1.NamespacesFromAll:
		return true
	case gatewayv1.NamespacesFromSame:
		return ns == l.namespace
	case gatewayv1.NamespacesFromSelector:
		n, ok := ix.namespaces[ns]
		return ok && l.nsSelector != nil && l.nsSelector.Matches(labels.Set(n.Labels))
	}
	return false
}

// gatewayPodPorts are the ports the gateway pod itself uses besides nginx's
// listeners (operator/resources/pod.go). The pod's containers share one
// network namespace, so a listener on one of them could not be served and
// would take the port from the sidecar (or nginx would fail to bind).
var gatewayPodPorts = map[int32]string{
	dataplane.HealthPort:       "the sidecar's health probes (/healthz, /readyz)",
	dataplane.MetricsPort:      "the sidecar's metrics (/metrics)",
	dataplane.EndpointsDNSPort: "the sidecar's endpoints DNS on the pod's loopback",
	dataplane.NoEndpointsPort:  "nginx's local server that answers 503 for upstreams without endpoints",
	// Kept closed: a stream upstream without endpoints resolves to it, so
	// its connections are refused; a listener there would take them.
	dataplane.ClosedPort: "stream upstreams without endpoints, which resolve to it so that their connections are refused (it must stay closed)",
}

// buildListeners validates the Gateway's own listeners, resolves their
// certificates and finds the conflicts among them.
func buildListeners(ix *index, gw *gatewayv1.Gateway) []*listenerState {
	out := buildListenerList(ix, grantRef{Group: gatewayGroup, Kind: kindGateway, Namespace: gw.Namespace}, gw.Spec.Listeners)
	markConflicts(out)
	return out
}

// buildListenerList validates the listeners of one object, owner (a
// Gateway or a ListenerSet: its namespace is the listeners' own, and it is
// what a ReferenceGrant must allow to reference certificates elsewhere) and
// resolves their certificates; conflicts are the caller's.
func buildListenerList(ix *index, owner grantRef, listeners []gatewayv1.Listener) []*listenerState {
	out := make([]*listenerState, 0, len(listeners))
	seenNames := map[string]bool{}
	for i := range listeners {
		l := &listeners[i]
		field := fmt.Sprintf("spec.listeners[%d]", i)
		st := &listenerState{
			name:      string(l.Name),
			namespace: owner.Namespace,
			port:      l.Port,
			protocol:  l.Protocol,
			accepted:  true,
			certsOK:   true,
		}
		if l.Hostname != nil {
			st.hostname = string(*l.Hostname)
		}
		out = append(out, st)
		reject := func(reason, msg string) {
			if st.accepted {
				st.accepted, st.acceptedReason, st.acceptedMessage = false, reason, msg
			}
		}
		if err := checkSectionName(field+".name", st.name); err != nil {
			reject(string(gatewayv1.ListenerReasonUnsupportedValue), err.Error())
		} else if seenNames[st.name] {
			reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.name: %q is used by an earlier listener", field, st.name))
		}
		seenNames[st.name] = true
		if l.Port < 1 || l.Port > 65535 {
			reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.port: %d is not a valid port", field, l.Port))
		} else if use, ok := gatewayPodPorts[l.Port]; ok {
			reject(string(gatewayv1.ListenerReasonPortUnavailable), fmt.Sprintf("%s.port: %d is used in the gateway pod by %s", field, l.Port, use))
		}
		if len(kindsOfProtocol(l.Protocol)) == 0 {
			reject(string(gatewayv1.ListenerReasonUnsupportedProtocol), fmt.Sprintf("%s.protocol: %q is not supported (%s are)", field, l.Protocol, supportedProtocols()))
			st.supportedKinds = []gatewayv1.RouteGroupKind{}
			continue
		}
		if st.hostname != "" {
			if err := checkHostname(field+".hostname", st.hostname, true); err != nil {
				reject(string(gatewayv1.ListenerReasonUnsupportedValue), err.Error())
			}
		}
		resolveRouteKinds(st, l, field)
		resolveRouteNamespaces(st, l, field, reject)
		switch l.Protocol {
		case gatewayv1.HTTPSProtocolType:
			resolveListenerTLS(ix, owner, st, l, field, reject)
		case gatewayv1.TLSProtocolType:
			if l.TLS != nil && l.TLS.Mode != nil && *l.TLS.Mode == gatewayv1.TLSModePassthrough {
				resolvePassthroughTLS(st, l, field, reject)
			} else {
				st.terminate = true
				resolveListenerTLS(ix, owner, st, l, field, reject)
			}
		}
	}
	return out
}

// resolveRouteKinds checks allowedRoutes.kinds against the route kinds
// the listener's protocol serves; without kinds, all of those are allowed.
func resolveRouteKinds(st *listenerState, l *gatewayv1.Listener, field string) {
	served := kindsOfProtocol(l.Protocol)
	st.supportedKinds = []gatewayv1.RouteGroupKind{}
	st.kinds = map[gatewayv1.Kind]bool{}
	allow := func(k gatewayv1.Kind) {
		if !st.kinds[k] {
			st.kinds[k] = true
			st.supportedKinds = append(st.supportedKinds, gatewayv1.RouteGroupKind{Group: ptrTo(gatewayv1.Group(gatewayGroup)), Kind: k})
		}
	}
	if l.AllowedRoutes == nil || len(l.AllowedRoutes.Kinds) == 0 {
		for _, k := range served {
			allow(k)
		}
		return
	}
	var invalid []string
	for _, k := range l.AllowedRoutes.Kinds {
		group := gatewayGroup
		if k.Group != nil {
			group = string(*k.Group)
		}
		if group == gatewayGroup && slices.Contains(served, k.Kind) {
			allow(k.Kind)
			continue
		}
		invalid = append(invalid, fmt.Sprintf("%s/%s", group, k.Kind))
	}
	if len(invalid) > 0 {
		names := make([]string, len(served))
		for i, k := range served {
			names[i] = string(k)
		}
		verb := "is"
		if len(names) > 1 {
			verb = "are"
		}
		st.refsReason = string(gatewayv1.ListenerReasonInvalidRouteKinds)
		st.refsMessage = fmt.Sprintf("%s.allowedRoutes.kinds: unsupported kinds %s (only %s %s supported)", field, strings.Join(invalid, ", "), joinAnd(names), verb)
	}
}

// resolveRouteNamespaces checks allowedRoutes.namespaces (default Same).
func resolveRouteNamespaces(st *listenerState, l *gatewayv1.Listener, field string, reject func(string, string)) {
	st.nsFrom = gatewayv1.NamespacesFromSame
	if l.AllowedRoutes == nil || l.AllowedRoutes.Namespaces == nil {
		return
	}
	ns := l.AllowedRoutes.Namespaces
	if ns.From != nil {
		st.nsFrom = *ns.From
	}
	switch st.nsFrom {
	case gatewayv1.NamespacesFromAll, gatewayv1.NamespacesFromSame, gatewayv1.NamespacesFromNone:
	case gatewayv1.NamespacesFromSelector:
		if ns.Selector == nil {
			reject(string(gatewayv1.ListenerReasonUnsupportedValue), field+".allowedRoutes.namespaces.selector: required when from is Selector")
			return
		}
		sel, err := metav1.LabelSelectorAsSelector(ns.Selector)
		if err != nil {
			reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.allowedRoutes.namespaces.selector: %v", field, err))
			return
		}
		st.nsSelector = sel
	default:
		reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.allowedRoutes.namespaces.from: %q is not supported", field, st.nsFrom))
	}
}

// resolveListenerTLS checks the tls of an HTTPS listener or a TLS listener
// in mode Terminate: certificateRefs to kubernetes.io/tls Secrets holding a
// valid key pair.
func resolveListenerTLS(ix *index, owner grantRef, st *listenerState, l *gatewayv1.Listener, field string, reject func(string, string)) {
	if l.TLS == nil {
		reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.tls: required for %s", field, l.Protocol))
		st.certsOK = false
		return
	}
	if l.TLS.Mode != nil && *l.TLS.Mode != gatewayv1.TLSModeTerminate {
		reject(string(gatewayv1.ListenerReasonUnsupportedValue), fmt.Sprintf("%s.tls.mode: %q is not supported for HTTPS (Terminate is)", field, *l.TLS.Mode))
		st.certsOK = false
		return
	}
	if len(l.TLS.CertificateRefs) == 0 {
		st.certsOK = false
		st.refsReason = string(gatewayv1.ListenerReasonInvalidCertificateRef)
		st.refsMessage = field + ".tls.certificateRefs: at least one certificate is required"
		return
	}
	for j, ref := range l.TLS.CertificateRefs {
		refField := fmt.Sprintf("%s.tls.certificateRefs[%d]", field, j)
		secret, reason, err := resolveCertificate(ix, owner, ref, refField)
		if err != nil {
			st.certsOK = false
			st.certs = nil
			// RefNotPermitted is more specific: keep the first failure.
			if st.refsReason == "" || st.refsReason == string(gatewayv1.ListenerReasonInvalidRouteKinds) {
				st.refsReason, st.refsMessage = reason, err.Error()
			}
			continue
		}
		if st.certsOK {
			st.certs = append(st.certs, secret)
		}
	}
}

// resolvePassthroughTLS checks a TLS listener in mode Passthrough (the
// connection is proxied as it is, routed on its server name): it takes no
// certificates.
func resolvePassthroughTLS(st *listenerState, l *gatewayv1.Listener, field string, reject func(string, string)) {
	if len(l.TLS.CertificateRefs) > 0 {
		reject(string(gatewayv1.ListenerReasonUnsupportedValue), field+".tls.certificateRefs: must be empty in mode Passthrough")
		st.certsOK = false
	}
}

// resolveCertificate resolves a certificateRef of a listener of owner (a
// Gateway or a ListenerSet: a ReferenceGrant must allow that kind, and a
// Gateway's grants are not inherited by its ListenerSets).
func resolveCertificate(ix *index, owner grantRef, ref gatewayv1.SecretObjectReference, field string) (*corev1.Secret, string, error) {
	invalid := string(gatewayv1.ListenerReasonInvalidCertificateRef)
	group, kind := "", kindSecret
	if ref.Group != nil {
		group = string(*ref.Group)
	}
	if ref.Kind != nil {
		kind = string(*ref.Kind)
	}
	if group != "" || kind != kindSecret {
		return nil, invalid, fmt.Errorf("%s: %s/%s is not supported (core Secret is)", field, group, kind)
	}
	ns := owner.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
	if !ix.referenceAllowed(
		owner,
		grantRef{Group: "", Kind: kindSecret, Namespace: ns, Name: string(ref.Name)},
	) {
		return nil, string(gatewayv1.ListenerReasonRefNotPermitted),
			fmt.Errorf("%s: Secret %s is in another namespace and no ReferenceGrant allows it", field, key)
	}
	secret, ok := ix.secret(key)
	if !ok {
		return nil, invalid, fmt.Errorf("%s: Secret %s not found", field, key)
	}
	if secret.Type != corev1.SecretTypeTLS {
		return nil, invalid, fmt.Errorf("%s: Secret %s is of type %q, not %q", field, key, secret.Type, corev1.SecretTypeTLS)
	}
	if _, err := tls.X509KeyPair(secret.Data[corev1.TLSCertKey], secret.Data[corev1.TLSPrivateKeyKey]); err != nil {
		return nil, invalid, fmt.Errorf("%s: Secret %s does not hold a valid certificate and key: %v", field, key, err)
	}
	return secret, "", nil
}

// listenerPort is a port and transport: a UDP listener shares its port
// number with the TCP-based ones, they are different sockets.
type listenerPort struct {
	port int32
	udp  bool
}

func portOf(l *listenerState) listenerPort {
	return listenerPort{l.port, l.protocol == gatewayv1.UDPProtocolType}
}

// compatibleProtocols reports whether listeners of these protocols may
// share a port: one protocol, or HTTPS and TLS (nginx routes each
// connection on its server name, model.StreamServer.HTTPS).
func compatibleProtocols(protocols map[gatewayv1.ProtocolType]bool) bool {
	return len(protocols) <= 1 || len(protocols) == 2 && protocols[gatewayv1.HTTPSProtocolType] && protocols[gatewayv1.TLSProtocolType]
}

// distinctHostname is the hostname that tells a listener apart from others
// on its port: a TCP or UDP connection has none.
func distinctHostname(l *listenerState) string {
	if l.protocol == gatewayv1.TCPProtocolType || l.protocol == gatewayv1.UDPProtocolType {
		return ""
	}
	return l.hostname
}

// markConflicts finds listeners of one object that are not distinct: on
// one port and transport, different protocols (HTTP and HTTPS, TCP and
// TLS, …: ProtocolConflict; HTTPS and TLS may share a port), or the same
// hostname twice (HostnameConflict). All of them are rejected; none wins
// (a ListenerSet's listeners are ordered instead: portClaims).
func markConflicts(ls []*listenerState) {
	byPort := map[listenerPort][]*listenerState{}
	var ports []listenerPort
	for _, l := range ls {
		if !l.accepted {
			continue
		}
		key := portOf(l)
		if _, ok := byPort[key]; !ok {
			ports = append(ports, key)
		}
		byPort[key] = append(byPort[key], l)
	}
	for _, port := range ports {
		group := byPort[port]
		protocols := map[gatewayv1.ProtocolType]bool{}
		for _, l := range group {
			protocols[l.protocol] = true
		}
		if !compatibleProtocols(protocols) {
			for _, l := range group {
				l.conflictReason = string(gatewayv1.ListenerReasonProtocolConflict)
			}
			continue
		}
		hosts := map[string]int{}
		for _, l := range group {
			hosts[distinctHostname(l)]++
		}
		for _, l := range group {
			if hosts[distinctHostname(l)] > 1 {
				l.conflictReason = string(gatewayv1.ListenerReasonHostnameConflict)
			}
		}
	}
}

// listenerStatus renders a listener's status without Programmed, which the
// controller composes (see gatewayState.status).
func listenerStatus(l *listenerState, generation int64) gatewayv1.ListenerStatus {
	conds := make([]metav1.Condition, 0, 4)
	switch {
	case !l.accepted:
		conds = append(conds, condition(string(gatewayv1.ListenerConditionAccepted), false, l.acceptedReason, l.acceptedMessage, generation))
	case l.conflictReason != "":
		// The conformance suite expects reason Invalid on Accepted for a
		// Gateway's conflicted listeners, and the conflict's reason for a
		// ListenerSet's (listenerset-hostname-conflict); Conflicted carries
		// the precise reason either way.
		reason := string(gatewayv1.ListenerReasonInvalid)
		if l.set != nil {
			reason = l.conflictReason
		}
		conds = append(conds, condition(string(gatewayv1.ListenerConditionAccepted), false, reason, "listener conflicts with another listener on the same port", generation))
	default:
		conds = append(conds, condition(string(gatewayv1.ListenerConditionAccepted), true, string(gatewayv1.ListenerReasonAccepted), "listener is accepted", generation))
	}
	if l.conflictReason != "" {
		conds = append(conds, condition(string(gatewayv1.ListenerConditionConflicted), true, l.conflictReason, conflictMessage(l), generation))
	} else {
		conds = append(conds, condition(string(gatewayv1.ListenerConditionConflicted), false, string(gatewayv1.ListenerReasonNoConflicts), "no conflicts", generation))
	}
	if l.refsReason != "" {
		conds = append(conds, condition(string(gatewayv1.ListenerConditionResolvedRefs), false, l.refsReason, l.refsMessage, generation))
	} else {
		conds = append(conds, condition(string(gatewayv1.ListenerConditionResolvedRefs), true, string(gatewayv1.ListenerReasonResolvedRefs), "all references are resolved", generation))
	}
	sortConditions(conds)
	return gatewayv1.ListenerStatus{
		Name:           gatewayv1.SectionName(l.name),
		SupportedKinds: l.supportedKinds,
		AttachedRoutes: l.attachedRoutes,
		Conditions:     conds,
	}
}

func conflictMessage(l *listenerState) string {
	if l.conflictWith != "" {
		if l.conflictReason == string(gatewayv1.ListenerReasonProtocolConflict) {
			return fmt.Sprintf("port %d is used by %s of another protocol", l.port, l.conflictWith)
		}
		return fmt.Sprintf("port %d has %s with hostname %q", l.port, l.conflictWith, l.hostname)
	}
	if l.conflictReason == string(gatewayv1.ListenerReasonProtocolConflict) {
		return fmt.Sprintf("port %d is used by listeners of different protocols", l.port)
	}
	return fmt.Sprintf("port %d has another listener with hostname %q", l.port, l.hostname)
}

// sortedSecrets returns the distinct certificate Secrets of the programmed
// listeners, sorted by namespace/name.
func sortedSecrets(ls []*listenerState) []*corev1.Secret {
	seen := map[types.NamespacedName]*corev1.Secret{}
	for _, l := range ls {
		if !l.programmed() {
			continue
		}
		for _, s := range l.certs {
			seen[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
		}
	}
	out := make([]*corev1.Secret, 0, len(seen))
	for _, s := range seen {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *corev1.Secret) int { return compareObjects(a, b) })
	return out
}

func ptrTo[T any](v T) *T { return &v }
