package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// maxRejectedMessage bounds how much of nginx's error text lands in a
// condition message.
const maxRejectedMessage = 1024

// ProgrammedFromDataPlane decides the Gateway's Programmed condition from
// what its pods report. built is the translation step's Programmed condition
// (computed as if the data plane served the config); it is returned as is
// unless True. Then:
//   - False/Invalid with nginx's message when any pod rejected wantedHash;
//   - False/Pending when no replica is ready, or a ready one serves
//     another hash (the kubelet has not synced its volumes yet, or nginx is
//     still reloading);
//   - True/Programmed when every ready replica serves wantedHash.
func ProgrammedFromDataPlane(built metav1.Condition, wantedHash string, pods []corev1.Pod) metav1.Condition {
	if built.Status != metav1.ConditionTrue {
		return built
	}
	out := built
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

// programmedCondition is the translation step's Programmed condition, or a True
// one when the translation set none.
func programmedCondition(conditions []metav1.Condition, generation int64) metav1.Condition {
	if c := meta.FindStatusCondition(conditions, string(gatewayv1.GatewayConditionProgrammed)); c != nil {
		return *c
	}
	return metav1.Condition{
		Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionTrue,
		Reason: string(gatewayv1.GatewayReasonProgrammed), ObservedGeneration: generation,
	}
}

// lowerProgrammed puts the data plane's verdict into a Gateway status: the
// Gateway's Programmed condition, and each listener that the translation found
// programmable follows it.
func lowerProgrammed(status *gatewayv1.GatewayStatus, programmed metav1.Condition) {
	meta.SetStatusCondition(&status.Conditions, programmed)
	if programmed.Status == metav1.ConditionTrue {
		return
	}
	reason := string(gatewayv1.ListenerReasonPending)
	if programmed.Reason == string(gatewayv1.GatewayReasonInvalid) {
		reason = string(gatewayv1.ListenerReasonInvalid)
	}
	for i := range status.Listeners {
		l := &status.Listeners[i]
		c := meta.FindStatusCondition(l.Conditions, string(gatewayv1.ListenerConditionProgrammed))
		if c == nil || c.Status != metav1.ConditionTrue {
			continue
		}
		c.Status = metav1.ConditionFalse
		c.Reason = reason
		c.Message = programmed.Message
	}
}
