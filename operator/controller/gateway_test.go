package controller

import (
	"context"
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

func TestGatewayClassStatus(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	params := &v1alpha1.GatewayParameters{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "params"},
		Spec:       v1alpha1.GatewayParametersSpec{Replicas: ptr.To[int32](2)},
	}
	if err := k8s.Create(ctx, params); err != nil {
		t.Fatal(err)
	}
	ref := func(name string) *gatewayv1.ParametersReference {
		return &gatewayv1.ParametersReference{
			Group: gatewayv1.Group(v1alpha1.GroupVersion.Group), Kind: v1alpha1.Kind,
			Name: name, Namespace: ptr.To(gatewayv1.Namespace(ns)),
		}
	}
	tests := []struct {
		name       string
		params     *gatewayv1.ParametersReference
		wantStatus metav1.ConditionStatus
		wantReason gatewayv1.GatewayClassConditionReason
	}{
		{name: "no parameters", wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayClassReasonAccepted},
		{name: "existing parameters", params: ref("params"), wantStatus: metav1.ConditionTrue, wantReason: gatewayv1.GatewayClassReasonAccepted},
		{name: "missing parameters", params: ref("missing"), wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayClassReasonInvalidParameters},
		{name: "parameters of an unknown kind", params: &gatewayv1.ParametersReference{Group: "example.com", Kind: "Other", Name: "x"},
			wantStatus: metav1.ConditionFalse, wantReason: gatewayv1.GatewayClassReasonInvalidParameters},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gc := newClass(t, tt.params)
			testenv.Eventually(t, waitTimeout, "GatewayClass status", func() error {
				got := &gatewayv1.GatewayClass{}
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(gc), got); err != nil {
					return err
				}
				if err := hasCondition(got.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted), tt.wantStatus, string(tt.wantReason)); err != nil {
					return err
				}
				c := got.Status.Conditions[0]
				if c.ObservedGeneration != got.Generation {
					return fmt.Errorf("observedGeneration %d, generation %d", c.ObservedGeneration, got.Generation)
				}
				if tt.wantStatus == metav1.ConditionTrue && !hasFeature(got.Status.SupportedFeatures, "Gateway", "HTTPRoute") {
					return fmt.Errorf("supportedFeatures = %v", got.Status.SupportedFeatures)
				}
				return nil
			})
		})
	}

	t.Run("features of the experimental HTTPRoute CRD, installed here", func(t *testing.T) {
		gc := newClass(t, nil)
		want := []gatewayv1.FeatureName{"HTTPRouteRetry", "HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError",
			"GatewayHTTPSListenerDetectMisdirectedRequests", "GatewayHTTPListenerIsolation", "HTTPRouteDestinationPortMatching"}
		testenv.Eventually(t, waitTimeout, "GatewayClass supportedFeatures", func() error {
			got := &gatewayv1.GatewayClass{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(gc), got); err != nil {
				return err
			}
			if !hasFeature(got.Status.SupportedFeatures, want...) {
				return fmt.Errorf("supportedFeatures = %v, want %v among them", got.Status.SupportedFeatures, want)
			}
			return nil
		})
	})

	t.Run("other controllers' classes are left alone", func(t *testing.T) {
		gc := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: "example.com/other"},
		}
		if err := k8s.Create(ctx, gc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), gc) })
		// A class of ours created afterwards proves a reconcile ran since.
		mine := newClass(t, nil)
		testenv.Eventually(t, waitTimeout, "our class accepted", func() error {
			got := &gatewayv1.GatewayClass{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(mine), got); err != nil {
				return err
			}
			return hasCondition(got.Status.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
		})
		got := &gatewayv1.GatewayClass{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gc), got); err != nil {
			t.Fatal(err)
		}
		if err := hasCondition(got.Status.Conditions, "Accepted", metav1.ConditionUnknown, ""); err != nil {
			t.Errorf("other controller's class: %v", err)
		}
	})
}

func hasFeature(features []gatewayv1.SupportedFeature, names ...gatewayv1.FeatureName) bool {
	for _, name := range names {
		if !slices.ContainsFunc(features, func(f gatewayv1.SupportedFeature) bool { return f.Name == name }) {
			return false
		}
	}
	return true
}

// ownedObjects are empty objects of each owned kind, named for gateway gw.
func ownedObjects(ns, gw string) []client.Object {
	meta := metav1.ObjectMeta{Namespace: ns, Name: resources.Name(gw)}
	return []client.Object{
		&corev1.ConfigMap{ObjectMeta: meta}, &corev1.Secret{ObjectMeta: meta}, &corev1.ServiceAccount{ObjectMeta: meta},
		&rbacv1.Role{ObjectMeta: meta}, &rbacv1.RoleBinding{ObjectMeta: meta}, &appsv1.Deployment{ObjectMeta: meta},
		&corev1.Service{ObjectMeta: meta},
	}
}

func TestGatewayOwnedObjects(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(gc.Name),
			Listeners:        []gatewayv1.Listener{httpListener("http", 80, "")},
			Infrastructure: &gatewayv1.GatewayInfrastructure{
				Labels:      map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "blue", "tier": "edge"},
				Annotations: map[gatewayv1.AnnotationKey]gatewayv1.AnnotationValue{"example.com/owner": "blue"},
			},
		},
	}
	if err := k8s.Create(ctx, gw); err != nil {
		t.Fatal(err)
	}

	t.Run("created with owner, labels and annotations", func(t *testing.T) {
		for _, obj := range ownedObjects(ns, "gw") {
			testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T", obj), func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					return err
				}
				ref := metav1.GetControllerOf(obj)
				if ref == nil || ref.UID != gw.UID || ref.Kind != "Gateway" {
					return fmt.Errorf("controller reference %+v", ref)
				}
				for k, v := range map[string]string{
					"team": "blue", "tier": "edge",
					dataplane.LabelGatewayName: "gw", dataplane.LabelGatewayNamespace: ns,
					dataplane.LabelManagedBy: dataplane.ManagedByValue,
				} {
					if obj.GetLabels()[k] != v {
						return fmt.Errorf("label %s = %q, want %q", k, obj.GetLabels()[k], v)
					}
				}
				if obj.GetAnnotations()["example.com/owner"] != "blue" {
					return fmt.Errorf("annotations %v", obj.GetAnnotations())
				}
				return nil
			})
		}
		dep := &appsv1.Deployment{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, dep); err != nil {
			t.Fatal(err)
		}
		if c := dep.Spec.Template.Spec.Containers; len(c) != 2 || c[0].Image != testImage {
			t.Errorf("containers = %+v", c)
		}
		if dep.Spec.Template.Labels["team"] != "blue" {
			t.Errorf("pod labels = %v", dep.Spec.Template.Labels)
		}
		if dep.Spec.Template.Annotations["example.com/owner"] != "blue" {
			t.Errorf("pod annotations = %v", dep.Spec.Template.Annotations)
		}
		svc := &corev1.Service{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, svc); err != nil {
			t.Fatal(err)
		}
		if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 80 {
			t.Errorf("service ports = %+v", svc.Spec.Ports)
		}
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, cm); err != nil {
			t.Fatal(err)
		}
		if cm.Data["nginx.conf"] == "" {
			t.Errorf("ConfigMap has no nginx.conf: %v", cm.Data)
		}
	})

	t.Run("hand edits are reverted", func(t *testing.T) {
		key := client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}}
		var want string
		update(t, cm, func() {
			want = cm.Data["nginx.conf"]
			cm.Data["nginx.conf"] = "# edited by hand\n"
		})
		dep := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}}
		update(t, dep, func() { dep.Spec.Replicas = ptr.To[int32](7) })
		if err := k8s.Delete(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: key.Name}}); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, waitTimeout, "ConfigMap restored", func() error {
			if err := k8s.Get(ctx, key, cm); err != nil {
				return err
			}
			if cm.Data["nginx.conf"] != want {
				return fmt.Errorf("nginx.conf = %q", cm.Data["nginx.conf"])
			}
			return nil
		})
		testenv.Eventually(t, waitTimeout, "Deployment replicas restored", func() error {
			if err := k8s.Get(ctx, key, dep); err != nil {
				return err
			}
			if *dep.Spec.Replicas == 7 {
				return fmt.Errorf("replicas still 7")
			}
			return nil
		})
		testenv.Eventually(t, waitTimeout, "Service recreated", func() error { return k8s.Get(ctx, key, &corev1.Service{}) })
	})

	t.Run("infrastructure changes propagate, removed labels go away", func(t *testing.T) {
		update(t, gw, func() {
			gw.Spec.Infrastructure.Labels = map[gatewayv1.LabelKey]gatewayv1.LabelValue{"team": "green"}
		})
		for _, obj := range ownedObjects(ns, "gw") {
			testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T labels", obj), func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
					return err
				}
				if l := obj.GetLabels(); l["team"] != "green" || l["tier"] != "" {
					return fmt.Errorf("labels %v", l)
				}
				return nil
			})
		}
	})

	t.Run("a Gateway no longer ours loses its objects", func(t *testing.T) {
		other := &gatewayv1.GatewayClass{
			ObjectMeta: metav1.ObjectMeta{GenerateName: "other-"},
			Spec:       gatewayv1.GatewayClassSpec{ControllerName: "example.com/other"},
		}
		if err := k8s.Create(ctx, other); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), other) })
		update(t, gw, func() { gw.Spec.GatewayClassName = gatewayv1.ObjectName(other.Name) })
		waitOwned(t, ns, "gw", false)
	})
}

// waitOwned waits until every owned object of Gateway gw exists (present)
// or is gone (!present).
func waitOwned(t *testing.T, ns, gw string, present bool) {
	t.Helper()
	for _, obj := range ownedObjects(ns, gw) {
		testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T present=%v", obj, present), func() error {
			err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
			switch {
			case present:
				return err
			case apierrors.IsNotFound(err):
				return nil
			case err != nil:
				return err
			default:
				return fmt.Errorf("%s still exists", obj.GetName())
			}
		})
	}
}

func TestGatewayNotAcceptedLosesObjects(t *testing.T) {
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	waitOwned(t, ns, "gw", true)

	update(t, gw, func() {
		gw.Spec.Infrastructure = &gatewayv1.GatewayInfrastructure{ParametersRef: &gatewayv1.LocalParametersReference{
			Group: gatewayv1.Group(v1alpha1.GroupVersion.Group), Kind: v1alpha1.Kind, Name: "missing",
		}}
	})
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionFalse, string(gatewayv1.GatewayReasonInvalidParameters))
	waitOwned(t, ns, "gw", false)

	update(t, gw, func() { gw.Spec.Infrastructure = nil })
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionTrue, string(gatewayv1.GatewayReasonAccepted))
	waitOwned(t, ns, "gw", true)
}
