package translate

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

const kindListenerSet = "ListenerSet"

// ListenerSetResult is what the translation step decided for one
// ListenerSet whose parent is a Gateway of ours.
type ListenerSetResult struct {
	types.NamespacedName
	// Gateway is the parent, whose data plane serves the set's listeners.
	Gateway types.NamespacedName
	// Generation is the ListenerSet's metadata.generation.
	Generation int64
	// Accepted is the set's Accepted condition status: its listeners are
	// merged into the Gateway's.
	Accepted bool
	// Status holds the Accepted condition and each listener's Accepted,
	// Conflicted, ResolvedRefs, supportedKinds and attachedRoutes; the
	// controller adds Programmed, of the set and of each listener, from
	// ProgrammableListeners and the Gateway's data plane.
	Status gatewayv1.ListenerSetStatus
	// ProgrammableListeners names, in spec order, the set's listeners the
	// data plane serves once it accepts the config.
	ProgrammableListeners []string
}

// listenerSetState is a ListenerSet whose parent is a Gateway of ours,
// during a translation.
type listenerSetState struct {
	ls  *gatewayv1.ListenerSet
	key types.NamespacedName
	gs  *gatewayState
	// accepted: the set is attached, its listeners are the Gateway's too.
	// reason and message explain the Accepted condition (ListenersNotValid
	// also when accepted with some listeners not valid).
	accepted        bool
	reason, message string
	listeners       []*listenerState
}

// listenerSetParent is the Gateway a ListenerSet's parentRef names.
func listenerSetParent(ls *gatewayv1.ListenerSet) (types.NamespacedName, bool) {
	ref := ls.Spec.ParentRef
	if (ref.Group != nil && string(*ref.Group) != gatewayGroup) || (ref.Kind != nil && string(*ref.Kind) != kindGateway) {
		return types.NamespacedName{}, false
	}
	ns := ls.Namespace
	if ref.Namespace != nil && *ref.Namespace != "" {
		ns = string(*ref.Namespace)
	}
	return types.NamespacedName{Namespace: ns, Name: string(ref.Name)}, true
}

// listenerSetsByParent groups the ListenerSets by the Gateway they name, each
// group in the spec's order of precedence: oldest first, then by
// namespace/name.
func listenerSetsByParent(sets []gatewayv1.ListenerSet) map[types.NamespacedName][]*gatewayv1.ListenerSet {
	out := map[types.NamespacedName][]*gatewayv1.ListenerSet{}
	for i := range sets {
		if parent, ok := listenerSetParent(&sets[i]); ok {
			out[parent] = append(out[parent], &sets[i])
		}
	}
	for _, group := range out {
		slices.SortFunc(group, func(a, b *gatewayv1.ListenerSet) int {
			if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
				if a.CreationTimestamp.Before(&b.CreationTimestamp) {
					return -1
				}
				return 1
			}
			return compareObjects(a, b)
		})
	}
	return out
}

// allowsListenerSets reports whether the Gateway's spec.allowedListeners
// lets a ListenerSet in namespace ns attach (default: none may), and why
// not.
func (b *translator) allowsListenerSets(gw *gatewayv1.Gateway, ns string) (bool, string) {
	from := gatewayv1.NamespacesFromNone
	var selector *metav1.LabelSelector
	if al := gw.Spec.AllowedListeners; al != nil && al.Namespaces != nil {
		if al.Namespaces.From != nil {
			from = *al.Namespaces.From
		}
		selector = al.Namespaces.Selector
	}
	switch from {
	case gatewayv1.NamespacesFromAll:
		return true, ""
	case gatewayv1.NamespacesFromSame:
		if ns == gw.Namespace {
			return true, ""
		}
		return false, fmt.Sprintf("Gateway %s/%s allows ListenerSets of its own namespace only (spec.allowedListeners.namespaces.from: Same)", gw.Namespace, gw.Name)
	case gatewayv1.NamespacesFromSelector:
		if selector == nil {
			return false, fmt.Sprintf("Gateway %s/%s: spec.allowedListeners.namespaces.selector is required when from is Selector", gw.Namespace, gw.Name)
		}
		sel, err := metav1.LabelSelectorAsSelector(selector)
		if err != nil {
			return false, fmt.Sprintf("Gateway %s/%s: spec.allowedListeners.namespaces.selector: %v", gw.Namespace, gw.Name, err)
		}
		if n, ok := b.ix.namespaces[ns]; ok && sel.Matches(labels.Set(n.Labels)) {
			return true, ""
		}
		return false, fmt.Sprintf("Gateway %s/%s does not select namespace %s (spec.allowedListeners.namespaces.selector)", gw.Namespace, gw.Name, ns)
	}
	return false, fmt.Sprintf("Gateway %s/%s allows no ListenerSets (spec.allowedListeners.namespaces.from: %s)", gw.Namespace, gw.Name, from)
}

// portClaims are the hostnames and protocols that listeners of higher
// precedence hold on each port: the Gateway's own listeners, then those of
// each accepted ListenerSet in order. A later listener that cannot share a
// port with them is conflicted, the earlier ones keep serving.
type portClaims map[listenerPort]*portClaim

type portClaim struct {
	protocols map[gatewayv1.ProtocolType]bool
	hostnames map[string]bool
}

// add claims the port of each listener that is accepted and not
// conflicted.
func (c portClaims) add(ls ...*listenerState) {
	for _, l := range ls {
		if !l.accepted || l.conflictReason != "" {
			continue
		}
		claim := c[portOf(l)]
		if claim == nil {
			claim = &portClaim{protocols: map[gatewayv1.ProtocolType]bool{}, hostnames: map[string]bool{}}
			c[portOf(l)] = claim
		}
		claim.protocols[l.protocol] = true
		claim.hostnames[distinctHostname(l)] = true
	}
}

// clone copies the claims, so that a ListenerSet's take effect only once
// it is accepted.
func (c portClaims) clone() portClaims {
	out := make(portClaims, len(c))
	for port, claim := range c {
		out[port] = &portClaim{protocols: maps.Clone(claim.protocols), hostnames: maps.Clone(claim.hostnames)}
	}
	return out
}

// conflict returns the reason l cannot take its port beside the claims:
// ProtocolConflict, HostnameConflict, or "".
func (c portClaims) conflict(l *listenerState) string {
	claim := c[portOf(l)]
	if claim == nil {
		return ""
	}
	protocols := map[gatewayv1.ProtocolType]bool{l.protocol: true}
	for p := range claim.protocols {
		protocols[p] = true
	}
	if !compatibleProtocols(protocols) {
		return string(gatewayv1.ListenerReasonProtocolConflict)
	}
	if claim.hostnames[distinctHostname(l)] {
		return string(gatewayv1.ListenerReasonHostnameConflict)
	}
	return ""
}

// attachListenerSets validates the ListenerSets that name an accepted
// Gateway, in the order of precedence, and merges the listeners of those
// accepted into gs.listeners after the Gateway's own: the model, the
// Service's ports and listener isolation then see them all. A listener
// that conflicts with one of higher precedence (the Gateway's, an earlier
// set's, an earlier one of its set) loses to it, as the spec orders them
// (listenerset-protocol-conflict: a set's TCP listener loses port 80 to the
// Gateway's HTTP one while the set's HTTP listeners keep it).
func (b *translator) attachListenerSets(gs *gatewayState, sets []*gatewayv1.ListenerSet) {
	claims := portClaims{}
	claims.add(gs.listeners...)
	for _, ls := range sets {
		st := &listenerSetState{ls: ls, key: types.NamespacedName{Namespace: ls.Namespace, Name: ls.Name}, gs: gs}
		gs.sets = append(gs.sets, st)
		if !gs.accepted {
			st.reason, st.message = string(gatewayv1.ListenerSetReasonParentNotAccepted), fmt.Sprintf("Gateway %s is not accepted", gs.key)
			continue
		}
		if ok, why := b.allowsListenerSets(gs.gw, ls.Namespace); !ok {
			st.reason, st.message = string(gatewayv1.ListenerSetReasonNotAllowed), why
			continue
		}
		entries := make([]gatewayv1.Listener, len(ls.Spec.Listeners))
		for i, e := range ls.Spec.Listeners {
			entries[i] = gatewayv1.Listener(e)
		}
		st.listeners = buildListenerList(b.ix, grantRef{Group: gatewayGroup, Kind: kindListenerSet, Namespace: ls.Namespace}, entries)
		var invalid []string
		setClaims := claims.clone()
		for _, l := range st.listeners {
			l.set = st
			if l.accepted {
				if reason := setClaims.conflict(l); reason != "" {
					l.conflictReason, l.conflictWith = reason, "a listener of higher precedence (the Gateway's, an earlier ListenerSet's or an earlier one of this set)"
				}
				setClaims.add(l)
			}
			b.applyFrontendValidationTo(gs, l)
			if !l.programmed() {
				invalid = append(invalid, l.name)
			}
		}
		switch {
		case len(invalid) == len(st.listeners):
			st.reason, st.message = string(gatewayv1.ListenerSetReasonListenersNotValid), "no listener is valid: "+strings.Join(invalid, ", ")
			continue
		case len(invalid) > 0:
			st.reason, st.message = string(gatewayv1.ListenerSetReasonListenersNotValid), "ListenerSet is accepted; listeners not served: "+strings.Join(invalid, ", ")
		default:
			st.reason, st.message = string(gatewayv1.ListenerSetReasonAccepted), "ListenerSet is accepted"
		}
		st.accepted = true
		claims = setClaims
		gs.listeners = append(gs.listeners, st.listeners...)
	}
}

// ownListeners are the Gateway's own listeners, without its ListenerSets'.
func (gs *gatewayState) ownListeners() []*listenerState {
	return slices.DeleteFunc(slices.Clone(gs.listeners), func(l *listenerState) bool { return l.set != nil })
}

// attachedListenerSets counts the accepted ListenerSets; nil when the
// Gateway allows none and none is attached (the field is then left out).
func (gs *gatewayState) attachedListenerSets() *int32 {
	var n int32
	for _, st := range gs.sets {
		if st.accepted {
			n++
		}
	}
	al := gs.gw.Spec.AllowedListeners
	allows := al != nil && al.Namespaces != nil && al.Namespaces.From != nil && *al.Namespaces.From != gatewayv1.NamespacesFromNone
	if n == 0 && !allows {
		return nil
	}
	return &n
}

// result renders the set's status without Programmed (see ListenerSetResult).
func (st *listenerSetState) result() ListenerSetResult {
	gen := st.ls.Generation
	res := ListenerSetResult{
		NamespacedName: st.key,
		Gateway:        st.gs.key,
		Generation:     gen,
		Accepted:       st.accepted,
	}
	res.Status.Conditions = []metav1.Condition{condition(string(gatewayv1.ListenerSetConditionAccepted), st.accepted, st.reason, st.message, gen)}
	for _, l := range st.listeners {
		res.Status.Listeners = append(res.Status.Listeners, gatewayv1.ListenerEntryStatus(listenerStatus(l, gen)))
		if st.accepted && l.programmed() {
			res.ProgrammableListeners = append(res.ProgrammableListeners, l.name)
		}
	}
	return res
}
