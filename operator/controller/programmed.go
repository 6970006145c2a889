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
// wantedHash, from what the Gateway's pods report:
//   - False/Invalid with nginx's message when any pod rejected wantedHash;
//   - False/Pending when no replica is ready, or a ready one serves
//     another hash (the kubelet has not synced its volumes yet, or nginx is
//     still reloading);
//   - True/Programmed when every ready replica serves wantedHash.
//
// ComposeStatuses turns it into the Gateway's and listeners' Programmed.
func DataPlaneProgrammed(wantedHash string, pods []corev1.Pod) metav1.Condition {
	out := metav1.Condition{Type: string(gatewayv1.GatewayConditionProgrammed)}
	var ready, serving int
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		// A pod whose first config was rejected never becomes ready, so
		// rejections count whether or not the pod is ready.
		if pod.Annotations[dataplane.AnnotationRejectedHash] == wantedHash {
			msg := pod.Annotations[dataplane.AnnotationRejectedMessage]
			if len(msg) > maxRejectedMessage {
				msg = msg[:maxRejectedMessage] + "…"
			}
			out.Status = metav1.ConditionFalse
			out.Reason = string(gatewayv1.GatewayReasonInvalid)
			out.Message = fmt.Sprintf("nginx rejected the configuration (pod %s): %s", pod.Name, msg)
			return out
		}
		if !podReady(pod) {
			continue
		}
		ready++
		if pod.Annotations[dataplane.AnnotationAppliedHash] == wantedHash {
			serving++
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

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
