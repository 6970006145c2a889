package controller

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// readListenerSets lists the ListenerSets into the input.
func readListenerSets(ctx context.Context, c client.Reader, in *translate.Input) error {
	var list gatewayv1.ListenerSetList
	if err := c.List(ctx, &list); err != nil {
		return fmt.Errorf("listing ListenerSets: %w", err)
	}
	in.ListenerSets = list.Items
	return nil
}

// composeListenerSetStatus adds Programmed to a ListenerSet's translated
// status, from its parent Gateway's data plane verdict: an accepted set is
// programmed when the Gateway's pods serve the config, its programmable
// listeners with it; a set that is not accepted is not programmed, for
// the reason it is not accepted (NotAllowed, ListenersNotValid, …). A
// listener that is not served says why: its conflict, else Invalid.
func composeListenerSetStatus(ls translate.ListenerSetResult, verdict metav1.Condition) gatewayv1.ListenerSetStatus {
	st := *ls.Status.DeepCopy()
	programmed := metav1.Condition{Type: string(gatewayv1.ListenerSetConditionProgrammed), ObservedGeneration: ls.Generation}
	if accepted := meta.FindStatusCondition(st.Conditions, string(gatewayv1.ListenerSetConditionAccepted)); !ls.Accepted && accepted != nil {
		programmed.Status, programmed.Reason, programmed.Message = metav1.ConditionFalse, accepted.Reason, accepted.Message
	} else {
		programmed.Status, programmed.Reason, programmed.Message = verdict.Status, verdict.Reason, verdict.Message
	}
	st.Conditions = withCondition(st.Conditions, programmed)
	for i := range st.Listeners {
		l := &st.Listeners[i]
		c := notServed(ls.Generation)
		if conflicted := meta.FindStatusCondition(l.Conditions, string(gatewayv1.ListenerEntryConditionConflicted)); conflicted != nil && conflicted.Status == metav1.ConditionTrue {
			c.Reason = conflicted.Reason
		}
		if slices.Contains(ls.ProgrammableListeners, string(l.Name)) {
			c.Status, c.Reason, c.Message = verdict.Status, verdict.Reason, verdict.Message
		}
		l.Conditions = withCondition(l.Conditions, c)
	}
	return st
}

// writeListenerSetStatuses writes the status of each ListenerSet whose
// parent is a Gateway of ours when it changed. The parent's controller is
// the only writer of a ListenerSet's status, so the whole status is ours.
func (r *Reconciler) writeListenerSetStatuses(ctx context.Context, sets []gatewayv1.ListenerSet, statuses map[types.NamespacedName]gatewayv1.ListenerSetStatus, now metav1.Time) error {
	var errs []error
	for i := range sets {
		ls := &sets[i]
		status, ok := statuses[client.ObjectKeyFromObject(ls)]
		if !ok {
			continue
		}
		status.Conditions = withTransitionTimes(status.Conditions, ls.Status.Conditions, now)
		for j := range status.Listeners {
			l := &status.Listeners[j]
			var previous []metav1.Condition
			for _, old := range ls.Status.Listeners {
				if old.Name == l.Name {
					previous = old.Conditions
				}
			}
			l.Conditions = withTransitionTimes(l.Conditions, previous, now)
		}
		if equality.Semantic.DeepEqual(normalizeListenerEntries(status), normalizeListenerEntries(ls.Status)) {
			continue
		}
		orig := ls.DeepCopy()
		ls.Status = status
		if err := r.client.Status().Patch(ctx, ls, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			errs = append(errs, fmt.Errorf("writing status of ListenerSet %s/%s: %w", ls.Namespace, ls.Name, err))
		}
	}
	return errors.Join(errs...)
}

// normalizeListenerEntries is normalizeListeners for a ListenerSet's
// status, an empty list and none being the same.
func normalizeListenerEntries(st gatewayv1.ListenerSetStatus) gatewayv1.ListenerSetStatus {
	st = *st.DeepCopy()
	listeners := make([]gatewayv1.ListenerStatus, len(st.Listeners))
	for i, l := range st.Listeners {
		listeners[i] = gatewayv1.ListenerStatus(l)
	}
	st.Listeners = nil
	for _, l := range normalizeListeners(listeners) {
		st.Listeners = append(st.Listeners, gatewayv1.ListenerEntryStatus(l))
	}
	return st
}
