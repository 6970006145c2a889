package dataplane

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestPodStateOf(t *testing.T) {
	pod := func(ready corev1.ConditionStatus) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
	}
	for _, tc := range []struct {
		name   string
		pod    *corev1.Pod
		report PodReport
		wanted string
		want   PodState
	}{
		{"ready, serves the wanted config", pod(corev1.ConditionTrue), PodReport{AppliedHash: "h1"}, "h1", PodSynced},
		{"ready, serves an older one", pod(corev1.ConditionTrue), PodReport{AppliedHash: "h0"}, "h1", PodStale},
		{"ready, nothing reported", pod(corev1.ConditionTrue), PodReport{}, "h1", PodStale},
		{"wanted config rejected, still ready", pod(corev1.ConditionTrue), PodReport{AppliedHash: "h0", RejectedHash: "h1"}, "h1", PodRejected},
		{"first config rejected, never ready", pod(corev1.ConditionFalse), PodReport{RejectedHash: "h1"}, "h1", PodRejected},
		{"an older rejection does not count", pod(corev1.ConditionTrue), PodReport{AppliedHash: "h1", RejectedHash: "h0"}, "h1", PodSynced},
		{"not ready", pod(corev1.ConditionFalse), PodReport{AppliedHash: "h1"}, "h1", PodNotReady},
		{"no Ready condition", &corev1.Pod{}, PodReport{AppliedHash: "h1"}, "h1", PodNotReady},
		{"no wanted hash known", pod(corev1.ConditionTrue), PodReport{}, "", PodStale},
	} {
		if got := PodStateOf(tc.pod, tc.report, tc.wanted); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
