package resources

import (
	"maps"
	"net/netip"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// Options are the operator-wide settings of owned objects.
type Options struct {
	// DefaultImage is the gateway image (nginx + sidecar) used when the
	// GatewayParameters set none.
	DefaultImage string
}

// Owner identifies the Gateway that owns the objects.
type Owner struct {
	Namespace string
	Name      string
	UID       types.UID
}

// Set is every object owned by one Gateway.
type Set struct {
	ServiceAccount *corev1.ServiceAccount
	Role           *rbacv1.Role
	RoleBinding    *rbacv1.RoleBinding
	// Endpoints holds the ready addresses of each upstream (EndpointsData),
	// which the sidecars serve to nginx as DNS: an endpoint change writes
	// only this object, never the config or the Deployment.
	Endpoints *corev1.ConfigMap
	ConfigMap *corev1.ConfigMap
	// Report is the empty ConfigMap the sidecars write their reports to
	// (dataplane.PodReport); the operator never sets its data.
	Report     *corev1.ConfigMap
	Secret     *corev1.Secret
	Service    *corev1.Service
	Deployment *appsv1.Deployment
}

// Objects lists the set in the order it should be applied: the pod's
// identity and permissions and its mounted files exist before the
// Deployment that needs them, and the endpoints of a new upstream are
// published before the config that uses it (nginx would otherwise ask for
// a name the sidecar does not know yet, and wait 10 s to ask again).
func (s Set) Objects() []client.Object {
	return []client.Object{s.ServiceAccount, s.Role, s.RoleBinding, s.Endpoints, s.ConfigMap, s.Report, s.Secret, s.Service, s.Deployment}
}

// EndpointsData is the endpoints ConfigMap's data: one key per upstream
// name (every upstream of the model, "" for one without ready endpoints),
// the value dataplane.FormatEndpoints.
func EndpointsData(endpoints map[string][]model.Endpoint) map[string]string {
	out := make(map[string]string, len(endpoints))
	for upstream, eps := range endpoints {
		aps := make([]netip.AddrPort, 0, len(eps))
		for _, e := range eps {
			if ap, ok := e.AddrPort(); ok {
				aps = append(aps, ap)
			}
		}
		out[upstream] = dataplane.FormatEndpoints(aps)
	}
	return out
}

// ConfigHash is the hash the gateway pods must report as applied: the
// ConfigMap and Secret files merged into one flat tree, as the sidecar sees it.
func ConfigHash(files render.Files) string {
	merged := make(map[string][]byte, len(files.Config)+len(files.Secret))
	maps.Copy(merged, files.Config)
	maps.Copy(merged, files.Secret)
	return dataplane.Hash(merged)
}

// withSecretsHash is data (not modified: the pipeline keeps it) plus
// dataplane.SecretsHashKey for the Secret's files.
func withSecretsHash(data map[string]string, secret map[string][]byte) map[string]string {
	out := make(map[string]string, len(data)+1)
	maps.Copy(out, data)
	out[dataplane.SecretsHashKey] = dataplane.Hash(secret)
	return out
}

// LastGoodName is the name of a Gateway's last-good ConfigMap.
func LastGoodName(gatewayName string) string { return Name(gatewayName) + "-last-good" }

// LastGoodConfigMap is the Gateway's last-good ConfigMap (mounted by the
// sidecar at dataplane.LastGoodMountPath): the config files of a config
// the data plane applied, encoded like the Gateway's ConfigMap, with that
// config's hash in dataplane.AnnotationConfigHash. encoded must be the
// config files the operator rendered for that hash (ConfigHash), as
// EncodeConfig stores them: the reconciler keeps its recent configs in
// this form, not as the files, which take ~26 times as much memory.
func LastGoodConfigMap(owner Owner, infra model.Infrastructure, hash string, encoded EncodedConfig) *corev1.ConfigMap {
	data, binary := encoded.Data, encoded.Binary
	annotations := maps.Clone(infra.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[dataplane.AnnotationConfigHash] = hash
	return &corev1.ConfigMap{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            LastGoodName(owner.Name),
			Namespace:       owner.Namespace,
			Labels:          objectLabels(owner, infra),
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{ownerReference(owner)},
		},
		Data:       data,
		BinaryData: binary,
	}
}

// Volume names in the gateway pod.
const (
	volumeConfig   = "config"
	volumeSecrets  = "secrets"
	volumeLastGood = "last-good"
	volumeRun      = "run"
	volumeNginxLib = "nginx-lib"
	volumeNginxLog = "nginx-log"
	volumeTmp      = "tmp"
	// The sidecar's own nginx folders and /tmp, for its `nginx -t`.
	volumeSidecarNginxLib = "sidecar-nginx-lib"
	volumeSidecarNginxLog = "sidecar-nginx-log"
	volumeSidecarTmp      = "sidecar-tmp"
	// volumeAPIAccess holds the ServiceAccount token, mounted in the
	// sidecar container only.
	volumeAPIAccess = "kube-api-access"
)

// The gateway pod's users. nginx runs as the image's nginx user; the sidecar,
// which holds the API token, as a user of its own, so that code running in
// nginx cannot read the sidecar's memory, environment or files through
// /proc (the PID namespace is shared) nor signal it. Both are in the nginx
// group (nginxGID, also the fsGroup): the sidecar stages the config that
// nginx reads through the group and writes reload requests into a FIFO
// (dataplane) of that group; it needs no signal to nginx.
const (
	nginxUID   = 101
	nginxGID   = 101
	sidecarUID = 102
)

// Objects returns the objects owned by the Gateway described by owner and
// infra, carrying the rendered files.
func Objects(owner Owner, infra model.Infrastructure, files render.Files, opts Options) Set {
	return ObjectsEncoded(owner, infra, files, EncodeConfig(files.Config), opts)
}

// ObjectsEncoded is Objects with the config files already encoded (by
// EncodeConfig, from files.Config), so they are compressed once, and
// hashed once when config.Hash is set.
func ObjectsEncoded(owner Owner, infra model.Infrastructure, files render.Files, config EncodedConfig, opts Options) Set {
	name := Name(owner.Name)
	meta := func(annotations map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Name:            name,
			Namespace:       owner.Namespace,
			Labels:          objectLabels(owner, infra),
			Annotations:     nonEmpty(annotations),
			OwnerReferences: []metav1.OwnerReference{ownerReference(owner)},
		}
	}
	infraAnnotations := maps.Clone(infra.Annotations)
	configData, configBinary := withSecretsHash(config.Data, files.Secret), config.Binary

	// sideConfigMap is an owned ConfigMap without data under its own name.
	sideConfigMap := func(name string) *corev1.ConfigMap {
		m := meta(infraAnnotations)
		m.Name = name
		return &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: m}
	}

	serviceAnnotations := maps.Clone(infra.ServiceAnnotations)
	if serviceAnnotations == nil {
		serviceAnnotations = map[string]string{}
	}
	// The Gateway's own spec.infrastructure is more specific than the
	// class-wide parameters, so it wins.
	maps.Copy(serviceAnnotations, infra.Annotations)

	return Set{
		ServiceAccount: &corev1.ServiceAccount{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
			ObjectMeta: meta(infraAnnotations),
		},
		Role: &rbacv1.Role{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
			ObjectMeta: meta(infraAnnotations),
			Rules:      SidecarRules(owner.Name, name, ReportName(owner.Name), EndpointsName(owner.Name)),
		},
		RoleBinding: &rbacv1.RoleBinding{
			TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
			ObjectMeta: meta(infraAnnotations),
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: owner.Namespace}},
		},
		Endpoints: sideConfigMap(EndpointsName(owner.Name)),
		ConfigMap: &corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			// The hash of the config it is part of, as on the pods: what
			// `kubectl nginx-gateway status` shows as wanted. A Secret-only
			// change changes it too (the hash covers both).
			ObjectMeta: func() metav1.ObjectMeta {
				m := meta(infraAnnotations)
				m.Annotations = maps.Clone(m.Annotations)
				if m.Annotations == nil {
					m.Annotations = map[string]string{}
				}
				hash := config.Hash
				if hash == "" {
					hash = ConfigHash(files)
				}
				m.Annotations[dataplane.AnnotationConfigHash] = hash
				return m
			}(),
			Data:       configData,
			BinaryData: configBinary,
		},
		Report: sideConfigMap(ReportName(owner.Name)),
		Secret: &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: meta(infraAnnotations),
			Type:       corev1.SecretTypeOpaque,
			Data:       nonEmpty(files.Secret),
		},
		Service: &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(serviceAnnotations),
			Spec:       serviceSpec(owner, infra),
		},
		Deployment: &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: meta(infraAnnotations),
			Spec:       deploymentSpec(owner, name, infra, opts),
		},
	}
}

func ownerReference(owner Owner) metav1.OwnerReference {
	return metav1.OwnerReference{
		APIVersion:         gatewayv1.GroupVersion.String(),
		Kind:               "Gateway",
		Name:               owner.Name,
		UID:                owner.UID,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}
}

// objectLabels are spec.infrastructure labels plus ours; ours win so that
// a user cannot detach an object from its Gateway.
func objectLabels(owner Owner, infra model.Infrastructure) map[string]string {
	labels := maps.Clone(infra.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, SelectorLabels(owner.Namespace, owner.Name))
	labels[dataplane.LabelManagedBy] = dataplane.ManagedByValue
	return labels
}

// SidecarRules is what the sidecar of one Gateway may do, each rule naming
// its one object where RBAC allows:
//   - get, list and watch its Service and its Gateway (one name each): the
//     addresses writer's informers;
//   - patch its Gateway's status (one name): status.addresses;
//   - patch its Gateway's report ConfigMap (one name): the server-side
//     apply of its replica's keys. Not create: the operator creates it, and
//     an apply to a missing object fails until then. Not get: an apply
//     needs no read;
//   - get, list and watch its Gateway's endpoints ConfigMap (one name):
//     the backend addresses it serves to nginx as DNS. Through the API
//     server, not a volume: the kubelet refreshes volumes up to a minute
//     late;
//   - create and patch events (a Role cannot name an object that does not
//     exist yet).
//
// It has no pod permission at all: a sidecar (or an nginx that took it
// over) cannot relabel or change any pod, its own included. Every replica
// writes status.addresses (no election, so no Lease).
func SidecarRules(gatewayName, serviceName, reportName, endpointsName string) []rbacv1.PolicyRule {
	return []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, ResourceNames: []string{serviceName}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{reportName}, Verbs: []string{"patch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{endpointsName}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{gatewayv1.GroupName}, Resources: []string{"gateways"}, ResourceNames: []string{gatewayName}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{gatewayv1.GroupName}, Resources: []string{"gateways/status"}, ResourceNames: []string{gatewayName}, Verbs: []string{"get", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
		{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
}

func serviceSpec(owner Owner, infra model.Infrastructure) corev1.ServiceSpec {
	spec := corev1.ServiceSpec{
		Type:     infra.ServiceType,
		Selector: SelectorLabels(owner.Namespace, owner.Name),
	}
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeLoadBalancer
	}
	// The API server refuses externalTrafficPolicy on ClusterIP Services.
	if spec.Type != corev1.ServiceTypeClusterIP {
		spec.ExternalTrafficPolicy = infra.ExternalTrafficPolicy
	}
	// Deprecated in Kubernetes (it holds one address and its meaning is the
	// load balancer's), but the one field that MetalLB, Cilium LB-IPAM,
	// kube-vip and several clouds' controllers all read.
	if spec.Type == corev1.ServiceTypeLoadBalancer {
		spec.LoadBalancerIP = infra.LoadBalancerIP
	}
	for _, p := range infra.Ports {
		spec.Ports = append(spec.Ports, corev1.ServicePort{
			Name:       p.Name,
			Port:       p.Port,
			Protocol:   protocolOrTCP(p.Protocol),
			TargetPort: intOrPort(p.Port),
		})
	}
	return spec
}
