package controller

// The operator's ClusterRole (config/rbac/role.yaml, `make manifests`).
// Besides what the reconciler itself does, it holds every permission of the
// per-Gateway sidecar Role (resources.SidecarRules: services and gateways
// read, gateways/status get and patch, configmaps patch, events): Kubernetes
// only lets a subject create a Role that grants what it holds itself. Pods
// get, list, watch and patch are the operator's own (readiness, the
// config-hash annotation); the sidecar has none. docs/security.md gives the
// reason of every verb. The operator's own leader election uses the
// namespaced Role in config/rbac/leader_election_role.yaml, not this
// ClusterRole.

// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses;gateways;listenersets;httproutes;grpcroutes;tcproutes;udproutes;tlsroutes;referencegrants;backendtlspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gatewayclasses/status;gateways/status;listenersets/status;httproutes/status;grpcroutes/status;tcproutes/status;udproutes/status;tlsroutes/status;backendtlspolicies/status,verbs=get;patch
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=gateways/finalizers,verbs=update
// +kubebuilder:rbac:groups=gateway.nginx-operator.dev,resources=gatewayparameters,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups=discovery.k8s.io,resources=endpointslices,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=services;secrets;configmaps;serviceaccounts,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=update
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch;list
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch
