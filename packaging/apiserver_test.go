package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestDeployOnAPIServer runs `make deploy` (kustomize and kubectl, as a user
// would) against a real kube-apiserver that has the Gateway API CRDs, checks
// every object of config/default is there with the chosen images, creates
// the samples and backend with strict field validation, and asks the API
// server's RBAC authorizer what the operator's ServiceAccount may do.
func TestDeployOnAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver and etcd, runs make deploy")
	}
	scheme := k8sruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	env, _, c, err := testenv.StartAPIServer(scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx := context.Background()
	assets, err := testenv.KubeAssets()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	// A copy, because `make deploy` runs `make manifests` first.
	repo := t.TempDir()
	if err := copyRepo(testenv.RepoRoot(), repo); err != nil {
		t.Fatal(err)
	}
	deploy := exec.Command("make", "-s", "--no-print-directory", "deploy",
		"IMG="+testImages.Operator, "GATEWAY_IMG="+testImages.Gateway,
		"KUBECTL="+filepath.Join(assets, "kubectl"),
		"LOCALBIN="+filepath.Join(testenv.RepoRoot(), "bin")) // tools are cached in the checkout's bin/
	deploy.Dir = repo
	deploy.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	if out, err := deploy.CombinedOutput(); err != nil {
		t.Fatalf("make deploy: %v\n%s", err, out)
	}

	install, err := bundlegen.Build(configDir(), "default", testImages)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range install {
		got := want.DeepCopy()
		if err := c.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Errorf("after make deploy, %s %s/%s: %v", want.GetKind(), want.GetNamespace(), want.GetName(), err)
		}
	}
	var d appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: installNamespace, Name: namePrefix + "controller-manager"}, &d); err != nil {
		t.Fatal(err)
	}
	if c := d.Spec.Template.Spec.Containers[0]; c.Image != testImages.Operator || envValue(c.Env, "GATEWAY_IMG") != testImages.Gateway {
		t.Errorf("deployed image %q, GATEWAY_IMG %q; want %q, %q", c.Image, envValue(c.Env, "GATEWAY_IMG"), testImages.Operator, testImages.Gateway)
	}

	samples, err := bundlegen.Build(configDir(), "samples", bundlegen.Images{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range append(samples, decodeFile(t, filepath.Join(configDir(), "samples", "backend.yaml"))...) {
		if err := c.Create(ctx, o, client.FieldValidation("Strict")); err != nil {
			t.Errorf("creating sample %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
	}

	sa := "system:serviceaccount:" + installNamespace + ":" + namePrefix + "controller-manager"
	for _, tc := range []struct {
		verb, group, resource, subresource, namespace string
		allowed                                       bool
	}{
		{"create", "coordination.k8s.io", "leases", "", installNamespace, true},
		{"update", "coordination.k8s.io", "leases", "", installNamespace, true},
		{"create", "", "events", "", installNamespace, true},
		{"create", "authentication.k8s.io", "tokenreviews", "", "", true},
		{"create", "authorization.k8s.io", "subjectaccessreviews", "", "", true},
		{"watch", "gateway.networking.k8s.io", "httproutes", "", "", true},
		{"patch", "gateway.networking.k8s.io", "gateways", "status", "some-namespace", true},
		{"list", "gateway.nginx-operator.dev", "gatewayparameters", "", "", true},
		{"delete", "gateway.networking.k8s.io", "gateways", "", "some-namespace", false},
		{"create", "apiextensions.k8s.io", "customresourcedefinitions", "", "", false},
		{"update", "gateway.nginx-operator.dev", "gatewayparameters", "", "some-namespace", false},
	} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + installNamespace, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Verb: tc.verb, Group: tc.group, Resource: tc.resource, Subresource: tc.subresource, Namespace: tc.namespace,
			},
		}}
		if err := c.Create(ctx, sar); err != nil {
			t.Fatal(err)
		}
		if sar.Status.Allowed != tc.allowed {
			t.Errorf("%s %s.%s/%s in %q: allowed=%v, want %v (%s)", tc.verb, tc.resource, tc.group, tc.subresource,
				tc.namespace, sar.Status.Allowed, tc.allowed, sar.Status.Reason)
		}
	}
}
