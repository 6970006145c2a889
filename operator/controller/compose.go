package controller

import (
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// Statuses is every status the operator writes (apart from the times of
// its conditions, stamped when they are written). ComposeStatuses is the
// only place it is put together.
type Statuses struct {
	GatewayClasses map[string]gatewayv1.GatewayClassStatus
	// Gateways have no addresses: the sidecar writes those.
	Gateways map[types.NamespacedName]gatewayv1.GatewayStatus
	// Routes hold the status.parents entries of our controller.
	Routes map[translate.RouteKey][]gatewayv1.RouteParentStatus
	// ListenerSets are those whose parent is a Gateway of ours.
	ListenerSets map[types.NamespacedName]gatewayv1.ListenerSetStatus
}

// ComposeStatuses composes the statuses of every GatewayClass, Gateway,
// ListenerSet and route from the translation result and, per Gateway whose data plane was
// synced, the data plane's verdict: its Programmed condition (see
// DataPlaneProgrammed). A programmable Gateway without a verdict (the
// offline render command, a Gateway being deleted) is composed as if its
// data plane served the config.
//
// Translation decides Accepted, ResolvedRefs and Conflicted; the data plane
// decides Programmed, of the Gateway and of each listener the translation
// found programmable.
func ComposeStatuses(out translate.Output, verdicts map[types.NamespacedName]metav1.Condition) Statuses {
	st := Statuses{
		GatewayClasses: out.GatewayClasses,
		Gateways:       make(map[types.NamespacedName]gatewayv1.GatewayStatus, len(out.Gateways)),
		Routes:         out.Routes,
		ListenerSets:   make(map[types.NamespacedName]gatewayv1.ListenerSetStatus, len(out.ListenerSets)),
	}
	for _, g := range out.Gateways {
		verdict, ok := verdicts[g.NamespacedName]
		if !ok {
			verdict = servedVerdict(g.Generation)
		}
		st.Gateways[g.NamespacedName] = composeGatewayStatus(g, verdict)
	}
	for _, ls := range out.ListenerSets {
		verdict, ok := verdicts[ls.Gateway]
		if !ok {
			verdict = servedVerdict(ls.Generation)
		}
		st.ListenerSets[ls.NamespacedName] = composeListenerSetStatus(ls, verdict)
	}
	return st
}

// servedVerdict is a data plane that serves the config.
func servedVerdict(generation int64) metav1.Condition {
	return metav1.Condition{
		Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue,
		Reason: string(gatewayv1.GatewayReasonProgrammed), Message: "Gateway is programmed", ObservedGeneration: generation,
	}
}

// composeGatewayStatus adds Programmed to a Gateway's translated status: the
// data plane's verdict when the translation found something to serve, and
// on each listener the verdict when it is programmable, Invalid otherwise.
func composeGatewayStatus(g translate.GatewayResult, verdict metav1.Condition) gatewayv1.GatewayStatus {
	st := *g.Status.DeepCopy()
	programmed := verdict
	if len(g.ProgrammableListeners) == 0 {
		programmed = metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonInvalid), Message: "Gateway has no listener to serve",
		}
	}
	programmed.ObservedGeneration = g.Generation
	st.Conditions = withCondition(st.Conditions, programmed)

	listenerReason, listenerMessage := string(gatewayv1.ListenerReasonProgrammed), "listener is programmed"
	switch {
	case programmed.Status == metav1.ConditionTrue:
	case programmed.Reason == string(gatewayv1.GatewayReasonInvalid):
		listenerReason, listenerMessage = string(gatewayv1.ListenerReasonInvalid), programmed.Message
	default:
		listenerReason, listenerMessage = string(gatewayv1.ListenerReasonPending), programmed.Message
	}
	for i := range st.Listeners {
		l := &st.Listeners[i]
		c := notServed(g.Generation)
		if slices.Contains(g.ProgrammableListeners, string(l.Name)) {
			c.Status, c.Reason, c.Message = programmed.Status, listenerReason, listenerMessage
		}
		l.Conditions = withCondition(l.Conditions, c)
	}
	return st
}

// notServed is the Programmed condition of a listener the translation
// found not programmable.
func notServed(generation int64) metav1.Condition {
	return metav1.Condition{
		Type: string(gatewayv1.ListenerConditionProgrammed), Status: metav1.ConditionFalse,
		Reason: string(gatewayv1.ListenerReasonInvalid), Message: "listener is not served: see the other conditions",
		ObservedGeneration: generation,
	}
}

// withCondition puts c into conditions in place of one of its type, keeping
// them ordered by type.
func withCondition(conditions []metav1.Condition, c metav1.Condition) []metav1.Condition {
	out := slices.DeleteFunc(slices.Clone(conditions), func(x metav1.Condition) bool { return x.Type == c.Type })
	out = append(out, c)
	slices.SortStableFunc(out, func(a, b metav1.Condition) int { return strings.Compare(a.Type, b.Type) })
	return out
}

// A refusal is a condition saying the operator refused (part of) an object:
// Accepted, ResolvedRefs or SupportedVersion False, Conflicted True, and
// Programmed False/AddressNotUsable (an address of spec.addresses that
// cannot be had). Each reaches the object as a Warning Event when it newly
// holds (newRefusals), so `kubectl describe` and `kubectl get events` tell
// it as the status does. Other Programmed False are the data plane's, with
// Events of their own (ConfigRejected, RenderFailed, ApplyFailed) or
// passing (Pending, AddressNotAssigned).
func isRefusal(c metav1.Condition) bool {
	switch c.Type {
	case string(gatewayv1.RouteConditionAccepted), string(gatewayv1.RouteConditionResolvedRefs),
		string(gatewayv1.GatewayClassConditionStatusSupportedVersion):
		return c.Status == metav1.ConditionFalse
	case string(gatewayv1.ListenerConditionConflicted):
		return c.Status == metav1.ConditionTrue
	case string(gatewayv1.GatewayConditionProgrammed):
		return c.Status == metav1.ConditionFalse && c.Reason == string(gatewayv1.GatewayReasonAddressNotUsable)
	}
	return false
}

// newRefusals returns the refusals among next that previous did not hold
// with the same reason and message: what changed into a refusal since the
// status was last written. The same refusal on every reconcile, or after
// an operator restart, is not new; the same condition with another reason
// or message (another field refused) is.
func newRefusals(previous, next []metav1.Condition) []metav1.Condition {
	var out []metav1.Condition
	for _, c := range next {
		if !isRefusal(c) {
			continue
		}
		if old := meta.FindStatusCondition(previous, c.Type); old != nil && isRefusal(*old) && old.Reason == c.Reason && old.Message == c.Message {
			continue
		}
		out = append(out, c)
	}
	return out
}

// refusalEvent is the Event of a refusal on the object that caused it: its
// reason is the condition's, its note says where (a listener, a parentRef,
// a policy's ancestor; empty for the object itself) and the condition's
// message, which names the field.
type refusalEvent struct {
	Reason, Note string
}

// refusalEvents are the Events of the refusals of next that previous did
// not hold, each noted as found at where.
func refusalEvents(where string, previous, next []metav1.Condition) []refusalEvent {
	var out []refusalEvent
	for _, c := range newRefusals(previous, next) {
		note := fmt.Sprintf("%s %s: %s", c.Type, c.Status, c.Message)
		if where != "" {
			note = where + ": " + note
		}
		out = append(out, refusalEvent{Reason: c.Reason, Note: note})
	}
	return out
}

// gatewayRefusalEvents are the Events of a Gateway's new refusals: its own
// conditions and its listeners'.
func gatewayRefusalEvents(previous, next gatewayv1.GatewayStatus) []refusalEvent {
	out := refusalEvents("", previous.Conditions, next.Conditions)
	for _, l := range next.Listeners {
		var before []metav1.Condition
		for _, old := range previous.Listeners {
			if old.Name == l.Name {
				before = old.Conditions
			}
		}
		out = append(out, refusalEvents(fmt.Sprintf("spec.listeners (%s)", l.Name), before, l.Conditions)...)
	}
	return out
}

// parentRefusalEvents are the Events of new refusals in our status entries
// of a route's parents (or a policy's ancestors): entry gives an entry's
// controller, parent and conditions.
// field is where the entries' parents are named: "spec.parentRefs" for a
// route, "ancestor" for a policy.
func parentRefusalEvents[T any](field string, previous, next []T, entry func(*T) parentEntry) []refusalEvent {
	var out []refusalEvent
	for i := range next {
		mine := entry(&next[i])
		if mine.controller != translate.ControllerName {
			continue
		}
		var before []metav1.Condition
		for j := range previous {
			if old := entry(&previous[j]); old.controller == mine.controller && sameParentRef(old.ref, mine.ref) {
				before = *old.conditions
			}
		}
		out = append(out, refusalEvents(fmt.Sprintf("%s (%s)", field, describeParentRef(mine.ref)), before, *mine.conditions)...)
	}
	return out
}

// describeParentRef names a route's parentRef (spec.parentRefs) or a
// policy's ancestor as a user wrote it: kind, namespace when given, name,
// and sectionName and port when given.
func describeParentRef(ref gatewayv1.ParentReference) string {
	ref = normalizeParentRef(ref)
	s := string(*ref.Kind) + " "
	if ref.Namespace != nil {
		s += string(*ref.Namespace) + "/"
	}
	s += string(ref.Name)
	if ref.SectionName != nil {
		s += " sectionName " + string(*ref.SectionName)
	}
	if ref.Port != nil {
		s += fmt.Sprintf(" port %d", *ref.Port)
	}
	return s
}
