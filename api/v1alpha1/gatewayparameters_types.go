package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Kind is the kind a parametersRef names to point at GatewayParameters.
const Kind = "GatewayParameters"

// GatewayParametersSpec are the data-plane settings of the Gateways of a
// GatewayClass. Every field is optional; unset fields take the defaults
// documented on them.
type GatewayParametersSpec struct {
	// Replicas of the gateway Deployment. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Service of each Gateway.
	// +optional
	Service *ServiceSettings `json:"service,omitempty"`

	// Resources of the nginx container.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`

	// Nginx worker and logging settings.
	// +optional
	Nginx *NginxSettings `json:"nginx,omitempty"`

	// Image of the gateway pods (nginx with the sidecar). Default: the
	// operator's --gateway-image. Only the GatewayClass's parameters
	// (spec.parametersRef) may set it: a Gateway whose
	// spec.infrastructure.parametersRef names parameters with an image is
	// not accepted (Accepted False, InvalidParameters), since those
	// parameters live in the Gateway's namespace, which the platform team
	// may not control.
	// +optional
	Image *string `json:"image,omitempty"`
}

// ServiceSettings shape the Service in front of each Gateway.
type ServiceSettings struct {
	// Type of the Service. Default LoadBalancer.
	// +kubebuilder:validation:Enum=ClusterIP;NodePort;LoadBalancer
	// +optional
	Type *corev1.ServiceType `json:"type,omitempty"`

	// Annotations added to the Service (e.g. for a cloud load balancer).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`

	// ExternalTrafficPolicy of the Service. Default Local for LoadBalancer.
	// +kubebuilder:validation:Enum=Cluster;Local
	// +optional
	ExternalTrafficPolicy *corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
}

// AccessLogFormat is the format of nginx access logs.
// +kubebuilder:validation:Enum=json;text;off;default
type AccessLogFormat string

const (
	// AccessLogJSON, the default, writes one JSON object per request or
	// TCP/UDP/TLS session (nginx escapes every value for JSON).
	AccessLogJSON AccessLogFormat = "json"
	// AccessLogText is nginx's combined format plus host, route, rule,
	// backend, upstream and request time, for people who read logs by eye.
	AccessLogText AccessLogFormat = "text"
	// AccessLogDefault is the text format's old name, from when it was the
	// default: objects that ask for it keep the format they had.
	AccessLogDefault AccessLogFormat = "default"
	// AccessLogOff disables access logs.
	AccessLogOff AccessLogFormat = "off"
)

// NginxSettings tune nginx itself.
type NginxSettings struct {
	// WorkerProcesses is "auto" or a number of worker processes. Default "auto".
	// +kubebuilder:validation:Pattern=`^(auto|[1-9][0-9]{0,2})$`
	// +optional
	WorkerProcesses *string `json:"workerProcesses,omitempty"`

	// WorkerConnections per worker. Default 8192.
	// +kubebuilder:validation:Minimum=64
	// +kubebuilder:validation:Maximum=1048576
	// +optional
	WorkerConnections *int32 `json:"workerConnections,omitempty"`

	// WorkerShutdownTimeoutSeconds bounds how long workers of a replaced
	// configuration keep long-lived connections (WebSockets, gRPC streams)
	// after a reload. Default 60.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	WorkerShutdownTimeoutSeconds *int32 `json:"workerShutdownTimeoutSeconds,omitempty"`

	// AccessLog format: "json" (the default), "text" (nginx's combined
	// format plus the route) or "off". "default" is an old name of "text".
	// +optional
	AccessLog *AccessLogFormat `json:"accessLog,omitempty"`
}

// GatewayParametersStatus is reserved for future use.
type GatewayParametersStatus struct{}

// GatewayParameters holds data-plane settings for Gateways. A GatewayClass
// points at it with spec.parametersRef (group gateway.nginx-operator.dev,
// kind GatewayParameters, with a namespace); a Gateway may add its own with
// spec.infrastructure.parametersRef (same namespace as the Gateway), whose
// fields override the class's, except spec.image (see there).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gwparams,categories=gateway-api
type GatewayParameters struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GatewayParametersSpec   `json:"spec,omitempty"`
	Status GatewayParametersStatus `json:"status,omitempty"`
}

// GatewayParametersList is a list of GatewayParameters.
// +kubebuilder:object:root=true
type GatewayParametersList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GatewayParameters `json:"items"`
}

func init() {
	SchemeBuilder.Register(&GatewayParameters{}, &GatewayParametersList{})
}
