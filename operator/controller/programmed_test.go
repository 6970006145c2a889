package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

func testPod(name string, ready bool, annotations map[string]string) corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
		Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func applied(hash string) map[string]string {
	return map[string]string{dataplane.AnnotationAppliedHash: hash}
}

func TestProgrammedFromDataPlane(t *testing.T) {
	programmed := metav1.Condition{
		Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue,
		Reason: string(gatewayv1.GatewayReasonProgrammed), ObservedGeneration: 3,
	}
	notProgrammed := metav1.Condition{
		Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
		Reason: string(gatewayv1.GatewayReasonInvalid), Message: "listener broken", ObservedGeneration: 3,
	}
	terminating := testPod("old", true, applied("h0"))
	terminating.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name        string
		built       metav1.Condition
		pods        []corev1.Pod
		wantStatus  metav1.ConditionStatus
		wantReason  gatewayv1.GatewayConditionReason
		wantMessage string // substring
	}{
		{name: "build says not programmed", built: notProgrammed, pods: []corev1.Pod{testPod("a", true, applied("h1"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: "listener broken"},
		{name: "no pods", built: programmed,
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "no gateway replica is ready"},
		{name: "pod not ready", built: programmed, pods: []corev1.Pod{testPod("a", false, applied("h1"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending},
		{name: "ready pod serves an older hash", built: programmed, pods: []corev1.Pod{testPod("a", true, applied("h0"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "0 of 1 ready replicas"},
		{name: "ready pod without annotations", built: programmed, pods: []corev1.Pod{testPod("a", true, nil)},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending},
		{name: "every ready pod serves the hash", built: programmed,
			pods:       []corev1.Pod{testPod("a", true, applied("h1")), testPod("b", true, applied("h1")), testPod("c", false, nil)},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed, wantMessage: "2 ready replicas"},
		{name: "one of two ready pods lags", built: programmed,
			pods:       []corev1.Pod{testPod("a", true, applied("h1")), testPod("b", true, applied("h0"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "1 of 2"},
		{name: "terminating pods do not count", built: programmed,
			pods:       []corev1.Pod{testPod("a", true, applied("h1")), terminating},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed},
		{name: "wanted hash rejected", built: programmed,
			pods: []corev1.Pod{testPod("a", true, map[string]string{
				dataplane.AnnotationAppliedHash:     "h0",
				dataplane.AnnotationRejectedHash:    "h1",
				dataplane.AnnotationRejectedMessage: `unknown directive "bogus"`,
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: `unknown directive "bogus"`},
		{name: "first config rejected on a pod that never got ready", built: programmed,
			pods: []corev1.Pod{testPod("a", false, map[string]string{
				dataplane.AnnotationRejectedHash:    "h1",
				dataplane.AnnotationRejectedMessage: "bad",
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: "bad"},
		{name: "an older rejected hash does not matter", built: programmed,
			pods: []corev1.Pod{testPod("a", true, map[string]string{
				dataplane.AnnotationAppliedHash:  "h1",
				dataplane.AnnotationRejectedHash: "h0",
			})},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed},
		{name: "long messages are cut", built: programmed,
			pods: []corev1.Pod{testPod("a", true, map[string]string{
				dataplane.AnnotationRejectedHash:    "h1",
				dataplane.AnnotationRejectedMessage: strings.Repeat("x", 5000),
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: "xxx…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProgrammedFromDataPlane(tt.built, "h1", tt.pods)
			if got.Status != tt.wantStatus || got.Reason != string(tt.wantReason) || !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("got %s/%s %q, want %s/%s containing %q", got.Status, got.Reason, got.Message, tt.wantStatus, tt.wantReason, tt.wantMessage)
			}
			if got.Type != string(gatewayv1.GatewayConditionProgrammed) || got.ObservedGeneration != 3 {
				t.Errorf("type %s observedGeneration %d", got.Type, got.ObservedGeneration)
			}
			if len(got.Message) > maxRejectedMessage+200 {
				t.Errorf("message of %d bytes", len(got.Message))
			}
		})
	}
}

func TestLowerProgrammed(t *testing.T) {
	cond := func(status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: "Programmed", Status: status, Reason: reason}
	}
	tests := []struct {
		name         string
		programmed   metav1.Condition
		wantListener []metav1.Condition // Programmed of listeners "ok" and "bad"
	}{
		{name: "programmed leaves listeners", programmed: cond(metav1.ConditionTrue, "Programmed"),
			wantListener: []metav1.Condition{cond(metav1.ConditionTrue, "Programmed"), cond(metav1.ConditionFalse, "Invalid")}},
		{name: "pending lowers valid listeners", programmed: cond(metav1.ConditionFalse, "Pending"),
			wantListener: []metav1.Condition{cond(metav1.ConditionFalse, "Pending"), cond(metav1.ConditionFalse, "Invalid")}},
		{name: "invalid lowers valid listeners", programmed: cond(metav1.ConditionFalse, "Invalid"),
			wantListener: []metav1.Condition{cond(metav1.ConditionFalse, "Invalid"), cond(metav1.ConditionFalse, "Invalid")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status := gatewayv1.GatewayStatus{
				Conditions: []metav1.Condition{cond(metav1.ConditionTrue, "Accepted"), cond(metav1.ConditionTrue, "Programmed")},
				Listeners: []gatewayv1.ListenerStatus{
					{Name: "ok", Conditions: []metav1.Condition{cond(metav1.ConditionTrue, "Programmed")}},
					{Name: "bad", Conditions: []metav1.Condition{cond(metav1.ConditionFalse, "Invalid")}},
				},
			}
			status.Conditions[0].Type = "Accepted"
			lowerProgrammed(&status, tt.programmed)
			if len(status.Conditions) != 2 || status.Conditions[1].Status != tt.programmed.Status || status.Conditions[1].Reason != tt.programmed.Reason {
				t.Errorf("gateway conditions = %+v", status.Conditions)
			}
			for i, l := range status.Listeners {
				got := l.Conditions[0]
				if got.Status != tt.wantListener[i].Status || got.Reason != tt.wantListener[i].Reason {
					t.Errorf("listener %s Programmed = %s/%s, want %s/%s", l.Name, got.Status, got.Reason, tt.wantListener[i].Status, tt.wantListener[i].Reason)
				}
			}
		})
	}
}
