// Package dataplane is the contract between the operator, which builds the
// gateway pods, and the sidecar, which runs inside them: mount paths,
// annotation keys, the report ConfigMap's keys and the config hash both
// sides compute.
package dataplane

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"strings"
)

const (
	// ConfigMountPath is where the Gateway's ConfigMap (rendered nginx
	// config files) is mounted in both containers.
	ConfigMountPath = "/etc/nginx-gateway/config"
	// SecretMountPath is where the Gateway's Secret (TLS certificates and
	// keys) is mounted in both containers.
	SecretMountPath = "/etc/nginx-gateway/secrets"
	// LastGoodMountPath is where the sidecar container mounts the Gateway's
	// last-good ConfigMap (optional; see LastGoodFallback in the sidecar's
	// apply package): the config files of the newest config a replica of
	// the Gateway reported applied, written by the operator from the files
	// it rendered for that hash, never copied from elsewhere. A sidecar
	// with nothing live yet (a new or restarted pod) falls back to it when
	// the current config fails `nginx -t`.
	LastGoodMountPath = "/etc/nginx-gateway/last-good"
	// RunPath is an emptyDir shared by nginx and the sidecar: the validated
	// live config that nginx reads, nginx's pid file, temp folders.
	RunPath = "/var/run/nginx-gateway"

	// LivePath is a symlink in RunPath to the folder of the last config
	// that passed `nginx -t`; nginx runs with prefix LivePath + "/" and
	// -c nginx.conf, so a reload reads the new tree through the symlink.
	// Only the sidecar writes it, so it never points at an unvalidated config.
	LivePath = RunPath + "/live"
	// StagedFileMode and StagedDirMode are the modes of a staged config
	// tree: the sidecar (its own user, in the nginx group) writes it, nginx
	// reads it through the group, other users read nothing (TLS keys).
	StagedFileMode = 0o440
	StagedDirMode  = 0o750
	// TempDirMode is the mode of the staged tree's TempDirs: nginx's
	// workers write their temporary files there through the group.
	TempDirMode = 0o770

	// SocketPath is the folder of the unix sockets nginx listens on
	// between its own servers (a TLS port whose connections are passed
	// through or terminated by server name hands them on, with the PROXY
	// protocol). exec-nginx empties it before nginx starts: a socket file
	// left by a killed nginx would make its bind fail.
	SocketPath = RunPath + "/sockets"
	// SocketDirMode: the sidecar makes the folder, nginx (another user in
	// its group) binds and removes the sockets in it.
	SocketDirMode = 0o770
	// NginxStatusSocket is the file name, in SocketPath, of nginx's own
	// status server (stub_status at NginxStatusURI): its connection and
	// request counters, which the sidecar reads at each scrape and exports
	// as metrics. A unix socket rather than a port: it takes no port from
	// listeners, and only the pod's containers that mount the run folder
	// (nginx and the sidecar) can reach it. nginx makes its unix sockets
	// 0666; the folder (SocketDirMode) keeps other users out.
	NginxStatusSocket = "nginx-status.sock"
	NginxStatusURI    = "/stub_status"
	// PidFile is nginx's pid file. The rendered nginx.conf sets no pid,
	// daemon or user directive: the launcher passes them with -g.
	PidFile = RunPath + "/nginx.pid"

	// SidecarBinary is the sidecar's path in the gateway image. The nginx
	// container runs `SidecarBinary exec-nginx`, which waits for LivePath
	// and then execs nginx in the foreground; the sidecar container runs
	// `SidecarBinary` (watch, validate, reload, report).
	SidecarBinary = "/usr/local/bin/nginx-gateway-sidecar"

	// HealthPort serves the sidecar's /healthz and /readyz (the pod's
	// probes; ready once the first valid config is live) and MetricsPort
	// its Prometheus /metrics.
	HealthPort  = 8081
	MetricsPort = 9113

	// Environment variables the operator gives the sidecar (from the
	// downward API and the Gateway).
	EnvPodName          = "POD_NAME"
	EnvPodNamespace     = "POD_NAMESPACE"
	EnvGatewayName      = "GATEWAY_NAME"
	EnvGatewayNamespace = "GATEWAY_NAMESPACE"
	EnvServiceName      = "SERVICE_NAME"
	// EnvReportConfigMap names the Gateway's report ConfigMap (in
	// EnvPodNamespace), the only object the sidecar may patch.
	EnvReportConfigMap = "REPORT_CONFIGMAP"
	// nginx's worker count is the pod's business, not the config's: both
	// containers get EnvWorkerProcesses (a number from GatewayParameters,
	// or "auto") and, when the nginx container has a CPU limit,
	// EnvCPULimitMillicores (resourceFieldRef limits.cpu in millicores),
	// and run nginx with `-g worker_processes N;` (nginxproc.WorkerCount).
	EnvWorkerProcesses    = "NGINX_WORKER_PROCESSES"
	EnvCPULimitMillicores = "NGINX_CPU_LIMIT_MILLICORES"

	// NginxContainerName and SidecarContainerName name the two containers.
	NginxContainerName   = "nginx"
	SidecarContainerName = "sidecar"

	// KeyPrefix is the prefix of our own label and annotation keys: the
	// operator and the sidecar write them, and read them as the truth about
	// a pod (which config it serves), so a Gateway's spec.infrastructure
	// may not set keys under it (nor under a subdomain of it).
	KeyPrefix = "gateway.nginx-operator.dev/"

	// AnnotationConfigHash is written by the operator on every gateway pod:
	// the hash of the config the pod should serve. Changing it makes the
	// kubelet re-sync the pod's ConfigMap and Secret volumes at once.
	AnnotationConfigHash = KeyPrefix + "config-hash"
	// AnnotationConfigHashSince is written with AnnotationConfigHash: when
	// (RFC 3339, UTC) the operator pointed the pod at that config, so
	// `kubectl nginx-gateway status` can say for how long a pod is STALE.
	AnnotationConfigHashSince = KeyPrefix + "config-hash-since"
	// The sidecar reports what it did with a config in the Gateway's
	// report ConfigMap (see PodReport), never on a pod: it has no pod
	// permission at all.

	// LabelGatewayName and LabelGatewayNamespace are on every object the
	// operator creates for a Gateway, and on its pods.
	LabelGatewayName      = "gateway.networking.k8s.io/gateway-name"
	LabelGatewayNamespace = KeyPrefix + "gateway-namespace"
	// LabelManagedBy marks the operator's objects.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy.
	ManagedByValue = "nginx-gateway-operator"
)

// Hash is the hash of a rendered config tree: the ConfigMap's files and the
// Secret's files merged into one flat folder (their names never collide).
// The operator hashes what it renders; the sidecar hashes what it reads from
// its mounts; equal hashes mean the pod serves what the operator rendered.
// It is the full SHA-256 in hex (64 characters), never cut: the sidecar
// names its staging folders by it and reuses a folder of the same name as
// the same tree, and the pods' annotations compare it, so two trees must
// never share one.
func Hash(files map[string][]byte) string {
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(files)) {
		// Length-prefix both parts so no two trees hash alike by accident.
		writeLenPrefixed(h, []byte(name))
		writeLenPrefixed(h, files[name])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func writeLenPrefixed(h interface{ Write([]byte) (int, error) }, b []byte) {
	n := uint64(len(b))
	var lenBuf [8]byte
	for i := range lenBuf {
		lenBuf[i] = byte(n >> (8 * i))
	}
	_, _ = h.Write(lenBuf[:])
	_, _ = h.Write(b)
}

// SecretsHashKey is a key of the Gateway's ConfigMap holding Hash of the
// Secret's files that config goes with. The kubelet swaps the ConfigMap
// and the Secret volumes one after the other, each atomically (`..data`),
// so for a moment a pod may see the new config with the old Secret (or the
// reverse); the sidecar applies a change as soon as both mounts agree with
// this key, without waiting for a quiet time (docs/design.md, "One parse
// per route change"). Its name starts with "." so that it is no file of
// the config tree: readers skip hidden names and Hash never covers it.
const SecretsHashKey = ".secrets-hash"

// Steps of a config change in the sidecar, the label "step" of its metric
// nginx_gateway_sidecar_last_apply_step_timestamp_seconds (Unix time of
// the step for the last change): with the API server's and the operator's
// times they break a route change's propagation down (e2e/bench).
const (
	StepMountChanged = "mount_changed" // first file event of the burst: the new files are visible in the pod
	StepValidated    = "validated"     // nginx -t passed
	StepReloaded     = "reloaded"      // nginx runs workers of the new config
)

// The sidecar's side of the contract, for the operator's Deployment, Role
// and status writes.
const (
	// ExecNginxCommand is the nginx container's argument to SidecarBinary.
	ExecNginxCommand = "exec-nginx"
	// HealthzPath (liveness) and ReadyzPath (readiness: a validated config
	// is live and the nginx master runs) are served on HealthPort;
	// MetricsPath on MetricsPort.
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
	// SidecarFieldManager is the server-side-apply field manager that owns
	// Gateway status.addresses; every sidecar replica applies under it, and
	// the operator must not write that field.
	SidecarFieldManager = "nginx-gateway-sidecar"
	// EventReasonConfigApplied and EventReasonConfigRejected are the
	// reasons of the Events the sidecar records on its Gateway.
	EventReasonConfigApplied  = "ConfigApplied"
	EventReasonConfigRejected = "ConfigRejected"
)

// Compressed ConfigMap keys. A rendered config of thousands of routes is
// several MB, over a ConfigMap's 1 MiB, and gzips well; the operator stores
// such files as binaryData "<name>" + GzipSuffix and the sidecar writes them
// decompressed under <name>. The config hash is over the decompressed files
// on both sides, so the encoding never changes it.
const (
	// GzipSuffix marks a ConfigMap key holding the gzip of the file named
	// by the key without it.
	GzipSuffix = ".gz"
	// MaxDecompressedFileSize bounds one decompressed file and
	// MaxDecompressedConfigSize all of a ConfigMap's decompressed files: a
	// corrupt or hostile archive (1 MiB of gzip may expand to 1 GiB) is
	// refused rather than allowed to fill the sidecar's memory and disk.
	// Rendered configs stay far below: 5,000 routes are about 10 MB.
	MaxDecompressedFileSize   = 64 << 20
	MaxDecompressedConfigSize = 256 << 20
)

// The report ConfigMap. The operator creates one per Gateway, empty,
// labelled and owned by the Gateway; the sidecar's Role may patch that one
// name and nothing else of the namespace (no pod, no other ConfigMap). Each
// replica server-side applies its own keys, "<pod name>" + a Report*Suffix,
// under its own field manager (ReportFieldManager), so replicas never
// overwrite each other and a replica's apply drops the keys it no longer
// sets. The operator reads the keys (ParseReports), composes the Gateway's
// Programmed condition from them and the pods' readiness, and removes the
// keys of pods that no longer exist.
const (
	// ReportAppliedSuffix: the hash of the config nginx serves now.
	ReportAppliedSuffix = ".applied-hash"
	// ReportRejectedHashSuffix and ReportRejectedMessageSuffix: the hash of
	// the last config that failed validation or reload, and nginx's error
	// text. Both are gone once a later config is applied.
	ReportRejectedHashSuffix    = ".rejected-hash"
	ReportRejectedMessageSuffix = ".rejected-message"
	// ReportFieldManagerPrefix + the pod name is a replica's field manager
	// on the report ConfigMap.
	ReportFieldManagerPrefix = SidecarFieldManager + "-"
)

// PodReport is one replica's entry in the report ConfigMap.
type PodReport struct {
	AppliedHash     string
	RejectedHash    string
	RejectedMessage string
}

// ReportFieldManager is the server-side-apply field manager under which
// the sidecar of pod writes its keys (at most 128 characters, as the API
// server requires; pod names of Deployments are at most 63).
func ReportFieldManager(pod string) string {
	m := ReportFieldManagerPrefix + pod
	if len(m) > 128 {
		m = m[:128]
	}
	return m
}

// Data is the report's keys for pod; empty fields have no key.
func (r PodReport) Data(pod string) map[string]string {
	data := map[string]string{}
	for suffix, v := range map[string]string{
		ReportAppliedSuffix:         r.AppliedHash,
		ReportRejectedHashSuffix:    r.RejectedHash,
		ReportRejectedMessageSuffix: r.RejectedMessage,
	} {
		if v != "" {
			data[pod+suffix] = v
		}
	}
	return data
}

// ParseReports reads a report ConfigMap's data: the report of each pod
// that has a key. Keys of another shape are ignored.
func ParseReports(data map[string]string) map[string]PodReport {
	out := map[string]PodReport{}
	for k, v := range data {
		pod, suffix := splitReportKey(k)
		if pod == "" {
			continue
		}
		r := out[pod]
		switch suffix {
		case ReportAppliedSuffix:
			r.AppliedHash = v
		case ReportRejectedHashSuffix:
			r.RejectedHash = v
		case ReportRejectedMessageSuffix:
			r.RejectedMessage = v
		}
		out[pod] = r
	}
	return out
}

// ReportPod is the pod a report key belongs to, "" for a key of another shape.
func ReportPod(key string) string {
	pod, _ := splitReportKey(key)
	return pod
}

func splitReportKey(key string) (pod, suffix string) {
	for _, suffix := range []string{ReportAppliedSuffix, ReportRejectedHashSuffix, ReportRejectedMessageSuffix} {
		if pod, ok := strings.CutSuffix(key, suffix); ok && pod != "" {
			return pod, suffix
		}
	}
	return "", ""
}

// TempDirs are the folders, relative to the prefix, that the rendered
// http.conf names in its *_temp_path directives. The sidecar creates them in
// every staged tree before `nginx -t`: nginx would otherwise create them
// 0700 for whoever runs first, and the sidecar's `nginx -t` runs as another
// user than nginx. operator/render's tests keep the list equal to the
// template's.
var TempDirs = []string{"client_body_temp", "proxy_temp", "fastcgi_temp", "uwsgi_temp", "scgi_temp"}
