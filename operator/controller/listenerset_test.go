package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

func newListenerSet(t *testing.T, ns, name, gwNS, gw string, listeners ...gatewayv1.Listener) *gatewayv1.ListenerSet {
	t.Helper()
	ls := &gatewayv1.ListenerSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.ListenerSetSpec{ParentRef: gatewayv1.ParentGatewayReference{
			Name: gatewayv1.ObjectName(gw), Namespace: ptr.To(gatewayv1.Namespace(gwNS)),
		}},
	}
	for _, l := range listeners {
		ls.Spec.Listeners = append(ls.Spec.Listeners, gatewayv1.ListenerEntry(l))
	}
	if err := k8s.Create(ctxFor(t), ls); err != nil {
		t.Fatal(err)
	}
	return ls
}

// waitListenerSet waits until the ListenerSet has the condition, and
// returns it.
func waitListenerSet(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *gatewayv1.ListenerSet {
	t.Helper()
	ls := &gatewayv1.ListenerSet{}
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("ListenerSet %s %s=%s/%s", name, typ, status, reason), func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, ls); err != nil {
			return err
		}
		return hasCondition(ls.Status.Conditions, typ, status, reason)
	})
	return ls
}

func TestListenerSets(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	other := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, "gw.example.com"))
	update(t, gw, func() {
		gw.Spec.AllowedListeners = &gatewayv1.AllowedListeners{Namespaces: &gatewayv1.ListenerNamespaces{From: ptr.To(gatewayv1.NamespacesFromSame)}}
	})
	pod := newGatewayPod(t, ns, "gw", "gw-pod-1")
	hash := configHash(t, pod, "")
	playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: hash})
	waitGateway(t, ns, "gw", "Programmed", metav1.ConditionTrue, string(gatewayv1.GatewayReasonProgrammed))

	key := client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}
	dep := &appsv1.Deployment{}
	if err := k8s.Get(ctx, key, dep); err != nil {
		t.Fatal(err)
	}
	template := dep.Spec.Template.DeepCopy()

	newListenerSet(t, ns, "extra", ns, "gw", httpListener("http", 8080, "set.example.com"))
	newListenerSet(t, other, "foreign", ns, "gw", httpListener("http", 9090, ""))
	newService(t, ns, "backend", 8080)
	route := newRoute(t, ns, "on-set", ns, "extra", "", nil, ns, "backend")
	update(t, route, func() { route.Spec.ParentRefs[0].Kind = ptr.To(gatewayv1.Kind("ListenerSet")) })

	t.Run("a set of the Gateway's namespace is accepted and its port served", func(t *testing.T) {
		waitListenerSet(t, ns, "extra", "Accepted", metav1.ConditionTrue, string(gatewayv1.ListenerSetReasonAccepted))
		testenv.Eventually(t, waitTimeout, "Service port 8080", func() error {
			svc := &corev1.Service{}
			if err := k8s.Get(ctx, key, svc); err != nil {
				return err
			}
			if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Port == 8080 }) {
				return fmt.Errorf("Service ports %+v", svc.Spec.Ports)
			}
			return nil
		})
		testenv.Eventually(t, waitTimeout, "attachedListenerSets 1", func() error {
			got, err := getGateway(t, ns, "gw")
			if err != nil {
				return err
			}
			if n := ptr.Deref(got.Status.AttachedListenerSets, -1); n != 1 {
				return fmt.Errorf("attachedListenerSets = %d", n)
			}
			return nil
		})
	})

	t.Run("programmed once the pods serve the new config", func(t *testing.T) {
		waitListenerSet(t, ns, "extra", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
		// The set and the route each change the config: report whichever
		// hash the pod is asked to serve until the set is programmed.
		testenv.Eventually(t, waitTimeout, "ListenerSet extra Programmed", func() error {
			current := &corev1.Pod{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(pod), current); err != nil {
				return err
			}
			playSidecar(t, pod, true, dataplane.PodReport{AppliedHash: current.Annotations[dataplane.AnnotationConfigHash]})
			ls := &gatewayv1.ListenerSet{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "extra"}, ls); err != nil {
				return err
			}
			return hasCondition(ls.Status.Conditions, "Programmed", metav1.ConditionTrue, string(gatewayv1.ListenerSetReasonProgrammed))
		})
		ls := waitListenerSet(t, ns, "extra", "Programmed", metav1.ConditionTrue, string(gatewayv1.ListenerSetReasonProgrammed))
		if len(ls.Status.Listeners) != 1 {
			t.Fatalf("listeners %+v", ls.Status.Listeners)
		}
		for _, typ := range []string{"Accepted", "ResolvedRefs", "Programmed"} {
			if err := hasCondition(ls.Status.Listeners[0].Conditions, typ, metav1.ConditionTrue, ""); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("the gateway pods are not restarted: the pod template is the same", func(t *testing.T) {
		if err := k8s.Get(ctx, key, dep); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(template, &dep.Spec.Template) {
			var before, after [][]corev1.ContainerPort
			for i := range template.Spec.Containers {
				before = append(before, template.Spec.Containers[i].Ports)
			}
			for i := range dep.Spec.Template.Spec.Containers {
				after = append(after, dep.Spec.Template.Spec.Containers[i].Ports)
			}
			t.Errorf("the pod template changed with the ListenerSet's listener, which rolls every gateway pod (container ports before %v, after %v)", before, after)
		}
	})

	t.Run("a route attaches to the set's listener", func(t *testing.T) {
		waitRouteParent(t, ns, "on-set", "extra", "Accepted", metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
		testenv.Eventually(t, waitTimeout, "attachedRoutes 1", func() error {
			ls := &gatewayv1.ListenerSet{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "extra"}, ls); err != nil {
				return err
			}
			if len(ls.Status.Listeners) != 1 || ls.Status.Listeners[0].AttachedRoutes != 1 {
				return fmt.Errorf("listeners %+v", ls.Status.Listeners)
			}
			return nil
		})
	})

	t.Run("a set of another namespace is not allowed", func(t *testing.T) {
		waitListenerSet(t, other, "foreign", "Accepted", metav1.ConditionFalse, string(gatewayv1.ListenerSetReasonNotAllowed))
		waitListenerSet(t, other, "foreign", "Programmed", metav1.ConditionFalse, string(gatewayv1.ListenerSetReasonNotAllowed))
	})
}
