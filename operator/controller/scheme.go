package controller

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
)

// NewScheme knows every type the operator reads or writes through the
// manager's client and cache (events/v1: the Events it records), and no
// other: client-go's scheme of every built-in group held ~2 MB of the heap
// for types nothing here uses. The typed clients of leader election and
// metricsauth carry their own.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, rbacv1.AddToScheme, discoveryv1.AddToScheme, eventsv1.AddToScheme,
		gatewayv1.Install, gatewayv1beta1.Install, v1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("adding to scheme: %w", err)
		}
	}
	return s, nil
}
