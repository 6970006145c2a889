package resources

import (
	"maps"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Paths nginx writes to besides RunPath. Debian's nginx has its temp paths
// (client bodies, proxy buffers) compiled in under /var/lib/nginx and opens
// /var/log/nginx/error.log before reading its config; with a read-only root
// filesystem they need writable volumes.
const (
	nginxLibPath = "/var/lib/nginx"
	nginxLogPath = "/var/log/nginx"
	tmpPath      = "/tmp"
)

// secretFileMode is the mode of the Secret volume's files (TLS keys). The
// kubelet writes them owned by root with the pod's fsGroup (nginxGID) as
// group, so both containers read them through the group: 0440, nothing for
// others. nginx's master runs as the nginx user too (it loads the
// certificates as that user, never as root); the sidecar's staging copy is
// dataplane.StagedFileMode, owned by the sidecar's user and the group.
const secretFileMode int32 = 0o440

// Size limits of the emptyDirs: past one, the kubelet evicts the pod, which
// is better than filling the node's disk.
var (
	// runSizeLimit: RunPath holds the staged config trees, at most three at
	// once (live, previous, the one being staged), each at most the
	// sidecar's decompression bound plus a Secret (1 MiB), and, under the
	// live tree's prefix, nginx's temporary files (client bodies, proxied
	// responses larger than the buffers), for which 256 MiB remain.
	runSizeLimit = resource.NewQuantity(3*(dataplane.MaxDecompressedConfigSize+maxSecretSize)+256<<20, resource.BinarySI)
	// nginxLibSizeLimit: Debian's compiled-in temp paths; the rendered
	// config moves every temp path under the prefix, so nginx only creates
	// empty folders here.
	nginxLibSizeLimit = resource.NewQuantity(16<<20, resource.BinarySI)
	// nginxLogSizeLimit: nginx opens /var/log/nginx/error.log before it
	// reads its config, which then logs to stderr; only start-up errors
	// land here.
	nginxLogSizeLimit = resource.NewQuantity(16<<20, resource.BinarySI)
	// tmpSizeLimit: neither container keeps files in /tmp; a little room for
	// what a library may write there.
	tmpSizeLimit = resource.NewQuantity(64<<20, resource.BinarySI)
)

// maxSecretSize is the API server's bound on a Secret's data.
const maxSecretSize = 1 << 20

// sidecarResources: the sidecar idles between configs (a Go process with a
// few watches, tens of MiB), but `nginx -t` runs in its container and so
// counts against its limits: measured on a rendered config of 5,000 routes
// (9.6 MB), nginx -t peaks at ~440 MiB resident and takes ~9 s of one core.
// The memory limit leaves room for that, and for a config being
// decompressed; a config too large for it fails nginx -t (killed), which
// the sidecar reports as a rejection, and the live config keeps serving.
// The CPU limit keeps a validation from starving nginx's workers on a
// small node.
var sidecarResources = corev1.ResourceRequirements{
	Requests: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("50m"),
		corev1.ResourceMemory: resource.MustParse("64Mi"),
	},
	Limits: corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("1"),
		corev1.ResourceMemory: resource.MustParse("1Gi"),
	},
}

// preStopSeconds is how long nginx keeps serving after the pod is marked
// for deletion, before it is asked to stop.
const preStopSeconds = 3

func deploymentSpec(owner Owner, name string, infra model.Infrastructure, opts Options) appsv1.DeploymentSpec {
	image := infra.Image
	if image == "" {
		image = opts.DefaultImage
	}
	podLabels := objectLabels(owner, infra)
	shared := []corev1.VolumeMount{
		{Name: volumeConfig, MountPath: dataplane.ConfigMountPath, ReadOnly: true},
		{Name: volumeSecrets, MountPath: dataplane.SecretMountPath, ReadOnly: true},
		{Name: volumeRun, MountPath: dataplane.RunPath},
	}
	// Each container has its own nginx folders and /tmp: nginx creates
	// folders 0700 for the user that runs first, and the sidecar's `nginx -t`
	// runs as another user than nginx.
	nginxMounts := append(slices.Clone(shared),
		corev1.VolumeMount{Name: volumeNginxLib, MountPath: nginxLibPath},
		corev1.VolumeMount{Name: volumeNginxLog, MountPath: nginxLogPath},
		corev1.VolumeMount{Name: volumeTmp, MountPath: tmpPath})
	sidecarMounts := append(slices.Clone(shared),
		corev1.VolumeMount{Name: volumeSidecarNginxLib, MountPath: nginxLibPath},
		corev1.VolumeMount{Name: volumeSidecarNginxLog, MountPath: nginxLogPath},
		corev1.VolumeMount{Name: volumeSidecarTmp, MountPath: tmpPath},
		// The API token and the last-good config only here: nginx's
		// container mounts neither.
		corev1.VolumeMount{Name: volumeLastGood, MountPath: dataplane.LastGoodMountPath, ReadOnly: true},
		corev1.VolumeMount{Name: volumeAPIAccess, MountPath: serviceAccountPath, ReadOnly: true})

	nginx := corev1.Container{
		Name:    dataplane.NginxContainerName,
		Image:   image,
		Command: []string{dataplane.SidecarBinary, dataplane.ExecNginxCommand},
		// No container ports for the listeners: they are informational (the
		// Service targets port numbers), and a pod template that listed
		// them would roll every gateway pod whenever a listener, of the
		// Gateway or of a ListenerSet, is added or removed. The Service
		// gains the port and nginx reloads instead.
		Env:             workerEnv(infra),
		Resources:       infra.Resources,
		VolumeMounts:    nginxMounts,
		SecurityContext: containerSecurityContext(nginxUID),
		// Keep serving while the pod's endpoints are withdrawn from the
		// Service, so that its deletion drops no request.
		Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: preStopSeconds}}},
	}
	sidecar := corev1.Container{
		Name:    dataplane.SidecarContainerName,
		Image:   image,
		Command: []string{dataplane.SidecarBinary},
		Env: append([]corev1.EnvVar{
			{Name: dataplane.EnvPodName, ValueFrom: fieldRef("metadata.name")},
			{Name: dataplane.EnvPodNamespace, ValueFrom: fieldRef("metadata.namespace")},
			{Name: dataplane.EnvGatewayName, Value: owner.Name},
			{Name: dataplane.EnvGatewayNamespace, Value: owner.Namespace},
			{Name: dataplane.EnvServiceName, Value: name},
			{Name: dataplane.EnvReportConfigMap, Value: ReportName(owner.Name)},
			{Name: dataplane.EnvEndpointsConfigMap, Value: EndpointsName(owner.Name)},
		}, workerEnv(infra)...),
		Ports: []corev1.ContainerPort{
			{Name: "health", ContainerPort: dataplane.HealthPort, Protocol: corev1.ProtocolTCP},
			{Name: "metrics", ContainerPort: dataplane.MetricsPort, Protocol: corev1.ProtocolTCP},
		},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:     httpGet(dataplane.ReadyzPath),
			PeriodSeconds:    2,
			FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:     httpGet(dataplane.HealthzPath),
			PeriodSeconds:    10,
			FailureThreshold: 3,
		},
		Resources:       *sidecarResources.DeepCopy(),
		VolumeMounts:    sidecarMounts,
		SecurityContext: containerSecurityContext(sidecarUID),
	}

	return appsv1.DeploymentSpec{
		Replicas: ptr.To(infra.Replicas),
		Selector: &metav1.LabelSelector{MatchLabels: SelectorLabels(owner.Namespace, owner.Name)},
		Template: corev1.PodTemplateSpec{
			// Only stable things: the config hash is patched onto running
			// pods by the controller, so a new config never rolls the pods.
			ObjectMeta: metav1.ObjectMeta{
				Labels:      podLabels,
				Annotations: nonEmpty(maps.Clone(infra.Annotations)),
			},
			Spec: corev1.PodSpec{
				ServiceAccountName: name,
				// No token in every container: apiAccessVolume mounts it in
				// the sidecar's only.
				AutomountServiceAccountToken: ptr.To(false),
				ShareProcessNamespace:        ptr.To(true),
				SecurityContext: &corev1.PodSecurityContext{
					RunAsNonRoot:   ptr.To(true),
					RunAsUser:      ptr.To[int64](nginxUID),
					RunAsGroup:     ptr.To[int64](nginxGID),
					FSGroup:        ptr.To[int64](nginxGID),
					SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					// Lets nginx bind ports below 1024 without any capability.
					Sysctls: []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
				},
				Containers: []corev1.Container{nginx, sidecar},
				Volumes: []corev1.Volume{
					{Name: volumeConfig, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: name},
					}}},
					{Name: volumeSecrets, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
						SecretName: name, DefaultMode: ptr.To(secretFileMode),
					}}},
					// Written once a replica applied a config; until then empty.
					{Name: volumeLastGood, VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
						LocalObjectReference: corev1.LocalObjectReference{Name: LastGoodName(owner.Name)},
						Optional:             ptr.To(true),
					}}},
					emptyDir(volumeRun, runSizeLimit),
					emptyDir(volumeNginxLib, nginxLibSizeLimit),
					emptyDir(volumeNginxLog, nginxLogSizeLimit),
					emptyDir(volumeTmp, tmpSizeLimit),
					emptyDir(volumeSidecarNginxLib, nginxLibSizeLimit),
					emptyDir(volumeSidecarNginxLog, nginxLogSizeLimit),
					emptyDir(volumeSidecarTmp, tmpSizeLimit),
					apiAccessVolume(),
				},
			},
		},
	}
}

// serviceAccountPath is where client-go's in-cluster config reads the
// token, CA and namespace.
const serviceAccountPath = "/var/run/secrets/kubernetes.io/serviceaccount"

// tokenExpirationSeconds is the kubelet's default for its own token volume
// (an hour, plus 7 s so that a client can tell it from a bound one); the
// kubelet refreshes the token at 80 % of its life.
const tokenExpirationSeconds = 3607

// apiAccessVolume is what the kubelet would mount in every container with
// automountServiceAccountToken: a bound ServiceAccount token from the
// TokenRequest API, the cluster's CA (the kube-root-ca.crt ConfigMap every
// namespace holds) and the namespace.
func apiAccessVolume() corev1.Volume {
	return corev1.Volume{Name: volumeAPIAccess, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644), // the kubelet's default
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](tokenExpirationSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}},
			}}},
		},
	}}}
}

// containerSecurityContext runs a container as uid, in the pod's group
// (nginxGID), with nothing it could escalate to.
func containerSecurityContext(uid int64) *corev1.SecurityContext {
	return &corev1.SecurityContext{
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To(uid),
		AllowPrivilegeEscalation: ptr.To(false),
		ReadOnlyRootFilesystem:   ptr.To(true),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
}

func httpGet(path string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(dataplane.HealthPort)}}
}

// workerEnv tells both containers how many nginx workers to run (nginx
// gets them with -g; nginx -t in the sidecar the same): the number set in
// GatewayParameters, else the nginx container's CPU limit when it has one.
// Without either the launcher counts the CPUs it may run on, up to a
// bound: never the node's cores unbounded, which nginx's own "auto" uses.
func workerEnv(infra model.Infrastructure) []corev1.EnvVar {
	workers := "auto"
	if infra.WorkerProcesses > 0 {
		workers = strconv.Itoa(int(infra.WorkerProcesses))
	}
	env := []corev1.EnvVar{{Name: dataplane.EnvWorkerProcesses, Value: workers}}
	if _, limited := infra.Resources.Limits[corev1.ResourceCPU]; limited {
		env = append(env, corev1.EnvVar{Name: dataplane.EnvCPULimitMillicores, ValueFrom: &corev1.EnvVarSource{
			ResourceFieldRef: &corev1.ResourceFieldSelector{
				ContainerName: dataplane.NginxContainerName, Resource: "limits.cpu", Divisor: resource.MustParse("1m"),
			},
		}})
	}
	return env
}

func fieldRef(path string) *corev1.EnvVarSource {
	return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
}

func emptyDir(name string, sizeLimit *resource.Quantity) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{
		SizeLimit: ptr.To(sizeLimit.DeepCopy()),
	}}}
}

func intOrPort(port int32) intstr.IntOrString { return intstr.FromInt32(port) }

func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// nonEmpty returns nil for an empty map so that objects carry no "{}".
func nonEmpty[M ~map[K]V, K comparable, V any](m M) M {
	if len(m) == 0 {
		return nil
	}
	return m
}
