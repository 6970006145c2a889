package nodeagent

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// computeStatus is the pod's status from its runners, the way the kubelet
// reports it: phase, the five pod conditions, addresses, container states.
func (w *podWorker) computeStatus() corev1.PodStatus {
	w.mu.Lock()
	pod := w.pod
	inits, containers := w.inits, w.containers
	netReady, initDone, started, setupErr := w.net != nil, w.initDone, w.started, w.setupErr
	startAt := w.startAt
	w.mu.Unlock()

	st := corev1.PodStatus{
		HostIP:    w.a.hostIP().String(),
		HostIPs:   []corev1.HostIP{{IP: w.a.hostIP().String()}},
		StartTime: &startAt,
		QOSClass:  pod.Status.QOSClass,
	}
	if ip := w.podIP(); ip != "" {
		st.PodIP = ip
		st.PodIPs = []corev1.PodIP{{IP: ip}}
	}
	waiting := func(c corev1.Container, reason, msg string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: c.Name, Image: c.Image, ImageID: "localcluster://" + c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}
	}
	reason := "PodInitializing"
	if setupErr != "" {
		reason = "ContainerCreating"
	}
	for i, c := range pod.Spec.InitContainers {
		if i < len(inits) {
			st.InitContainerStatuses = append(st.InitContainerStatuses, inits[i].containerStatus())
		} else {
			st.InitContainerStatuses = append(st.InitContainerStatuses, waiting(c, reason, setupErr))
		}
	}
	allReady := started
	anyRunning, allDone, allSucceeded := false, started, true
	for i, c := range pod.Spec.Containers {
		var cs corev1.ContainerStatus
		if started && i < len(containers) {
			cs = containers[i].containerStatus()
			containers[i].mu.Lock()
			done, exit := containers[i].done, containers[i].lastExit
			containers[i].mu.Unlock()
			allDone = allDone && done
			allSucceeded = allSucceeded && done && exit == 0
		} else {
			cs = waiting(c, reason, setupErr)
		}
		anyRunning = anyRunning || cs.State.Running != nil
		allReady = allReady && cs.Ready
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
	}
	initFailed := false
	for _, r := range inits {
		r.mu.Lock()
		if r.runToCompletion && r.done && r.lastExit != 0 {
			initFailed = true
		}
		r.mu.Unlock()
	}
	switch {
	case initFailed:
		st.Phase = corev1.PodFailed
	case started && allDone && len(containers) > 0:
		st.Phase = corev1.PodFailed
		if allSucceeded {
			st.Phase = corev1.PodSucceeded
		}
	case started && (anyRunning || len(containers) > 0):
		st.Phase = corev1.PodRunning
	default:
		st.Phase = corev1.PodPending
	}
	cond := func(t corev1.PodConditionType, ok bool, reason string) corev1.PodCondition {
		c := corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason}
		if ok {
			c.Status, c.Reason = corev1.ConditionTrue, ""
		}
		return c
	}
	st.Conditions = []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, netReady, ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized"),
		cond(corev1.ContainersReady, allReady, "ContainersNotReady"),
		cond(corev1.PodReady, allReady, "ContainersNotReady"),
		cond(corev1.PodScheduled, true, ""),
	}
	return st
}

// writeStatus patches the pod's status when it differs from the last one
// written, keeping each condition's transition time while its status holds.
func (w *podWorker) writeStatus(ctx context.Context) {
	st := w.computeStatus()
	w.mu.Lock()
	last := w.lastStatus
	pod := w.pod
	w.mu.Unlock()
	if last != nil && equality.Semantic.DeepEqual(withoutTimes(*last), withoutTimes(st)) {
		return
	}
	now := metav1.Now()
	for i := range st.Conditions {
		st.Conditions[i].LastTransitionTime = now
		if last == nil {
			continue
		}
		for _, old := range last.Conditions {
			if old.Type == st.Conditions[i].Type && old.Status == st.Conditions[i].Status {
				st.Conditions[i].LastTransitionTime = old.LastTransitionTime
			}
		}
	}
	patch, err := json.Marshal(map[string]any{"status": st})
	if err != nil {
		return
	}
	_, err = w.a.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.MergePatchType, patch, metav1.PatchOptions{}, "status")
	if err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			w.logf("writing status: %v", err)
		}
		return
	}
	w.mu.Lock()
	w.lastStatus = &st
	w.mu.Unlock()
}

// withoutTimes drops condition transition times for comparing statuses.
func withoutTimes(s corev1.PodStatus) corev1.PodStatus {
	c := *s.DeepCopy()
	for i := range c.Conditions {
		c.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return c
}
