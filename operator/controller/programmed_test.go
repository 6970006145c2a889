package controller

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// replica is a gateway pod and its sidecar's report.
type replica struct {
	pod    corev1.Pod
	report dataplane.PodReport
}

func testPod(name string, ready bool, report dataplane.PodReport) replica {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return replica{
		pod: corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Status:     corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
		},
		report: report,
	}
}

func applied(hash string) dataplane.PodReport {
	return dataplane.PodReport{AppliedHash: hash}
}

func TestDataPlaneVerdict(t *testing.T) {
	terminating := testPod("old", true, applied("h0"))
	terminating.pod.DeletionTimestamp = &metav1.Time{}
	tests := []struct {
		name        string
		pods        []replica
		wantStatus  metav1.ConditionStatus
		wantReason  gatewayv1.GatewayConditionReason
		wantMessage string // substring
	}{
		{name: "no pods",
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "no gateway replica is ready"},
		{name: "pod not ready", pods: []replica{testPod("a", false, applied("h1"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending},
		{name: "ready pod serves an older hash", pods: []replica{testPod("a", true, applied("h0"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "0 of 1 ready replicas"},
		{name: "ready pod without annotations", pods: []replica{testPod("a", true, dataplane.PodReport{})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending},
		{name: "every ready pod serves the hash",
			pods:       []replica{testPod("a", true, applied("h1")), testPod("b", true, applied("h1")), testPod("c", false, dataplane.PodReport{})},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed, wantMessage: "2 ready replicas"},
		{name: "one of two ready pods lags",
			pods:       []replica{testPod("a", true, applied("h1")), testPod("b", true, applied("h0"))},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonPending, wantMessage: "1 of 2"},
		{name: "terminating pods do not count",
			pods:       []replica{testPod("a", true, applied("h1")), terminating},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed},
		{name: "wanted hash rejected",
			pods: []replica{testPod("a", true, dataplane.PodReport{
				AppliedHash:     "h0",
				RejectedHash:    "h1",
				RejectedMessage: `unknown directive "bogus"`,
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: `unknown directive "bogus"`},
		{name: "first config rejected on a pod that never got ready",
			pods: []replica{testPod("a", false, dataplane.PodReport{
				RejectedHash:    "h1",
				RejectedMessage: "bad",
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: "bad"},
		{name: "an older rejected hash does not matter",
			pods: []replica{testPod("a", true, dataplane.PodReport{
				AppliedHash:  "h1",
				RejectedHash: "h0",
			})},
			wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayReasonProgrammed},
		{name: "long messages are cut",
			pods: []replica{testPod("a", true, dataplane.PodReport{
				RejectedHash:    "h1",
				RejectedMessage: strings.Repeat("x", 5000),
			})},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayReasonInvalid, wantMessage: "xxx…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var pods []corev1.Pod
			reports := map[string]dataplane.PodReport{}
			for _, r := range tt.pods {
				pods = append(pods, r.pod)
				reports[r.pod.Name] = r.report
			}
			got := DataPlaneProgrammed("h1", pods, reports)
			if got.Status != tt.wantStatus || got.Reason != string(tt.wantReason) || !strings.Contains(got.Message, tt.wantMessage) {
				t.Errorf("got %s/%s %q, want %s/%s containing %q", got.Status, got.Reason, got.Message, tt.wantStatus, tt.wantReason, tt.wantMessage)
			}
			if got.Type != string(gatewayv1.GatewayConditionProgrammed) {
				t.Errorf("type %s", got.Type)
			}
			if len(got.Message) > maxRejectedMessage+200 {
				t.Errorf("message of %d bytes", len(got.Message))
			}
		})
	}
}

// TestComposeGatewayStatus: Programmed of the Gateway and of its listeners
// is composed from the data plane's verdict and the listeners the
// translation found programmable; the translated conditions stay as they are.
func TestComposeGatewayStatus(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: reason + " message"}
	}
	tests := []struct {
		name         string
		programmable []string
		verdict      metav1.Condition
		wantGateway  metav1.Condition
		wantListener []metav1.Condition // Programmed of listeners "ok" and "bad"
	}{
		{name: "served: programmable listeners are programmed", programmable: []string{"ok"},
			verdict:      cond("Programmed", metav1.ConditionTrue, "Programmed"),
			wantGateway:  cond("Programmed", metav1.ConditionTrue, "Programmed"),
			wantListener: []metav1.Condition{cond("Programmed", metav1.ConditionTrue, "Programmed"), cond("Programmed", metav1.ConditionFalse, "Invalid")}},
		{name: "pending lowers programmable listeners", programmable: []string{"ok"},
			verdict:      cond("Programmed", metav1.ConditionFalse, "Pending"),
			wantGateway:  cond("Programmed", metav1.ConditionFalse, "Pending"),
			wantListener: []metav1.Condition{cond("Programmed", metav1.ConditionFalse, "Pending"), cond("Programmed", metav1.ConditionFalse, "Invalid")}},
		{name: "rejected config makes programmable listeners invalid", programmable: []string{"ok"},
			verdict:      cond("Programmed", metav1.ConditionFalse, "Invalid"),
			wantGateway:  cond("Programmed", metav1.ConditionFalse, "Invalid"),
			wantListener: []metav1.Condition{cond("Programmed", metav1.ConditionFalse, "Invalid"), cond("Programmed", metav1.ConditionFalse, "Invalid")}},
		{name: "nothing programmable: invalid whatever the pods say",
			verdict:      cond("Programmed", metav1.ConditionTrue, "Programmed"),
			wantGateway:  cond("Programmed", metav1.ConditionFalse, "Invalid"),
			wantListener: []metav1.Condition{cond("Programmed", metav1.ConditionFalse, "Invalid"), cond("Programmed", metav1.ConditionFalse, "Invalid")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted := cond("Accepted", metav1.ConditionTrue, "Accepted")
			result := translate.GatewayResult{
				Generation: 7,
				Status: gatewayv1.GatewayStatus{
					Conditions: []metav1.Condition{accepted},
					Listeners: []gatewayv1.ListenerStatus{
						{Name: "ok", Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionTrue, "Accepted")}},
						{Name: "bad", Conditions: []metav1.Condition{cond("Accepted", metav1.ConditionFalse, "UnsupportedProtocol")}},
					},
				},
				ProgrammableListeners: tt.programmable,
			}
			status := composeGatewayStatus(result, tt.verdict)
			if len(status.Conditions) != 2 || status.Conditions[0] != accepted {
				t.Fatalf("gateway conditions = %+v, want Accepted kept and Programmed added", status.Conditions)
			}
			got := status.Conditions[1]
			if got.Type != "Programmed" || got.Status != tt.wantGateway.Status || got.Reason != tt.wantGateway.Reason || got.ObservedGeneration != 7 {
				t.Errorf("gateway Programmed = %+v, want %s/%s at generation 7", got, tt.wantGateway.Status, tt.wantGateway.Reason)
			}
			for i, l := range status.Listeners {
				if len(l.Conditions) != 2 || l.Conditions[0].Type != "Accepted" {
					t.Fatalf("listener %s conditions = %+v", l.Name, l.Conditions)
				}
				got := l.Conditions[1]
				if got.Type != "Programmed" || got.Status != tt.wantListener[i].Status || got.Reason != tt.wantListener[i].Reason || got.ObservedGeneration != 7 {
					t.Errorf("listener %s Programmed = %s/%s, want %s/%s", l.Name, got.Status, got.Reason, tt.wantListener[i].Status, tt.wantListener[i].Reason)
				}
			}
			if len(result.Status.Conditions) != 1 || len(result.Status.Listeners[0].Conditions) != 1 {
				t.Error("composing changed the translation result")
			}
		})
	}
}
