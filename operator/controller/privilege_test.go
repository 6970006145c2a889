package controller

import (
	"context"
	"fmt"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// TestSidecarPrivileges proves on the real API server, with the Role,
// RoleBinding and ServiceAccount the operator created for a Gateway and a
// token the API server issued for that ServiceAccount (what the kubelet
// mounts in the sidecar container), that the sidecar cannot change any pod
// (another one or its own) nor any ConfigMap but its Gateway's report, that
// it can write its report, and that it may read (never write) its
// Gateway's endpoints ConfigMap and no other.
func TestSidecarPrivileges(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	newGateway(t, ns, gc.Name, "other", httpListener("http", 80, ""))
	name := resources.Name("gw")
	for _, obj := range []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.ReportName("gw")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.ReportName("other")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.EndpointsName("gw")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.EndpointsName("other")}},
	} {
		testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T %s", obj, obj.GetName()), func() error {
			return k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		})
	}
	own := newGatewayPod(t, ns, "gw", "gw-pod-1")
	app := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app", Labels: map[string]string{"app": "shop"}},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: ptr.To(false),
			Containers:                   []corev1.Container{{Name: "app", Image: "shop:1"}},
		},
	}
	if err := k8s.Create(ctx, app); err != nil {
		t.Fatal(err)
	}

	// A bound token of the sidecar's ServiceAccount, from the TokenRequest
	// API, as the projected volume holds it.
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
	if err := k8s.SubResource("token").Create(ctx, sa, tr); err != nil {
		t.Fatalf("requesting a token of ServiceAccount %s: %v", name, err)
	}
	sidecar, err := kubernetes.NewForConfig(&rest.Config{
		Host:            restCfg.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: restCfg.CAData},
		BearerToken:     tr.Status.Token,
	})
	if err != nil {
		t.Fatal(err)
	}
	review, err := sidecar.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "system:serviceaccount:" + ns + ":" + name; review.Status.UserInfo.Username != want {
		t.Fatalf("the token authenticates as %q, want %q", review.Status.UserInfo.Username, want)
	}

	relabel := []byte(`{"metadata":{"labels":{"app":"stolen"}}}`)
	refused := map[string]func() error{
		"relabel another pod": func() error {
			_, err := sidecar.CoreV1().Pods(ns).Patch(ctx, app.Name, types.MergePatchType, relabel, metav1.PatchOptions{})
			return err
		},
		"change another pod's image": func() error {
			_, err := sidecar.CoreV1().Pods(ns).Patch(ctx, app.Name, types.StrategicMergePatchType,
				[]byte(`{"spec":{"containers":[{"name":"app","image":"evil:1"}]}}`), metav1.PatchOptions{})
			return err
		},
		"annotate its own pod": func() error {
			_, err := sidecar.CoreV1().Pods(ns).Patch(ctx, own.Name, types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"x":"y"}}}`), metav1.PatchOptions{})
			return err
		},
		"relabel its own pod": func() error {
			_, err := sidecar.CoreV1().Pods(ns).Patch(ctx, own.Name, types.MergePatchType, relabel, metav1.PatchOptions{})
			return err
		},
		"read a pod": func() error {
			_, err := sidecar.CoreV1().Pods(ns).Get(ctx, own.Name, metav1.GetOptions{})
			return err
		},
		"list pods": func() error {
			_, err := sidecar.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"write another Gateway's report": func() error {
			cm := corev1ac.ConfigMap(resources.ReportName("other"), ns).WithData(map[string]string{"x.applied-hash": "h"})
			_, err := sidecar.CoreV1().ConfigMaps(ns).Apply(ctx, cm, metav1.ApplyOptions{FieldManager: "attacker", Force: true})
			return err
		},
		"change its Gateway's nginx config": func() error {
			_, err := sidecar.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"data":{"nginx.conf":"evil"}}`), metav1.PatchOptions{})
			return err
		},
		"create a ConfigMap": func() error {
			_, err := sidecar.CoreV1().ConfigMaps(ns).Create(ctx,
				&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "planted"}}, metav1.CreateOptions{})
			return err
		},
		"read its Gateway's Secret": func() error {
			_, err := sidecar.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			return err
		},
		"change its Gateway's endpoints": func() error {
			_, err := sidecar.CoreV1().ConfigMaps(ns).Patch(ctx, resources.EndpointsName("gw"), types.MergePatchType,
				[]byte(`{"data":{"x":"10.0.0.1:80"}}`), metav1.PatchOptions{})
			return err
		},
		"read another Gateway's endpoints": func() error {
			_, err := sidecar.CoreV1().ConfigMaps(ns).Get(ctx, resources.EndpointsName("other"), metav1.GetOptions{})
			return err
		},
		"list every ConfigMap": func() error {
			_, err := sidecar.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
			return err
		},
		"delete its report": func() error {
			return sidecar.CoreV1().ConfigMaps(ns).Delete(ctx, resources.ReportName("gw"), metav1.DeleteOptions{})
		},
		"widen its own Role": func() error {
			_, err := sidecar.RbacV1().Roles(ns).Patch(ctx, name, types.MergePatchType,
				[]byte(`{"rules":[{"apiGroups":[""],"resources":["pods"],"verbs":["patch"]}]}`), metav1.PatchOptions{})
			return err
		},
	}
	for what, call := range refused {
		t.Run("refused: "+what, func(t *testing.T) {
			if err := call(); !apierrors.IsForbidden(err) {
				t.Errorf("got %v, want Forbidden", err)
			}
		})
	}

	t.Run("allowed: its own report", func(t *testing.T) {
		report := dataplane.PodReport{AppliedHash: "0123456789abcdef"}
		cm := corev1ac.ConfigMap(resources.ReportName("gw"), ns).WithData(report.Data(own.Name))
		if _, err := sidecar.CoreV1().ConfigMaps(ns).Apply(ctx, cm,
			metav1.ApplyOptions{FieldManager: dataplane.ReportFieldManager(own.Name), Force: true}); err != nil {
			t.Fatalf("applying its report: %v", err)
		}
		got := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.ReportName("gw")}, got); err != nil {
			t.Fatal(err)
		}
		if got.Data[own.Name+dataplane.ReportAppliedSuffix] != report.AppliedHash {
			t.Errorf("report data %v", got.Data)
		}
	})

	t.Run("allowed: watch its Gateway's endpoints by name", func(t *testing.T) {
		if _, err := sidecar.CoreV1().ConfigMaps(ns).Get(ctx, resources.EndpointsName("gw"), metav1.GetOptions{}); err != nil {
			t.Errorf("get: %v", err)
		}
		byName := metav1.ListOptions{FieldSelector: "metadata.name=" + resources.EndpointsName("gw")}
		if _, err := sidecar.CoreV1().ConfigMaps(ns).List(ctx, byName); err != nil {
			t.Errorf("list by name: %v", err)
		}
		w, err := sidecar.CoreV1().ConfigMaps(ns).Watch(ctx, byName)
		if err != nil {
			t.Errorf("watch by name: %v", err)
		} else {
			w.Stop()
		}
	})

	// The authorizer's answer for requests not tried above.
	t.Run("access reviews", func(t *testing.T) {
		for _, tc := range []struct {
			attrs   authorizationv1.ResourceAttributes
			allowed bool
		}{
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Resource: "configmaps", Name: resources.ReportName("gw")}, true},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Resource: "configmaps", Name: resources.ReportName("gw")}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Resource: "configmaps", Name: resources.ReportName("other")}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Resource: "pods", Name: own.Name}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "update", Resource: "pods", Name: own.Name}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Resource: "pods", Subresource: "status", Name: own.Name}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "eviction", Name: app.Name}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Resource: "services", Name: name}, false},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Group: "gateway.networking.k8s.io", Resource: "gateways", Subresource: "status", Name: "gw"}, true},
			{authorizationv1.ResourceAttributes{Namespace: ns, Verb: "patch", Group: "gateway.networking.k8s.io", Resource: "gateways", Subresource: "status", Name: "other"}, false},
		} {
			ssar, err := sidecar.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
				Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &tc.attrs},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if ssar.Status.Allowed != tc.allowed {
				a := tc.attrs
				t.Errorf("%s %s/%s %s: allowed %v, want %v", a.Verb, a.Resource, a.Subresource, a.Name, ssar.Status.Allowed, tc.allowed)
			}
		}
	})

	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(app), app); err != nil {
		t.Fatal(err)
	}
	if app.Labels["app"] != "shop" || app.Spec.Containers[0].Image != "shop:1" {
		t.Errorf("the other pod changed: labels %v, image %s", app.Labels, app.Spec.Containers[0].Image)
	}
}
