package translate

import (
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// condition builds a status condition. LastTransitionTime stays zero: the
// translation step reads no clock. The reconciler merges these conditions into the
// object's status with meta.SetStatusCondition, which keeps the old
// transition time when the status did not change and stamps a new one when
// it did.
func condition(typ string, ok bool, reason, message string, generation int64) metav1.Condition {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	return metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	}
}

// sortConditions orders conditions by type so output never depends on the
// order checks ran in.
func sortConditions(c []metav1.Condition) {
	sort.SliceStable(c, func(i, j int) bool { return c[i].Type < c[j].Type })
}
