package dataplane

import corev1 "k8s.io/api/core/v1"

// PodState is what a gateway pod serves compared with the config the
// operator wants. The operator's Programmed condition and the kubectl
// plugin's status both read a pod through PodStateOf.
type PodState string

const (
	// PodSynced: the pod is ready and nginx serves the wanted config.
	PodSynced PodState = "SYNCED"
	// PodStale: the pod is ready and nginx serves another config (older,
	// or none yet) without having rejected the wanted one.
	PodStale PodState = "STALE"
	// PodRejected: nginx refused the wanted config; the pod keeps serving
	// its previous one.
	PodRejected PodState = "REJECTED"
	// PodNotReady: the pod is not ready (starting, crashing, no valid
	// config).
	PodNotReady PodState = "NOT READY"
)

// PodStateOf classifies one gateway pod from its report and readiness. A
// pod whose first config was rejected never becomes ready, so a rejection
// of the wanted config counts whether or not the pod is ready. An empty
// wantedHash (none known) is never rejected nor synced.
func PodStateOf(pod *corev1.Pod, report PodReport, wantedHash string) PodState {
	switch {
	case wantedHash != "" && report.RejectedHash == wantedHash:
		return PodRejected
	case !PodReady(pod):
		return PodNotReady
	case wantedHash != "" && report.AppliedHash == wantedHash:
		return PodSynced
	}
	return PodStale
}

// PodReady reports whether the pod's Ready condition is True.
func PodReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
