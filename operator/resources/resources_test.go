package resources

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

func TestName(t *testing.T) {
	long := strings.Repeat("a", 100)
	tests := []struct {
		gateway string
		want    string // empty: only check validity and uniqueness
	}{
		{gateway: "gw", want: "gw-nginx"},
		{gateway: "my-gateway", want: "my-gateway-nginx"},
		{gateway: strings.Repeat("a", 57), want: strings.Repeat("a", 57) + "-nginx"},
		{gateway: strings.Repeat("a", 58)},
		{gateway: long},
		{gateway: long + "b"},
		{gateway: "gw.example.com"},
		{gateway: "1gw"},
		{gateway: "a.b"},
		{gateway: "a-b"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := Name(tt.gateway)
		if tt.want != "" && got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.gateway, got, tt.want)
		}
		if errs := validation.IsDNS1035Label(got); len(errs) > 0 {
			t.Errorf("Name(%q) = %q is no DNS-1035 label: %v", tt.gateway, got, errs)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("Name(%q) = Name(%q) = %q", tt.gateway, other, got)
		}
		seen[got] = tt.gateway
		if Name(tt.gateway) != got {
			t.Errorf("Name(%q) is not deterministic", tt.gateway)
		}
	}
}

func TestLabelValue(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{in: "gw", want: "gw"},
		{in: strings.Repeat("x", 63), want: strings.Repeat("x", 63)},
		{in: strings.Repeat("x", 64)},
		{in: strings.Repeat("x", 61) + "..xyz"},
	}
	for _, tt := range tests {
		got := LabelValue(tt.in)
		if tt.want != "" && got != tt.want {
			t.Errorf("LabelValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if errs := validation.IsValidLabelValue(got); len(errs) > 0 {
			t.Errorf("LabelValue(%q) = %q is invalid: %v", tt.in, got, errs)
		}
	}
	if LabelValue(strings.Repeat("x", 64)) == LabelValue(strings.Repeat("x", 65)) {
		t.Error("distinct long values share a label value")
	}
}

func testInfra() model.Infrastructure {
	return model.Infrastructure{
		Replicas:              2,
		ServiceType:           corev1.ServiceTypeLoadBalancer,
		ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal,
		ServiceAnnotations:    map[string]string{"lb": "class", "shared": "params"},
		Labels:                map[string]string{"team": "a", dataplane.LabelManagedBy: "someone-else"},
		Annotations:           map[string]string{"note": "x", "shared": "gateway"},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")},
		},
		Ports: []model.ServicePort{
			{Name: "http-80", Port: 80, Protocol: corev1.ProtocolTCP},
			{Name: "https-443", Port: 443, Protocol: corev1.ProtocolTCP},
		},
	}
}

var testOwner = Owner{Namespace: "ns", Name: "gw", UID: "uid-1"}

func TestObjectsMetadata(t *testing.T) {
	set := Objects(testOwner, testInfra(), render.Files{}, Options{DefaultImage: "img:1"})
	for _, obj := range set.Objects() {
		kind := obj.GetObjectKind().GroupVersionKind().Kind
		wantName := "gw-nginx"
		if obj == client.Object(set.Report) {
			wantName = "gw-nginx-report"
		}
		if obj == client.Object(set.Endpoints) {
			wantName = "gw-nginx-endpoints"
		}
		if obj.GetName() != wantName || obj.GetNamespace() != "ns" {
			t.Errorf("%s is %s/%s", kind, obj.GetNamespace(), obj.GetName())
		}
		wantLabels := map[string]string{
			"team":                          "a",
			dataplane.LabelManagedBy:        dataplane.ManagedByValue,
			dataplane.LabelGatewayName:      "gw",
			dataplane.LabelGatewayNamespace: "ns",
		}
		if !reflect.DeepEqual(obj.GetLabels(), wantLabels) {
			t.Errorf("%s labels = %v, want %v", kind, obj.GetLabels(), wantLabels)
		}
		refs := obj.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "Gateway" || refs[0].Name != "gw" || refs[0].UID != "uid-1" ||
			refs[0].APIVersion != "gateway.networking.k8s.io/v1" || refs[0].Controller == nil || !*refs[0].Controller {
			t.Errorf("%s owner references = %+v", kind, refs)
		}
		wantAnnotations := map[string]string{"note": "x", "shared": "gateway"}
		if kind == "Service" {
			wantAnnotations["lb"] = "class"
		}
		if obj == client.Object(set.ConfigMap) {
			wantAnnotations[dataplane.AnnotationConfigHash] = ConfigHash(render.Files{})
		}
		if !reflect.DeepEqual(obj.GetAnnotations(), wantAnnotations) {
			t.Errorf("%s annotations = %v, want %v", kind, obj.GetAnnotations(), wantAnnotations)
		}
		if obj == client.Object(set.Deployment) {
			// The pods carry them too (GatewayInfrastructure), but not the
			// Service-only annotations of the parameters.
			tpl := set.Deployment.Spec.Template
			if !reflect.DeepEqual(tpl.Labels, wantLabels) {
				t.Errorf("pod template labels = %v, want %v", tpl.Labels, wantLabels)
			}
			if want := map[string]string{"note": "x", "shared": "gateway"}; !reflect.DeepEqual(tpl.Annotations, want) {
				t.Errorf("pod template annotations = %v, want %v", tpl.Annotations, want)
			}
		}
	}
	lastGood := LastGoodConfigMap(testOwner, testInfra(), "h", EncodedConfig{})
	if want := map[string]string{"note": "x", "shared": "gateway", dataplane.AnnotationConfigHash: "h"}; !reflect.DeepEqual(lastGood.Annotations, want) {
		t.Errorf("last-good ConfigMap annotations = %v, want %v", lastGood.Annotations, want)
	}
}

func TestObjectsFiles(t *testing.T) {
	files := render.Files{
		Config: map[string][]byte{"nginx.conf": []byte("events {}\n"), "blob": {0xff, 0xfe}},
		Secret: map[string][]byte{"default_cert.crt": []byte("C"), "default_cert.key": []byte("K")},
	}
	set := Objects(testOwner, testInfra(), files, Options{})
	// The Secret's hash goes with the config (dataplane.SecretsHashKey):
	// the sidecar applies a change once both volumes agree with it.
	wantData := map[string]string{"nginx.conf": "events {}\n", dataplane.SecretsHashKey: dataplane.Hash(files.Secret)}
	if got := set.ConfigMap.Data; !reflect.DeepEqual(got, wantData) {
		t.Errorf("ConfigMap data = %v, want %v", got, wantData)
	}
	if got := set.ConfigMap.BinaryData; !reflect.DeepEqual(got, map[string][]byte{"blob": {0xff, 0xfe}}) {
		t.Errorf("ConfigMap binaryData = %v", got)
	}
	if set.Secret.Type != corev1.SecretTypeOpaque || !reflect.DeepEqual(set.Secret.Data, files.Secret) {
		t.Errorf("Secret = %v %v", set.Secret.Type, set.Secret.Data)
	}
	merged := map[string][]byte{"nginx.conf": []byte("events {}\n"), "blob": {0xff, 0xfe}, "default_cert.crt": []byte("C"), "default_cert.key": []byte("K")}
	if got, want := ConfigHash(files), dataplane.Hash(merged); got != want {
		t.Errorf("ConfigHash = %s, want %s", got, want)
	}
	if ConfigHash(files) == ConfigHash(render.Files{Config: files.Config}) {
		t.Error("the Secret's files do not change the hash")
	}
	if got := set.ConfigMap.Annotations[dataplane.AnnotationConfigHash]; got != ConfigHash(files) {
		t.Errorf("the ConfigMap's config hash %s, want ConfigHash %s", got, ConfigHash(files))
	}
	// A hash the encoding carries (the pipeline's, computed once per
	// render) is taken as it is, not computed again.
	encoded := EncodeConfig(files.Config)
	encoded.Hash = "carried"
	if got := ObjectsEncoded(testOwner, testInfra(), files, encoded, Options{}).ConfigMap.Annotations[dataplane.AnnotationConfigHash]; got != "carried" {
		t.Errorf("the ConfigMap's config hash %q, want the encoding's %q", got, "carried")
	}
}

func TestObjectsService(t *testing.T) {
	tests := []struct {
		name       string
		infra      func(*model.Infrastructure)
		wantType   corev1.ServiceType
		wantPolicy corev1.ServiceExternalTrafficPolicy
		wantIP     string
	}{
		{name: "requested address", infra: func(i *model.Infrastructure) { i.LoadBalancerIP = "198.18.0.240" }, wantType: corev1.ServiceTypeLoadBalancer, wantPolicy: corev1.ServiceExternalTrafficPolicyLocal, wantIP: "198.18.0.240"},
		{name: "no requested address on a NodePort Service", infra: func(i *model.Infrastructure) {
			i.ServiceType, i.ExternalTrafficPolicy, i.LoadBalancerIP = corev1.ServiceTypeNodePort, corev1.ServiceExternalTrafficPolicyCluster, "198.18.0.240"
		}, wantType: corev1.ServiceTypeNodePort, wantPolicy: corev1.ServiceExternalTrafficPolicyCluster},
		{name: "load balancer", infra: func(*model.Infrastructure) {}, wantType: corev1.ServiceTypeLoadBalancer, wantPolicy: corev1.ServiceExternalTrafficPolicyLocal},
		{name: "cluster IP drops the traffic policy", infra: func(i *model.Infrastructure) { i.ServiceType = corev1.ServiceTypeClusterIP }, wantType: corev1.ServiceTypeClusterIP},
		{name: "empty type defaults to load balancer", infra: func(i *model.Infrastructure) { i.ServiceType = "" }, wantType: corev1.ServiceTypeLoadBalancer, wantPolicy: corev1.ServiceExternalTrafficPolicyLocal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infra := testInfra()
			tt.infra(&infra)
			svc := Objects(testOwner, infra, render.Files{}, Options{}).Service
			if svc.Spec.Type != tt.wantType || svc.Spec.ExternalTrafficPolicy != tt.wantPolicy {
				t.Errorf("type %s policy %s, want %s %s", svc.Spec.Type, svc.Spec.ExternalTrafficPolicy, tt.wantType, tt.wantPolicy)
			}
			if svc.Spec.LoadBalancerIP != tt.wantIP { //nolint:staticcheck // the field we set (docs/design.md)
				t.Errorf("loadBalancerIP %q, want %q", svc.Spec.LoadBalancerIP, tt.wantIP) //nolint:staticcheck
			}
			if len(svc.Spec.Ports) != 2 || svc.Spec.Ports[0].Port != 80 || svc.Spec.Ports[0].TargetPort.IntVal != 80 ||
				svc.Spec.Ports[1].Name != "https-443" || svc.Spec.Ports[1].Protocol != corev1.ProtocolTCP {
				t.Errorf("ports = %+v", svc.Spec.Ports)
			}
			if !reflect.DeepEqual(svc.Spec.Selector, SelectorLabels("ns", "gw")) {
				t.Errorf("selector = %v", svc.Spec.Selector)
			}
		})
	}
}

func TestObjectsDeployment(t *testing.T) {
	tests := []struct {
		name      string
		image     string
		wantImage string
	}{
		{name: "default image", wantImage: "default:1"},
		{name: "parameters image", image: "custom:2", wantImage: "custom:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			infra := testInfra()
			infra.Image = tt.image
			dep := Objects(testOwner, infra, render.Files{}, Options{DefaultImage: "default:1"}).Deployment
			if *dep.Spec.Replicas != 2 {
				t.Errorf("replicas = %d", *dep.Spec.Replicas)
			}
			if !reflect.DeepEqual(dep.Spec.Selector.MatchLabels, SelectorLabels("ns", "gw")) {
				t.Errorf("selector = %v", dep.Spec.Selector.MatchLabels)
			}
			tpl := dep.Spec.Template
			for k, v := range dep.Spec.Selector.MatchLabels {
				if tpl.Labels[k] != v {
					t.Errorf("pod label %s = %q, selector wants %q", k, tpl.Labels[k], v)
				}
			}
			if _, ok := tpl.Annotations[dataplane.AnnotationConfigHash]; ok {
				t.Error("the pod template carries the config hash: every config change would roll the pods")
			}
			pod := tpl.Spec
			if pod.ShareProcessNamespace == nil || !*pod.ShareProcessNamespace || pod.ServiceAccountName != "gw-nginx" {
				t.Errorf("shareProcessNamespace %v serviceAccount %q", pod.ShareProcessNamespace, pod.ServiceAccountName)
			}
			if len(pod.SecurityContext.Sysctls) != 1 || pod.SecurityContext.Sysctls[0].Name != "net.ipv4.ip_unprivileged_port_start" {
				t.Errorf("sysctls = %v", pod.SecurityContext.Sysctls)
			}
			if len(pod.Containers) != 2 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			nginx, sidecar := pod.Containers[0], pod.Containers[1]
			if nginx.Name != "nginx" || !reflect.DeepEqual(nginx.Command, []string{dataplane.SidecarBinary, "exec-nginx"}) {
				t.Errorf("nginx container %s %v", nginx.Name, nginx.Command)
			}
			if sidecar.Name != "sidecar" || !reflect.DeepEqual(sidecar.Command, []string{dataplane.SidecarBinary}) {
				t.Errorf("sidecar container %s %v", sidecar.Name, sidecar.Command)
			}
			if len(nginx.Ports) != 0 {
				t.Errorf("nginx ports = %v, want none: the pod template must not depend on the listeners", nginx.Ports)
			}
			if nginx.Resources.Requests.Cpu().String() != "100m" {
				t.Errorf("nginx resources = %v", nginx.Resources)
			}
			// nginx and the sidecar (which holds the token) are different
			// users in one group; each has its own nginx folders and /tmp.
			wantUser := map[string]int64{dataplane.NginxContainerName: 101, dataplane.SidecarContainerName: 102}
			ownFolders := map[string]map[string]string{}
			for _, c := range pod.Containers {
				if c.Image != tt.wantImage {
					t.Errorf("%s image = %q", c.Name, c.Image)
				}
				sc := c.SecurityContext
				if !*sc.RunAsNonRoot || *sc.RunAsUser != wantUser[c.Name] || *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem ||
					!reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
					t.Errorf("%s security context = %+v", c.Name, sc)
				}
				mounts := map[string]string{}
				for _, m := range c.VolumeMounts {
					mounts[m.MountPath] = m.Name
				}
				for _, path := range []string{dataplane.ConfigMountPath, dataplane.SecretMountPath, dataplane.RunPath} {
					if mounts[path] == "" {
						t.Errorf("%s has no mount at %s", c.Name, path)
					}
				}
				ownFolders[c.Name] = map[string]string{}
				for _, path := range []string{"/var/lib/nginx", "/var/log/nginx", "/tmp"} {
					ownFolders[c.Name][path] = mounts[path]
				}
			}
			if psc := pod.SecurityContext; *psc.RunAsGroup != 101 || *psc.FSGroup != 101 {
				t.Errorf("pod security context = %+v, want group and fsGroup 101", psc)
			}
			for path, nginxVolume := range ownFolders[dataplane.NginxContainerName] {
				if sidecarVolume := ownFolders[dataplane.SidecarContainerName][path]; nginxVolume == "" || sidecarVolume == "" || nginxVolume == sidecarVolume {
					t.Errorf("%s: nginx mounts %q, the sidecar %q: want one emptyDir each", path, nginxVolume, sidecarVolume)
				}
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range sidecar.Env {
				env[e.Name] = e
			}
			if env[dataplane.EnvPodName].ValueFrom.FieldRef.FieldPath != "metadata.name" ||
				env[dataplane.EnvPodNamespace].ValueFrom.FieldRef.FieldPath != "metadata.namespace" ||
				env[dataplane.EnvGatewayName].Value != "gw" || env[dataplane.EnvGatewayNamespace].Value != "ns" ||
				env[dataplane.EnvServiceName].Value != "gw-nginx" || env[dataplane.EnvReportConfigMap].Value != "gw-nginx-report" {
				t.Errorf("sidecar env = %+v", sidecar.Env)
			}
			if p := sidecar.ReadinessProbe.HTTPGet; p.Path != "/readyz" || p.Port.IntVal != dataplane.HealthPort {
				t.Errorf("readiness = %+v", p)
			}
			if p := sidecar.LivenessProbe.HTTPGet; p.Path != "/healthz" || p.Port.IntVal != dataplane.HealthPort {
				t.Errorf("liveness = %+v", p)
			}
			volumes := map[string]corev1.VolumeSource{}
			for _, v := range pod.Volumes {
				volumes[v.Name] = v.VolumeSource
			}
			// The API token is in the sidecar only, never in nginx's container.
			if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
				t.Error("automountServiceAccountToken is not false: the kubelet would mount the token in nginx's container")
			}
			for _, c := range pod.Containers {
				var tokenMount bool
				for _, m := range c.VolumeMounts {
					if m.Name == volumeAPIAccess {
						tokenMount = m.MountPath == "/var/run/secrets/kubernetes.io/serviceaccount" && m.ReadOnly
					}
				}
				if tokenMount != (c.Name == dataplane.SidecarContainerName) {
					t.Errorf("container %s mounts the API token: %v", c.Name, tokenMount)
				}
			}
			if p := volumes[volumeAPIAccess].Projected; p == nil || len(p.Sources) != 3 ||
				p.Sources[0].ServiceAccountToken == nil || p.Sources[0].ServiceAccountToken.Path != "token" ||
				p.Sources[1].ConfigMap == nil || p.Sources[1].ConfigMap.Name != "kube-root-ca.crt" ||
				p.Sources[2].DownwardAPI == nil || p.Sources[2].DownwardAPI.Items[0].FieldRef.FieldPath != "metadata.namespace" {
				t.Errorf("API access volume = %+v", volumes[volumeAPIAccess])
			}
			if volumes[volumeConfig].ConfigMap.Name != "gw-nginx" || volumes[volumeSecrets].Secret.SecretName != "gw-nginx" || volumes[volumeRun].EmptyDir == nil {
				t.Errorf("volumes = %+v", pod.Volumes)
			}
			// TLS keys: the nginx user (the fsGroup) reads them, others do not.
			if m := volumes[volumeSecrets].Secret.DefaultMode; m == nil || *m != 0o440 {
				t.Errorf("secret volume defaultMode = %v, want 0440", m)
			}
			for _, v := range pod.Volumes {
				if ed := v.EmptyDir; ed != nil && (ed.SizeLimit == nil || ed.SizeLimit.Sign() <= 0) {
					t.Errorf("emptyDir %s has no sizeLimit", v.Name)
				}
			}
			// The run folder holds three staged trees at the decompression bound.
			if limit := volumes[volumeRun].EmptyDir.SizeLimit; limit == nil || limit.Value() < 3*dataplane.MaxDecompressedConfigSize {
				t.Errorf("run sizeLimit %s is below three configs at the decompression bound", limit)
			}
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, lim := sidecar.Resources.Requests[r], sidecar.Resources.Limits[r]
				if req.IsZero() || lim.IsZero() || req.Cmp(lim) > 0 {
					t.Errorf("sidecar %s request %s limit %s", r, req.String(), lim.String())
				}
			}
			if lg := volumes[volumeLastGood].ConfigMap; lg == nil || lg.Name != "gw-nginx-last-good" || lg.Optional == nil || !*lg.Optional {
				t.Errorf("last-good volume = %+v", volumes[volumeLastGood])
			}
			if !slices.ContainsFunc(sidecar.VolumeMounts, func(m corev1.VolumeMount) bool {
				return m.Name == volumeLastGood && m.MountPath == dataplane.LastGoodMountPath && m.ReadOnly
			}) || slices.ContainsFunc(nginx.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == volumeLastGood }) {
				t.Errorf("last-good mounts: sidecar %+v, nginx %+v", sidecar.VolumeMounts, nginx.VolumeMounts)
			}
		})
	}
}

func TestObjectsRole(t *testing.T) {
	role := Objects(testOwner, testInfra(), render.Files{}, Options{}).Role
	var statusRule bool
	var granted []string
	for _, rule := range role.Rules {
		for _, res := range rule.Resources {
			for _, group := range rule.APIGroups {
				granted = append(granted, group+"/"+res)
			}
		}
		for _, verb := range rule.Verbs {
			if verb == "*" {
				t.Errorf("rule %+v grants every verb", rule)
			}
		}
		for _, res := range rule.Resources {
			switch res {
			case "gateways/status":
				statusRule = true
				if !reflect.DeepEqual(rule.ResourceNames, []string{"gw"}) || !reflect.DeepEqual(rule.Verbs, []string{"get", "patch"}) {
					t.Errorf("gateways/status rule = %+v", rule)
				}
			case "gateways", "services":
				if len(rule.ResourceNames) != 1 {
					t.Errorf("%s rule is not limited to one object: %+v", res, rule)
				}
			case "configmaps":
				// An apply to the report ConfigMap; a read of the endpoints
				// ConfigMap (watched by name). Nothing else.
				report := reflect.DeepEqual(rule.ResourceNames, []string{"gw-nginx-report"}) && reflect.DeepEqual(rule.Verbs, []string{"patch"})
				endpoints := reflect.DeepEqual(rule.ResourceNames, []string{"gw-nginx-endpoints"}) && reflect.DeepEqual(rule.Verbs, []string{"get", "list", "watch"})
				if !report && !endpoints {
					t.Errorf("configmaps rule = %+v", rule)
				}
			case "pods":
				t.Errorf("the sidecar may touch pods: %+v", rule)
			}
		}
	}
	if !statusRule {
		t.Error("no gateways/status rule")
	}
	// Every replica writes the addresses, without an election: no leases.
	// Reports go to the report ConfigMap: no pods.
	slices.Sort(granted)
	want := []string{"/configmaps", "/configmaps", "/events", "/services", "events.k8s.io/events", "gateway.networking.k8s.io/gateways", "gateway.networking.k8s.io/gateways/status"}
	if !slices.Equal(granted, want) {
		t.Errorf("the Role grants %v, want exactly %v", granted, want)
	}
	binding := Objects(testOwner, testInfra(), render.Files{}, Options{}).RoleBinding
	if binding.RoleRef.Name != "gw-nginx" || binding.Subjects[0].Name != "gw-nginx" || binding.Subjects[0].Namespace != "ns" {
		t.Errorf("binding = %+v", binding)
	}
}

// TestLastGoodConfigMap: the config files of an applied config, encoded
// like the Gateway's ConfigMap, owned by the Gateway, with the config's hash.
func TestLastGoodConfigMap(t *testing.T) {
	files := render.Files{Config: map[string][]byte{"nginx.conf": []byte("events {}\n")}, Secret: map[string][]byte{"a.key": []byte("k")}}
	cm := LastGoodConfigMap(testOwner, testInfra(), ConfigHash(files), EncodeConfig(files.Config))
	if cm.Name != LastGoodName(testOwner.Name) || cm.Namespace != testOwner.Namespace || len(cm.OwnerReferences) != 1 || cm.OwnerReferences[0].UID != testOwner.UID {
		t.Errorf("metadata = %+v", cm.ObjectMeta)
	}
	if cm.Annotations[dataplane.AnnotationConfigHash] != ConfigHash(files) {
		t.Errorf("hash annotation = %q, want %q", cm.Annotations[dataplane.AnnotationConfigHash], ConfigHash(files))
	}
	want := Objects(testOwner, testInfra(), files, Options{}).ConfigMap
	// Without dataplane.SecretsHashKey: a fallback is applied with whatever Secret is mounted.
	if !reflect.DeepEqual(cm.Data, withoutSecretsHash(want.Data)) || !reflect.DeepEqual(cm.BinaryData, want.BinaryData) || cm.Labels[dataplane.LabelManagedBy] != dataplane.ManagedByValue {
		t.Errorf("content %+v / %+v, want that of the Gateway's ConfigMap %+v", cm.Data, cm.BinaryData, want.Data)
	}
	if _, leaked := cm.Data["a.key"]; leaked {
		t.Error("a Secret file is in the last-good ConfigMap")
	}
}

// TestEndpointsData: one key per upstream, sorted lines, "" for an upstream
// without endpoints; the same endpoints in another order give the same data.
func TestEndpointsData(t *testing.T) {
	got := EndpointsData(map[string][]model.Endpoint{
		"default_echo_80":  {{Address: "10.0.0.2", Port: 3000}, {Address: "fd00::1", Port: 3000}, {Address: "10.0.0.1", Port: 3000}},
		"default_empty_80": {},
	})
	want := map[string]string{
		"default_echo_80":  "10.0.0.1:3000\n10.0.0.2:3000\n[fd00::1]:3000\n",
		"default_empty_80": "",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EndpointsData = %q, want %q", got, want)
	}
}
