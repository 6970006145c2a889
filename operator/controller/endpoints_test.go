package controller

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// TestEndpointChangeWritesOnlyTheEndpointsConfigMap: the ready addresses of
// a backend go to the Gateway's endpoints ConfigMap; when they change, that
// object changes and the config ConfigMap (its hash) and the Deployment do
// not: no reload, no pod-template change.
func TestEndpointChangeWritesOnlyTheEndpointsConfigMap(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	class := newClass(t, nil)
	newGateway(t, ns, class.Name, "gw", httpListener("http", 80, ""))
	newService(t, ns, "backend", 8080)
	upstream := strings.ReplaceAll(ns, "-", "_") + "_backend_8080" // the translation step's safe name

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backend-abc", Labels: map[string]string{
			discoveryv1.LabelServiceName: "backend", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080)}},
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	newRoute(t, ns, "web", ns, "gw", "", nil, ns, "backend")
	if err := k8s.Create(ctx, slice); err != nil {
		t.Fatal(err)
	}

	endpointsKey := client.ObjectKey{Namespace: ns, Name: resources.EndpointsName("gw")}
	waitEndpoints := func(want string) *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		testenv.Eventually(t, waitTimeout, "endpoints ConfigMap "+want, func() error {
			if err := k8s.Get(ctx, endpointsKey, cm); err != nil {
				return err
			}
			if got := cm.Data[upstream]; got != want {
				return fmt.Errorf("%s = %q, want %q", upstream, got, want)
			}
			return nil
		})
		return cm
	}
	waitEndpoints("10.0.0.1:8080\n")

	config, dep := &corev1.ConfigMap{}, &appsv1.Deployment{}
	read := func() error {
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, config); err != nil {
			return err
		}
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, dep)
	}
	// The endpoints are written first: wait for the rest of the reconcile.
	testenv.Eventually(t, waitTimeout, "config ConfigMap and Deployment", read)
	hash, configVersion, depVersion := config.Annotations[dataplane.AnnotationConfigHash], config.ResourceVersion, dep.ResourceVersion

	// Scale up, then down to nothing: each step reaches the endpoints
	// ConfigMap, nothing else moves.
	for _, step := range []struct {
		endpoints []discoveryv1.Endpoint
		want      string
	}{
		{[]discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.2"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		}, "10.0.0.1:8080\n10.0.0.2:8080\n"},
		{nil, ""},
	} {
		update(t, slice, func() { slice.Endpoints = step.endpoints })
		waitEndpoints(step.want)
		if err := read(); err != nil {
			t.Fatal(err)
		}
		if got := config.Annotations[dataplane.AnnotationConfigHash]; got != hash || config.ResourceVersion != configVersion {
			t.Errorf("config ConfigMap changed with the endpoints: hash %s → %s, resourceVersion %s → %s", hash, got, configVersion, config.ResourceVersion)
		}
		if dep.ResourceVersion != depVersion {
			t.Errorf("Deployment changed with the endpoints (resourceVersion %s → %s)", depVersion, dep.ResourceVersion)
		}
	}
}
