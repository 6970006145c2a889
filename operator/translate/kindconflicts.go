package translate

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeReasonConflicted is the Accepted False reason of a route refused
// because a route of the other kind (HTTPRoute, GRPCRoute) already serves
// one of its hostnames on the listener; Gateway API defines no reason for it.
const routeReasonConflicted gatewayv1.RouteConditionReason = "Conflicted"

// listenerConflict names one route on one listener.
type listenerConflict struct {
	route    RouteKey
	gateway  types.NamespacedName
	listener string
}

// kindConflicts applies the spec's rule for an HTTPRoute and a GRPCRoute
// attached to one listener with intersecting hostnames: exactly one is
// accepted, the oldest (then the first by namespace/name). Attachments are
// taken oldest first; one that shares a hostname with an already taken
// route of the other kind loses. It returns the losers, with the message of
// their Accepted False condition.
func kindConflicts(gateways []*gatewayState) map[listenerConflict]string {
	out := map[listenerConflict]string{}
	for _, gs := range gateways {
		if len(gs.attachments) == 0 || !bothKinds(gs.attachments) {
			continue // the common case: nothing to compare
		}
		byListener := map[*listenerState][]attachment{}
		for _, a := range gs.attachments {
			if k := a.route.key.Kind; k == kindHTTPRoute || k == kindGRPCRoute {
				byListener[a.listener] = append(byListener[a.listener], a)
			}
		}
		for l, as := range byListener {
			if !bothKinds(as) {
				continue
			}
			sort.SliceStable(as, func(i, j int) bool { return routeOlder(as[i].route, as[j].route) })
			taken := map[gatewayv1.Kind][]attachment{}
			for _, a := range as {
				other := gatewayv1.Kind(kindHTTPRoute)
				if a.route.key.Kind == kindHTTPRoute {
					other = kindGRPCRoute
				}
				if other, host, ok := kindConflict(a, taken[other]); ok {
					out[listenerConflict{a.route.key, gs.key, l.id()}] = fmt.Sprintf(
						"%s %s shares hostname %q with %s %s on listener %s, which is older: only one of an HTTPRoute and a GRPCRoute may serve a hostname on a listener",
						a.route.key.Kind, a.route.key.NamespacedName, displayHost(host), other.key.Kind, other.key.NamespacedName, l.id())
					continue
				}
				taken[a.route.key.Kind] = append(taken[a.route.key.Kind], a)
			}
		}
	}
	return out
}

// bothKinds reports whether attachments hold routes of both kinds.
func bothKinds(as []attachment) bool {
	for _, a := range as[1:] {
		if a.route.key.Kind != as[0].route.key.Kind {
			return true
		}
	}
	return false
}

// kindConflict finds, among taken (routes of the other kind), one that
// shares a hostname with a.
func kindConflict(a attachment, taken []attachment) (*routeState, string, bool) {
	for _, t := range taken {
		for _, h := range a.hostnames {
			for _, th := range t.hostnames {
				if h == th {
					return t.route, h, true
				}
				if i := intersectHostname(h, th); i != "" {
					return t.route, i, true
				}
			}
		}
	}
	return nil, "", false
}

// routeOlder orders routes by creationTimestamp, then namespace/name.
func routeOlder(a, b *routeState) bool {
	if !a.created.Equal(&b.created) {
		return a.created.Before(&b.created)
	}
	return strings.Compare(a.key.Namespace+"/"+a.key.Name, b.key.Namespace+"/"+b.key.Name) < 0
}

func displayHost(h string) string {
	if h == "" {
		return "*"
	}
	return h
}
