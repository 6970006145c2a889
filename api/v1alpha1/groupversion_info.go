// Package v1alpha1 holds the gateway.nginx-operator.dev/v1alpha1 API: the
// data-plane settings a GatewayClass (or a Gateway) points at through its
// parametersRef.
// +kubebuilder:object:generate=true
// +groupName=gateway.nginx-operator.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of this package.
	GroupVersion = schema.GroupVersion{Group: "gateway.nginx-operator.dev", Version: "v1alpha1"}

	// SchemeBuilder registers this package's types.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds this package's types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
