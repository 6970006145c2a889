package model

import corev1 "k8s.io/api/core/v1"

// Infrastructure is the Kubernetes side of a Gateway's model: the resolved
// settings its owned objects (Deployment, Service, …) are made from,
// GatewayParameters merged over defaults plus the Gateway's
// spec.infrastructure. Unlike Gateway it uses core/v1 types, because what it
// describes are Kubernetes objects; operator/resources turns it into them.
type Infrastructure struct {
	Replicas              int32
	ServiceType           corev1.ServiceType
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy
	ServiceAnnotations    map[string]string
	// LoadBalancerIP is the address the Gateway's spec.addresses asks the
	// load balancer for (Service spec.loadBalancerIP), "" for any.
	LoadBalancerIP string
	// Labels and Annotations from the Gateway's spec.infrastructure, for
	// every owned object and the pods.
	Labels      map[string]string
	Annotations map[string]string
	Resources   corev1.ResourceRequirements
	// WorkerProcesses is nginx's worker count set in GatewayParameters;
	// 0 ("auto") is one per CPU of the nginx container's limit, or per CPU
	// up to a bound without one. The pod's launcher passes it to nginx
	// (dataplane.EnvWorkerProcesses), not the rendered config: it is a
	// property of the container.
	WorkerProcesses int32
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
