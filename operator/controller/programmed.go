package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// maxRejectedMessage bounds how much of nginx's error text lands in a
// condition message.
const maxRejectedMessage = 1024

// DataPlaneProgrammed is the data plane's verdict on the config of hash
// wantedHash, from the Gateway's pods (their readiness, read by the operator
// from the Pod objects) and their sidecars' reports (the report ConfigMap,
// see PodReports), by pod name:
//   - False/Invalid with nginx's message when any pod rejected wantedHash;
//   - False/Pending when no replica is ready, or a ready one serves
//     another hash (the kubelet has not synced its volumes yet, or nginx is
//     still reloading);
//   - True/Programmed when every ready replica serves wantedHash.
//
// ComposeStatuses turns it into the Gateway's and listeners' Programmed.
func DataPlaneProgrammed(wantedHash string, pods []corev1.Pod, reports map[string]dataplane.PodReport) metav1.Condition {
	out := metav1.Condition{Type: string(gatewayv1.GatewayConditionProgrammed)}
	var ready, serving int
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		report := reports[pod.Name]
		switch dataplane.PodStateOf(pod, report, wantedHash) {
		case dataplane.PodRejected:
			msg := report.RejectedMessage
			if len(msg) > maxRejectedMessage {
				msg = msg[:maxRejectedMessage] + "…"
			}
			out.Status = metav1.ConditionFalse
			out.Reason = string(gatewayv1.GatewayReasonInvalid)
			out.Message = fmt.Sprintf("nginx rejected the configuration (pod %s): %s", pod.Name, msg)
			return out
		case dataplane.PodSynced:
			ready++
			serving++
		case dataplane.PodStale:
			ready++
		}
	}
	switch {
	case ready == 0:
		out.Status = metav1.ConditionFalse
		out.Reason = string(gatewayv1.GatewayReasonPending)
		out.Message = "no gateway replica is ready yet"
	case serving < ready:
		out.Status = metav1.ConditionFalse
		out.Reason = string(gatewayv1.GatewayReasonPending)
		out.Message = fmt.Sprintf("%d of %d ready replicas serve the current configuration", serving, ready)
	default:
		out.Status = metav1.ConditionTrue
		out.Reason = string(gatewayv1.GatewayReasonProgrammed)
		out.Message = fmt.Sprintf("%d ready replicas serve the current configuration", ready)
	}
	return out
}

// PodReports is, per pod name, what its sidecar reported in the Gateway's
// report ConfigMap: the applied hash, or the rejected hash and nginx's
// message. A missing ConfigMap (nil) reports nothing.
func PodReports(report *corev1.ConfigMap) map[string]dataplane.PodReport {
	if report == nil {
		return map[string]dataplane.PodReport{}
	}
	return dataplane.ParseReports(report.Data)
}
