package build

import (
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// ControllerName is the GatewayClass controllerName this operator handles.
const ControllerName gatewayv1.GatewayController = "nginx-operator.dev/gateway-controller"

// Input is every object the build step looks at. The reconciler fills it
// from its cache; the render command fills it from YAML files. Order does
// not matter: the build step sorts what it needs.
type Input struct {
	GatewayClasses  []gatewayv1.GatewayClass
	Gateways        []gatewayv1.Gateway
	HTTPRoutes      []gatewayv1.HTTPRoute
	ReferenceGrants []gatewayv1beta1.ReferenceGrant
	Namespaces      []corev1.Namespace
	Services        []corev1.Service
	EndpointSlices  []discoveryv1.EndpointSlice
	Secrets         []corev1.Secret
	Parameters      []v1alpha1.GatewayParameters
}

// Output is the result of one build: a model per Gateway and every status.
type Output struct {
	// GatewayClasses holds the status of each GatewayClass of our
	// controllerName, keyed by name.
	GatewayClasses map[string]gatewayv1.GatewayClassStatus
	// Gateways holds one result per Gateway whose class is ours, sorted by
	// namespace/name.
	Gateways []GatewayResult
	// HTTPRoutes holds, per route that names at least one of our Gateways,
	// the status.parents entries this controller owns (controllerName ==
	// ControllerName), sorted; the reconciler merges them with entries of
	// other controllers.
	HTTPRoutes map[types.NamespacedName][]gatewayv1.RouteParentStatus
}

// GatewayResult is what the build step decided for one Gateway.
type GatewayResult struct {
	types.NamespacedName
	// Generation is the Gateway's metadata.generation, copied into every
	// condition's observedGeneration.
	Generation int64
	// Status has conditions and listeners; addresses are left empty (the
	// sidecar owns them). Programmed is computed as if the data plane
	// serves the config: the reconciler lowers it with ProgrammedFromDataPlane.
	Status gatewayv1.GatewayStatus
	// Model is what the data plane serves; nil when the Gateway is not
	// accepted (then no data plane objects are kept for it).
	Model *model.Gateway
	// Infrastructure is what the owned objects are built from.
	Infrastructure Infrastructure
}

// Infrastructure are the resolved settings of a Gateway's owned objects:
// GatewayParameters merged over defaults, plus spec.infrastructure.
type Infrastructure struct {
	Replicas              int32
	ServiceType           corev1.ServiceType
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy
	ServiceAnnotations    map[string]string
	// Labels and Annotations from the Gateway's spec.infrastructure, for
	// every owned object and the pods.
	Labels      map[string]string
	Annotations map[string]string
	Resources   corev1.ResourceRequirements
	// Image overrides the operator's default gateway image when not empty.
	Image string
	// Ports are the distinct listener ports, sorted, with their protocol.
	Ports []ServicePort
}

// ServicePort is one port of a Gateway's Service.
type ServicePort struct {
	Name     string
	Port     int32
	Protocol corev1.Protocol
}
