package controller

import (
	"slices"
	"strings"

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
