package controller

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// newGatewayPod creates a pod labelled like the gateway's Deployment
// labels its pods (no kubelet runs: the test plays the sidecar by writing
// the pod's status and annotations).
func newGatewayPod(t *testing.T, ns, gateway, name string) *corev1.Pod {
	t.Helper()
	labels := resources.SelectorLabels(ns, gateway)
	labels[dataplane.LabelManagedBy] = dataplane.ManagedByValue
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "nginx", Image: testImage}},
		},
	}
	if err := k8s.Create(ctxFor(t), pod); err != nil {
		t.Fatal(err)
	}
	return pod
}

// configHash waits until the operator annotated the pod with a config hash
// other than previous, and returns it.
func configHash(t *testing.T, pod *corev1.Pod, previous string) string {
	t.Helper()
	var hash string
	testenv.Eventually(t, waitTimeout, "config-hash annotation on "+pod.Name, func() error {
		got := &corev1.Pod{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(pod), got); err != nil {
			return err
		}
		hash = got.Annotations[dataplane.AnnotationConfigHash]
		if hash == "" || hash == previous {
			return fmt.Errorf("config-hash is %q", hash)
		}
		// Written with the hash: when the pod was pointed at it (status's STALE for how long).
		since, err := time.Parse(time.RFC3339, got.Annotations[dataplane.AnnotationConfigHashSince])
		if err != nil || since.Before(got.CreationTimestamp.Time) {
			t.Fatalf("config-hash-since %q is not a time at or after the pod's creation %s (%v)",
				got.Annotations[dataplane.AnnotationConfigHashSince], got.CreationTimestamp, err)
		}
		return nil
	})
	return hash
}

// mountedFiles is what the sidecar sees: every key of both volumes in one
// folder (small configs only: compressed keys are not expanded).
func mountedFiles(cm *corev1.ConfigMap, secret *corev1.Secret) map[string][]byte {
	files := map[string][]byte{}
	for k, v := range cm.Data {
		if strings.HasPrefix(k, ".") {
			continue // a hidden key (dataplane.SecretsHashKey) is no file
		}
		files[k] = []byte(v)
	}
	maps.Copy(files, cm.BinaryData)
	maps.Copy(files, secret.Data)
	return files
}

// waitEvent waits for an event with reason about the object named regarding
// whose note contains note.
func waitEvent(t *testing.T, ns, regarding, reason, note string) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, reason+" event", func() error {
		var events eventsv1.EventList
		if err := k8s.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.Reason == reason && e.Regarding.Name == regarding && strings.Contains(e.Note, note) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none %s", len(events.Items), reason)
	})
}

// playSidecar sets the pod's readiness and writes the report its sidecar
// would: its keys in the Gateway's report ConfigMap, server-side applied
// under the pod's own field manager (which drops the keys it no longer sets).
func playSidecar(t *testing.T, pod *corev1.Pod, ready bool, report dataplane.PodReport) {
	t.Helper()
	ctx := ctxFor(t)
	got := pod.DeepCopy()
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	updateStatus(t, got, func() {
		got.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: status, LastTransitionTime: metav1.Now()}}
	})
	gateway := pod.Labels[dataplane.LabelGatewayName]
	cm := corev1ac.ConfigMap(resources.ReportName(gateway), pod.Namespace).WithData(report.Data(pod.Name))
	testenv.Eventually(t, waitTimeout, "report of "+pod.Name, func() error {
		// The operator creates the ConfigMap: until then the apply fails.
		return k8s.Apply(ctx, cm, client.FieldOwner(dataplane.ReportFieldManager(pod.Name)))
	})
}

// reportData is the Gateway's report ConfigMap's data.
func reportData(t *testing.T, ns, gateway string) map[string]string {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(ctxFor(t), client.ObjectKey{Namespace: ns, Name: resources.ReportName(gateway)}, cm); err != nil {
		t.Fatal(err)
	}
	return cm.Data
}

func TestDataPlaneProgrammed(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))

	t.Run("no pod: Pending", func(t *testing.T) {
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
		waitListener(t, ns, "gw", "http", "Programmed", metav1.ConditionFalse, string(gatewayv1.ListenerReasonPending))
	})

	pod := newGatewayPod(t, ns, "gw", "gw-pod-1")
	hash := configHash(t, pod, "")

	t.Run("the hash is that of the ConfigMap and Secret files merged", func(t *testing.T) {
		key := client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}
		cm := &corev1.ConfigMap{}
		secret := &corev1.Secret{}
		if err := k8s.Get(ctx, key, cm); err != nil {
			t.Fatal(err)
		}
		if err := k8s.Get(ctx, key, secret); err != nil {
			t.Fatal(err)
		}
		if got := dataplane.Hash(mountedFiles(cm, secret)); got != hash {
			t.Errorf("pod annotation %s, hash of the mounted files %s", hash, got)
		}
	})

	t.Run("ready pod serving an older hash: Pending", func(t *testing.T) {
		playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: "0000000000000000"})
		testenv.Eventually(t, waitTimeout, "Pending with replica counts", func() error {
			got, err := getGateway(t, ns, "gw")
			if err != nil {
				return err
			}
			if err := hasCondition(got.Status.Conditions, "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending)); err != nil {
				return err
			}
			if c := got.Status.Conditions; !strings.Contains(fmt.Sprint(c), "0 of 1") {
				return fmt.Errorf("conditions %+v", c)
			}
			return nil
		})
	})

	t.Run("ready pod serving the hash: Programmed", func(t *testing.T) {
		playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: hash})
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed))
		waitListener(t, ns, "gw", "http", "Programmed", metav1.ConditionTrue, string(gatewayv1.ListenerReasonProgrammed))
	})

	var newHash string
	t.Run("a config change gives a new hash", func(t *testing.T) {
		update(t, gw, func() { gw.Spec.Listeners = append(gw.Spec.Listeners, httpListener("extra", 8080, "")) })
		newHash = configHash(t, pod, hash)
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
	})

	t.Run("rejected config: Invalid with nginx's message, and an event", func(t *testing.T) {
		const nginxSays = `nginx: [emerg] unknown directive "bogus" in nginx.conf:12`
		playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: hash, RejectedHash: newHash, RejectedMessage: nginxSays})
		gwNow := waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalid))
		if c := gwNow.Status.Conditions; !strings.Contains(fmt.Sprint(c), nginxSays) {
			t.Errorf("message lacks nginx's error: %+v", c)
		}
		waitListener(t, ns, "gw", "http", "Programmed", metav1.ConditionFalse, string(gatewayv1.ListenerReasonInvalid))
		waitEvent(t, ns, "gw", "ConfigRejected", "bogus")
	})

	t.Run("the fixed config applies: Programmed again", func(t *testing.T) {
		playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: newHash})
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed))
		if got := reportData(t, ns, "gw"); len(got) != 1 || got[pod.Name+dataplane.ReportAppliedSuffix] != newHash {
			t.Errorf("report %v, want only %s's applied hash (the apply dropped its rejected keys)", got, pod.Name)
		}
	})

	second := newGatewayPod(t, ns, "gw", "gw-pod-2")
	t.Run("a new replica gets the hash at once", func(t *testing.T) {
		if got := configHash(t, second, ""); got != newHash {
			t.Errorf("second pod got %s, want %s", got, newHash)
		}
	})

	t.Run("replicas report side by side; a ready one that lags holds Programmed back", func(t *testing.T) {
		playSidecar(t, second, true, dataplane.PodReport{AppliedHash: hash})
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
		got := reportData(t, ns, "gw")
		if got[pod.Name+dataplane.ReportAppliedSuffix] != newHash || got[second.Name+dataplane.ReportAppliedSuffix] != hash {
			t.Errorf("report %v: one replica's apply changed the other's keys", got)
		}
	})

	t.Run("the keys of a deleted pod are pruned", func(t *testing.T) {
		if err := k8s.Delete(ctx, second, client.GracePeriodSeconds(0)); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, waitTimeout, "report without "+second.Name, func() error {
			if got := reportData(t, ns, "gw"); len(got) != 1 || got[pod.Name+dataplane.ReportAppliedSuffix] != newHash {
				return fmt.Errorf("report %v", got)
			}
			return nil
		})
		waitGateway(t, ns, "gw", "Programmed", metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed))
	})
}

func TestApplyFailureEvent(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	// A ConfigMap of the same name made by someone else must not be taken over.
	foreign := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.Name("gw")},
		Data:       map[string]string{"mine": "yes"},
	}
	if err := k8s.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	waitEvent(t, ns, "gw", "ApplyFailed", "not owned")
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(foreign), foreign); err != nil {
		t.Fatal(err)
	}
	if foreign.Data["mine"] != "yes" || len(foreign.OwnerReferences) != 0 || len(foreign.Data) != 1 {
		t.Errorf("foreign ConfigMap was taken over: %+v", foreign)
	}
}
