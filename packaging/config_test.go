package packaging

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

const (
	installNamespace = "nginx-gateway-operator-system"
	namePrefix       = "nginx-gateway-operator-"
)

var testImages = bundlegen.Images{Operator: "registry.test/op:v9", Gateway: "registry.test/gw@sha256:" + strings.Repeat("ab", 32)}

// TestKustomizationsBuild builds every kustomization under config/ in-process
// and checks each yields the kinds it exists for.
func TestKustomizationsBuild(t *testing.T) {
	for _, tc := range []struct {
		dir       string
		wantKinds []string
	}{
		{"crd", []string{"CustomResourceDefinition"}},
		{"rbac", []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}},
		{"manager", []string{"Namespace", "Deployment"}},
		{"default", []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Role", "Service", "Deployment"}},
		{"samples", []string{"GatewayParameters", "GatewayClass", "Gateway", "HTTPRoute"}},
		{"prometheus", []string{"ServiceMonitor"}},
		{"network-policy", []string{"NetworkPolicy"}},
		{"monitoring", []string{"PodMonitor", "PrometheusRule", "ConfigMap"}},
		{"manifests", []string{"ClusterServiceVersion", "Deployment"}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			objs, err := bundlegen.Build(configDir(), tc.dir, bundlegen.Images{})
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]bool{}
			for _, o := range objs {
				kinds[o.GetKind()] = true
			}
			for _, k := range tc.wantKinds {
				if !kinds[k] {
					t.Errorf("no %s in config/%s (kinds: %v)", k, tc.dir, kinds)
				}
			}
		})
	}
}

func configDir() string { return filepath.Join(testenv.RepoRoot(), "config") }

// TestInstall checks config/default, the whole install, with images set as
// `make deploy IMG=... GATEWAY_IMG=...` sets them.
func TestInstall(t *testing.T) {
	objs, err := bundlegen.Build(configDir(), "default", testImages)
	if err != nil {
		t.Fatal(err)
	}
	var deployments []appsv1.Deployment
	serviceAccounts := map[string]bool{}
	roles := map[string]bool{}
	var services []corev1.Service
	for _, o := range objs {
		name := o.GetName()
		switch o.GetKind() {
		case "Namespace":
			if name != installNamespace {
				t.Errorf("Namespace %q, want %q", name, installNamespace)
			}
		case "CustomResourceDefinition":
			if !strings.HasSuffix(name, "."+v1alpha1.GroupVersion.Group) {
				t.Errorf("CRD %s is not ours: the Gateway API CRDs are a prerequisite", name)
			}
		default:
			if !strings.HasPrefix(name, namePrefix) {
				t.Errorf("%s %q lacks the name prefix %q", o.GetKind(), name, namePrefix)
			}
		}
		if ns := o.GetNamespace(); ns != "" && ns != installNamespace {
			t.Errorf("%s %q in namespace %q", o.GetKind(), name, ns)
		}
		switch o.GetKind() {
		case "Deployment":
			var d appsv1.Deployment
			mustConvert(t, o.Object, &d)
			deployments = append(deployments, d)
		case "ServiceAccount":
			serviceAccounts[name] = true
		case "Service":
			var s corev1.Service
			mustConvert(t, o.Object, &s)
			services = append(services, s)
		case "Role", "ClusterRole":
			roles[o.GetKind()+"/"+name] = true
			checkNoWildcards(t, o)
		}
	}
	for _, o := range objs {
		if k := o.GetKind(); k == "RoleBinding" || k == "ClusterRoleBinding" {
			var b rbacv1.RoleBinding
			mustConvert(t, o.Object, &b)
			if !roles[b.RoleRef.Kind+"/"+b.RoleRef.Name] {
				t.Errorf("%s %s refers to missing %s %s", k, b.Name, b.RoleRef.Kind, b.RoleRef.Name)
			}
			for _, s := range b.Subjects {
				if s.Kind != rbacv1.ServiceAccountKind || !serviceAccounts[s.Name] || s.Namespace != installNamespace {
					t.Errorf("%s %s binds %+v, not the operator's ServiceAccount", k, b.Name, s)
				}
			}
		}
	}
	if len(deployments) != 1 {
		t.Fatalf("%d Deployments, want the operator's", len(deployments))
	}
	d := deployments[0]
	checkOperatorPod(t, d.Spec.Template.Spec)
	if !serviceAccounts[d.Spec.Template.Spec.ServiceAccountName] {
		t.Errorf("serviceAccountName %q is not in the install", d.Spec.Template.Spec.ServiceAccountName)
	}
	if len(services) != 1 || services[0].Spec.Ports[0].Port != 8443 ||
		services[0].Spec.Ports[0].TargetPort.StrVal != "metrics" || !selects(services[0].Spec.Selector, d.Spec.Template.Labels) {
		t.Errorf("metrics Service %+v does not reach the operator's :8443", services)
	}
}

func checkOperatorPod(t *testing.T, pod corev1.PodSpec) {
	t.Helper()
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", pod.SecurityContext)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.Image != testImages.Operator {
		t.Errorf("image %q, want %q", c.Image, testImages.Operator)
	}
	if got := envValue(c.Env, "GATEWAY_IMG"); got != testImages.Gateway {
		t.Errorf("GATEWAY_IMG %q, want %q", got, testImages.Gateway)
	}
	wantArgs := []string{"--leader-elect", "--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--gateway-image=$(GATEWAY_IMG)"}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args %q, want %q", c.Args, wantArgs)
	}
	if !slices.Equal(c.Command, []string{"/operator"}) {
		t.Errorf("command %q, want the Dockerfile's /operator", c.Command)
	}
	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("container securityContext %+v: want a read-only root, no privilege escalation, all capabilities dropped", sc)
	}
	for _, rl := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if rl.Cpu().IsZero() || rl.Memory().IsZero() {
			t.Errorf("resources %+v: want CPU and memory requests and limits", c.Resources)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for probe, path := range map[*corev1.Probe]string{c.LivenessProbe: "/healthz", c.ReadinessProbe: "/readyz"} {
		if probe == nil || probe.HTTPGet == nil || probe.HTTPGet.Path != path || ports[probe.HTTPGet.Port.StrVal] != 8081 {
			t.Errorf("probe %+v: want GET %s on :8081", probe, path)
		}
	}
	if ports["metrics"] != 8443 {
		t.Errorf("ports %v: want metrics on 8443", ports)
	}
}

// checkNoWildcards fails on "*" in any rule of a Role or ClusterRole.
func checkNoWildcards(t *testing.T, role *unstructured.Unstructured) {
	t.Helper()
	var r rbacv1.ClusterRole
	mustConvert(t, role.Object, &r)
	for _, rule := range r.Rules {
		for _, list := range [][]string{rule.Verbs, rule.APIGroups, rule.Resources, rule.NonResourceURLs, rule.ResourceNames} {
			if slices.Contains(list, "*") {
				t.Errorf("%s %s grants a wildcard: %+v", role.GetKind(), role.GetName(), rule)
			}
		}
	}
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestSamplesFitTogether checks the samples form one working path:
// GatewayClass (our controller) → GatewayParameters, Gateway (HTTP :80) →
// class, HTTPRoute → Gateway and the echo Service of backend.yaml → its pods.
func TestSamplesFitTogether(t *testing.T) {
	objs, err := bundlegen.Build(configDir(), "samples", bundlegen.Images{})
	if err != nil {
		t.Fatal(err)
	}
	backend := decodeFile(t, filepath.Join(configDir(), "samples", "backend.yaml"))
	var (
		params  *unstructured.Unstructured
		class   gatewayv1.GatewayClass
		gateway gatewayv1.Gateway
		route   gatewayv1.HTTPRoute
		service corev1.Service
		deploy  appsv1.Deployment
	)
	for _, o := range append(objs, backend...) {
		switch o.GetKind() {
		case v1alpha1.Kind:
			params = o
		case "GatewayClass":
			mustConvert(t, o.Object, &class)
		case "Gateway":
			mustConvert(t, o.Object, &gateway)
		case "HTTPRoute":
			mustConvert(t, o.Object, &route)
		case "Service":
			mustConvert(t, o.Object, &service)
		case "Deployment":
			mustConvert(t, o.Object, &deploy)
		}
	}
	if params == nil {
		t.Fatal("no GatewayParameters sample")
	}
	if class.Spec.ControllerName != translate.ControllerName {
		t.Errorf("GatewayClass controllerName %q, want %q", class.Spec.ControllerName, translate.ControllerName)
	}
	ref := class.Spec.ParametersRef
	if ref == nil || string(ref.Group) != v1alpha1.GroupVersion.Group || string(ref.Kind) != v1alpha1.Kind ||
		ref.Name != params.GetName() || ref.Namespace == nil || string(*ref.Namespace) != params.GetNamespace() {
		t.Errorf("parametersRef %+v does not name GatewayParameters %s/%s", ref, params.GetNamespace(), params.GetName())
	}
	if string(gateway.Spec.GatewayClassName) != class.Name || len(gateway.Spec.Listeners) == 0 ||
		gateway.Spec.Listeners[0].Protocol != gatewayv1.HTTPProtocolType || gateway.Spec.Listeners[0].Port != 80 {
		t.Errorf("Gateway %+v: want an HTTP listener on port 80 of class %s", gateway.Spec, class.Name)
	}
	if len(route.Spec.ParentRefs) == 0 || string(route.Spec.ParentRefs[0].Name) != gateway.Name || route.Namespace != gateway.Namespace {
		t.Errorf("HTTPRoute parentRefs %+v do not name Gateway %s", route.Spec.ParentRefs, gateway.Name)
	}
	backendRef := route.Spec.Rules[0].BackendRefs[0]
	if string(backendRef.Name) != service.Name || service.Namespace != route.Namespace ||
		backendRef.Port == nil || *backendRef.Port != service.Spec.Ports[0].Port {
		t.Errorf("HTTPRoute backend %+v is not Service %s/%s port %d", backendRef, service.Namespace, service.Name, service.Spec.Ports[0].Port)
	}
	if !selects(service.Spec.Selector, deploy.Spec.Template.Labels) || service.Namespace != deploy.Namespace {
		t.Errorf("Service echo selects %v, the backend pods are labelled %v", service.Spec.Selector, deploy.Spec.Template.Labels)
	}
}

func decodeFile(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if err.Error() == "EOF" {
				return objs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}
