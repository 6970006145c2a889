package translate

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
)

// index gives keyed access to the Input. Maps are only ever used for
// look-ups; anything that produces output iterates sorted slices.
type index struct {
	classes    map[string]*gatewayv1.GatewayClass
	params     map[types.NamespacedName]*v1alpha1.GatewayParameters
	namespaces map[string]*corev1.Namespace
	services   map[types.NamespacedName]*corev1.Service
	// slices are the EndpointSlices of each Service (label
	// kubernetes.io/service-name), in input order (sliceTrusted decides
	// which count); endpoints are sorted after merging, so the order here
	// never shows.
	slices  map[types.NamespacedName][]*discoveryv1.EndpointSlice
	secrets map[types.NamespacedName]*corev1.Secret
	// configMaps are the CA bundles of BackendTLSPolicies and of Gateways'
	// client certificate validation.
	configMaps map[types.NamespacedName]*corev1.ConfigMap
	// grants are the ReferenceGrants of each namespace (the "to" side).
	grants map[string][]*gatewayv1beta1.ReferenceGrant
	// looked is every Service and Secret looked up, found or not.
	looked References
}

// References are the Services and Secrets a translation looked up, found or
// not: a change to any other Service, Secret or EndpointSlice cannot change
// its output, so the controller need not translate again for it.
type References struct {
	Services map[types.NamespacedName]bool
	Secrets  map[types.NamespacedName]bool
	// ConfigMaps are the CA bundles BackendTLSPolicies referenced.
	ConfigMaps map[types.NamespacedName]bool
}

// service looks a Service up and records that it was.
func (ix *index) service(key types.NamespacedName) (*corev1.Service, bool) {
	ix.looked.Services[key] = true
	s, ok := ix.services[key]
	return s, ok
}

// secret looks a Secret up and records that it was.
func (ix *index) secret(key types.NamespacedName) (*corev1.Secret, bool) {
	ix.looked.Secrets[key] = true
	s, ok := ix.secrets[key]
	return s, ok
}

func newIndex(in *Input) *index {
	ix := &index{
		classes:    make(map[string]*gatewayv1.GatewayClass, len(in.GatewayClasses)),
		params:     make(map[types.NamespacedName]*v1alpha1.GatewayParameters, len(in.Parameters)),
		namespaces: make(map[string]*corev1.Namespace, len(in.Namespaces)),
		services:   make(map[types.NamespacedName]*corev1.Service, len(in.Services)),
		slices:     make(map[types.NamespacedName][]*discoveryv1.EndpointSlice, len(in.EndpointSlices)),
		secrets:    make(map[types.NamespacedName]*corev1.Secret, len(in.Secrets)),
		grants:     map[string][]*gatewayv1beta1.ReferenceGrant{},
		looked:     References{Services: map[types.NamespacedName]bool{}, Secrets: map[types.NamespacedName]bool{}},
	}
	for i := range in.GatewayClasses {
		c := &in.GatewayClasses[i]
		ix.classes[c.Name] = c
	}
	for i := range in.Parameters {
		p := &in.Parameters[i]
		ix.params[types.NamespacedName{Namespace: p.Namespace, Name: p.Name}] = p
	}
	for i := range in.Namespaces {
		n := &in.Namespaces[i]
		ix.namespaces[n.Name] = n
	}
	for i := range in.Services {
		s := &in.Services[i]
		ix.services[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	for i := range in.EndpointSlices {
		es := &in.EndpointSlices[i]
		svc, ok := es.Labels[discoveryv1.LabelServiceName]
		if !ok {
			continue
		}
		key := types.NamespacedName{Namespace: es.Namespace, Name: svc}
		ix.slices[key] = append(ix.slices[key], es)
	}
	for i := range in.Secrets {
		s := &in.Secrets[i]
		ix.secrets[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	ix.configMaps = make(map[types.NamespacedName]*corev1.ConfigMap, len(in.ConfigMaps))
	for i := range in.ConfigMaps {
		cm := &in.ConfigMaps[i]
		ix.configMaps[types.NamespacedName{Namespace: cm.Namespace, Name: cm.Name}] = cm
	}
	for i := range in.ReferenceGrants {
		g := &in.ReferenceGrants[i]
		ix.grants[g.Namespace] = append(ix.grants[g.Namespace], g)
	}
	return ix
}

// sliceTrusted reports whether an EndpointSlice may resolve backends of
// svc. A Service with a selector takes only slices of Kubernetes'
// EndpointSlice controller (the pods it selects): anyone allowed to create
// EndpointSlices in a namespace can write one labelled with that Service's
// name, which could point a route at another namespace's pods or at node
// addresses, so a hand-written one is ignored. A Service without selector
// has no controller-made slices: its owner writes them by hand (or the
// mirroring controller copies its Endpoints), and they are its endpoints,
// as they are for kube-proxy (the conformance test HTTPRouteServiceTypes
// relies on this).
func sliceTrusted(svc *corev1.Service, es *discoveryv1.EndpointSlice) bool {
	if len(svc.Spec.Selector) == 0 {
		return true
	}
	return es.Labels[discoveryv1.LabelManagedBy] == "endpointslice-controller.k8s.io"
}
