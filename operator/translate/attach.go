package translate

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// attachment is a route attached to one listener, with the hostnames it
// serves there ("" meaning every hostname).
type attachment struct {
	route     *routeState
	listener  *listenerState
	hostnames []string
}

// attachRoute attaches a route of any kind to the Gateways of ours, and the
// ListenerSets of Gateways of ours, that its parentRefs name, compiling it
// the first time one does, and returns its status entries, sorted; none
// when it names no parent of ours.
func (b *translator) attachRoute(ro routeObject, gateways map[types.NamespacedName]*gatewayState) []gatewayv1.RouteParentStatus {
	var rs *routeState
	var parents []gatewayv1.RouteParentStatus
	for _, ref := range ro.parentRefs {
		if ref.Group != nil && string(*ref.Group) != gatewayGroup {
			continue
		}
		ns := ro.key.Namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		key := types.NamespacedName{Namespace: ns, Name: string(ref.Name)}
		var gs *gatewayState
		var set *listenerSetState
		switch {
		case ref.Kind == nil || *ref.Kind == kindGateway:
			gs = gateways[key]
		case *ref.Kind == kindListenerSet:
			if set = b.listenerSets[key]; set != nil {
				gs = set.gs
			}
		}
		if gs == nil {
			continue
		}
		if rs == nil {
			rs = ro.compile()
			if msg, refused := b.refused[ro.key]; refused && rs.err == nil {
				rs.err = &routeError{reason: gatewayv1.RouteReasonUnsupportedValue, message: msg}
			}
		}
		parents = append(parents, b.parentStatus(rs, ref, gs, set))
	}
	sortParentStatuses(parents)
	return parents
}

// parentStatus resolves one parentRef of a route that names a Gateway of
// ours, or a ListenerSet (set) of one, and returns its status entry.
func (b *translator) parentStatus(rs *routeState, ref gatewayv1.ParentReference, gs *gatewayState, set *listenerSetState) gatewayv1.RouteParentStatus {
	gen := rs.generation
	ok, reason, msg := b.attach(rs, ref, gs, set)
	resolved := condition(string(gatewayv1.RouteConditionResolvedRefs), true, string(gatewayv1.RouteReasonResolvedRefs), "all references are resolved", gen)
	if rs.refErr != nil {
		resolved = condition(string(gatewayv1.RouteConditionResolvedRefs), false, string(rs.refErr.reason), rs.refErr.message, gen)
	}
	return gatewayv1.RouteParentStatus{
		ParentRef:      ref,
		ControllerName: ControllerName,
		// Sorted by type: Accepted, ResolvedRefs.
		Conditions: b.routeConditionList(condition(string(gatewayv1.RouteConditionAccepted), ok, string(reason), msg, gen), resolved),
	}
}

// routeConditionList is the conditions accepted then resolved, in one
// slice for every route status entry that has these two: most routes of a
// cluster have the same (accepted, references resolved, the same
// generation), and a slice of their own took ~1 MiB at 5,000 routes, kept
// with the statuses until the next translation.
func (b *translator) routeConditionList(accepted, resolved metav1.Condition) []metav1.Condition {
	key := [2]metav1.Condition{accepted, resolved}
	if list, ok := b.routeConditions[key]; ok {
		return list
	}
	if b.routeConditions == nil {
		b.routeConditions = map[[2]metav1.Condition][]metav1.Condition{}
	}
	list := []metav1.Condition{accepted, resolved} // len == cap: an append copies
	b.routeConditions[key] = list
	return list
}

// attach finds the listeners a parentRef selects, among the Gateway's own
// or, when it names a ListenerSet, among the set's, and attaches the route
// to them; it returns the Accepted condition.
func (b *translator) attach(rs *routeState, ref gatewayv1.ParentReference, gs *gatewayState, set *listenerSetState) (bool, gatewayv1.RouteConditionReason, string) {
	if !gs.accepted {
		return false, gatewayv1.RouteReasonNoMatchingParent, fmt.Sprintf("Gateway %s is not accepted", gs.key)
	}
	if set != nil && !set.accepted {
		return false, gatewayv1.RouteReasonNoMatchingParent, fmt.Sprintf("ListenerSet %s is not accepted: %s", set.key, set.message)
	}
	var candidates []*listenerState
	for _, l := range gs.listeners {
		if l.set != set {
			continue
		}
		if ref.SectionName != nil && string(*ref.SectionName) != l.name {
			continue
		}
		if ref.Port != nil && *ref.Port != l.port {
			continue
		}
		candidates = append(candidates, l)
	}
	if len(candidates) == 0 {
		return false, gatewayv1.RouteReasonNoMatchingParent, "no listener matches the parentRef's sectionName and port"
	}
	var allowed []*listenerState
	for _, l := range candidates {
		if l.accepted && l.kinds[rs.key.Kind] && l.allowsNamespace(b.ix, rs.key.Namespace) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 {
		return false, gatewayv1.RouteReasonNotAllowedByListeners, "no listener of the parentRef allows this route (kind, namespace or listener state)"
	}
	var found []attachment
	for _, l := range allowed {
		if hs := intersectHostnames(l.hostname, rs.hostnames); len(hs) > 0 {
			found = append(found, attachment{route: rs, listener: l, hostnames: hs})
		}
	}
	if len(found) == 0 {
		return false, gatewayv1.RouteReasonNoMatchingListenerHostname, "no listener hostname intersects the route's hostnames"
	}
	if rs.err != nil {
		return false, rs.err.reason, rs.err.message
	}
	if len(b.conflicts) > 0 {
		kept := found[:0]
		conflict := ""
		for _, a := range found {
			if msg, lost := b.conflicts[listenerConflict{rs.key, gs.key, a.listener.id()}]; lost {
				conflict = msg
				continue
			}
			kept = append(kept, a)
		}
		if len(kept) == 0 {
			return false, routeReasonConflicted, conflict
		}
		found = kept
	}
	for _, a := range found {
		if l := a.listener; l.attachedRoutes == 0 || l.lastAttached != rs.key {
			l.attachedRoutes++
			l.lastAttached = rs.key
		}
		gs.attachments = append(gs.attachments, a)
	}
	return true, gatewayv1.RouteReasonAccepted, "route is accepted"
}

// intersectHostnames returns the hostnames a route serves on a listener,
// sorted; "" means every hostname.
func intersectHostnames(listener string, route []string) []string {
	if len(route) == 0 {
		return []string{listener}
	}
	if listener == "" {
		return route
	}
	var out []string
	seen := map[string]bool{}
	for _, h := range route {
		if i := intersectHostname(listener, h); i != "" && !seen[i] {
			seen[i] = true
			out = append(out, i)
		}
	}
	slices.Sort(out)
	return out
}

// intersectHostname returns the more specific of two hostnames when one
// covers the other ("*.example.com" covers "a.example.com" and
// "a.b.example.com", not "example.com"), else "".
func intersectHostname(a, b string) string {
	switch {
	case a == b:
		return a
	case hostnameCovers(a, b):
		return b
	case hostnameCovers(b, a):
		return a
	}
	return ""
}

// hostnameCovers reports whether every host matching pattern b also
// matches pattern a ("" covers everything).
func hostnameCovers(a, b string) bool {
	if a == "" || a == b {
		return true
	}
	if !strings.HasPrefix(a, "*.") {
		return false
	}
	suffix := a[1:] // ".example.com"
	if strings.HasPrefix(b, "*.") {
		return strings.HasSuffix(b[1:], suffix) && len(b)-1 > len(suffix)
	}
	return strings.HasSuffix(b, suffix) && len(b) > len(suffix)
}

// routeParentStatuses sorts a route's entries by parentRef.
func sortParentStatuses(s []gatewayv1.RouteParentStatus) {
	key := func(p gatewayv1.ParentReference) string {
		var b strings.Builder
		if p.Namespace != nil {
			b.WriteString(string(*p.Namespace))
		}
		b.WriteString("/" + string(p.Name) + "/")
		if p.SectionName != nil {
			b.WriteString(string(*p.SectionName))
		}
		if p.Port != nil {
			fmt.Fprintf(&b, "/%d", *p.Port)
		}
		return b.String()
	}
	sort.SliceStable(s, func(i, j int) bool { return key(s[i].ParentRef) < key(s[j].ParentRef) })
}

// noteRefError keeps the first unresolved reference for ResolvedRefs.
func (rs *routeState) noteRefError(e *refError) {
	if e != nil && rs.refErr == nil {
		rs.refErr = e
	}
}
