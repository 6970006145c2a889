package translate

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// routeKinds are the processors of the route kinds the operator serves, one
// file each (httproute.go, …). Adding a kind means adding its processor
// here: the listeners, attachment, hostname intersection, ReferenceGrant
// checks, backend resolution and statuses are shared.
var routeKinds = []routeKind{httpRoutes{}, grpcRoutes{}, tcpRoutes, udpRoutes, tlsRoutes}

// routeKind is the processor of one route kind.
type routeKind interface {
	// kind is the route's kind, in group gateway.networking.k8s.io.
	kind() gatewayv1.Kind
	// protocols are the listener protocols that serve this kind: a listener
	// of one of them takes it unless allowedRoutes.kinds says otherwise.
	protocols() []gatewayv1.ProtocolType
	// routes lists the input's routes of this kind, sorted by namespace and
	// name. Each is compiled only when it names a Gateway of ours.
	routes(t *translator, in *Input) []routeObject
	// contribute adds to a Gateway's model what the routes of this kind
	// attached to its programmed listeners serve.
	contribute(t *translator, gs *gatewayState, m *model.Gateway, certs certificateNames)
}

// RouteKey names one route of any kind.
type RouteKey struct {
	Kind gatewayv1.Kind
	types.NamespacedName
}

// routeObject is one route as listed by its kind's processor.
type routeObject struct {
	key        RouteKey
	parentRefs []gatewayv1.ParentReference
	// compile validates the route apart from its parents.
	compile func() *routeState
}

// routeState is a route of any kind after validation, independent of its
// parents: what attachment and the route's status need.
type routeState struct {
	key        RouteKey
	generation int64
	// created is the route's creationTimestamp, which ranks it in
	// precedence and conflicts (the oldest route wins).
	created metav1.Time
	// hostnames are the validated spec.hostnames ("" never appears); kinds
	// without hostnames leave it empty (every hostname).
	hostnames []string
	// err, when set, makes the route not Accepted on any parent: nothing of
	// it is served (a route is taken whole or not at all).
	err *routeError
	// refErr is the first backend reference that did not resolve
	// (ResolvedRefs False); the route is still served.
	refErr *refError
	// spec is the kind's own compiled form, read only by its processor.
	spec any
}

// kindsOfProtocol returns the route kinds a listener of protocol p serves,
// in registry order.
func kindsOfProtocol(p gatewayv1.ProtocolType) []gatewayv1.Kind {
	var out []gatewayv1.Kind
	for _, k := range routeKinds {
		if slices.Contains(k.protocols(), p) {
			out = append(out, k.kind())
		}
	}
	return out
}

// supportedProtocols lists, sorted, the listener protocols some route kind
// serves, for messages: "HTTP and HTTPS".
func supportedProtocols() string {
	var ps []string
	for _, k := range routeKinds {
		for _, p := range k.protocols() {
			if !slices.Contains(ps, string(p)) {
				ps = append(ps, string(p))
			}
		}
	}
	slices.Sort(ps)
	return joinAnd(ps)
}

// joinAnd joins words as prose: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) <= 1 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// compileHostnames validates a route's spec.hostnames into rs.hostnames,
// sorted and deduplicated.
func (rs *routeState) compileHostnames(hostnames []gatewayv1.Hostname) *routeError {
	seen := map[string]bool{}
	for i, h := range hostnames {
		if err := checkHostname(fmt.Sprintf("spec.hostnames[%d]", i), string(h), true); err != nil {
			return unsupported(err)
		}
		if !seen[string(h)] {
			seen[string(h)] = true
			rs.hostnames = append(rs.hostnames, string(h))
		}
	}
	slices.Sort(rs.hostnames)
	return nil
}

// routeObjectsOf lists the routes of one kind, sorted by namespace and
// name, each compiled by compile only when a parentRef names a Gateway of
// ours.
func routeObjectsOf[T any, P interface {
	*T
	GetNamespace() string
	GetName() string
}](kind gatewayv1.Kind, routes []P, parentRefs func(P) []gatewayv1.ParentReference, compile func(P) *routeState) []routeObject {
	sorted := slices.Clone(routes) // the input is not changed, not even its order
	slices.SortFunc(sorted, func(a, b P) int { return compareObjects(a, b) })
	out := make([]routeObject, len(sorted))
	for i, r := range sorted {
		out[i] = routeObject{
			key:        RouteKey{Kind: kind, NamespacedName: types.NamespacedName{Namespace: r.GetNamespace(), Name: r.GetName()}},
			parentRefs: parentRefs(r),
			compile:    func() *routeState { return compile(r) },
		}
	}
	return out
}
