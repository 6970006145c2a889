package plugin

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
)

// TestExplainCommand runs `explain` against a real API server holding the
// objects of plugin/explain/testdata/shop plus an HTTPS listener whose
// certificate Secret does not exist (the plugin never reads Secrets; the
// listener's ResolvedRefs decides): as cluster admin, then as a user bound
// to config/plugin/explain_reader_role.yaml in the namespace only.
func TestExplainCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install, v1alpha1.AddToScheme} {
		must(t, add(scheme))
	}
	env, _, k8s, err := testenv.StartAPIServer(scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	in, _, err := rendercmd.ReadInput([]string{filepath.Join("explain", "testdata", "shop")})
	must(t, err)
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}))
	var objects []client.Object
	for i := range in.GatewayClasses {
		objects = append(objects, &in.GatewayClasses[i])
	}
	for i := range in.Services {
		objects = append(objects, &in.Services[i])
	}
	for i := range in.EndpointSlices {
		objects = append(objects, &in.EndpointSlices[i])
	}
	gw := in.Gateways[0]
	gw.Spec.Listeners = append(gw.Spec.Listeners, gatewayv1.Listener{Name: "https", Port: 443, Protocol: gatewayv1.HTTPSProtocolType,
		Hostname: ptrTo(gatewayv1.Hostname("secure.example.com")),
		TLS:      &gatewayv1.ListenerTLSConfig{CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "secure-cert"}}}})
	objects = append(objects, &gw)
	for i := range in.HTTPRoutes {
		objects = append(objects, in.HTTPRoutes[i])
	}
	secure := in.HTTPRoutes[0].DeepCopy()
	secure.ObjectMeta = metav1.ObjectMeta{Namespace: "shop", Name: "secure"}
	secure.Spec.ParentRefs = []gatewayv1.ParentReference{{Name: "web", SectionName: ptrTo(gatewayv1.SectionName("https"))}}
	objects = append(objects, secure)
	for _, o := range objects {
		o.SetResourceVersion("")
		o.SetCreationTimestamp(metav1.Time{})
		must(t, k8s.Create(ctx, o))
	}
	setResolvedRefs := func(status metav1.ConditionStatus) {
		var live gatewayv1.Gateway
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(&gw), &live))
		live.Status.Listeners = []gatewayv1.ListenerStatus{{Name: "https", SupportedKinds: []gatewayv1.RouteGroupKind{},
			Conditions: []metav1.Condition{{Type: "ResolvedRefs", Status: status, Reason: "ResolvedRefs", LastTransitionTime: metav1.Now()}}}}
		must(t, k8s.Status().Update(ctx, &live))
	}
	setResolvedRefs(metav1.ConditionTrue)
	admin := kubeconfig(t, env, envtest.User{Name: "admin", Groups: []string{"system:masters"}})

	explain := func(t *testing.T, kubeconfig string, args ...string) (string, string) {
		t.Helper()
		out, errOut, code := run(ctx, append([]string{"--kubeconfig", kubeconfig, "-n", "shop", "explain", "web"}, args...)...)
		if code != ExitOK {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		return out, errOut
	}
	wantAll := func(t *testing.T, out string, wants ...string) {
		t.Helper()
		for _, want := range wants {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	}

	t.Run("admin", func(t *testing.T) {
		out, _ := explain(t, admin, "--url", "http://shop.example.com/items/special")
		wantAll(t, out, "Route:       HTTPRoute shop/catalog rule 1", "10.0.2.21:3000", "HTTPRoute shop/typo          not attached")
		out, _ = explain(t, admin, "--url", "https://secure.example.com/items")
		wantAll(t, out, "Server:      port 443 host secure.example.com, listener https", "Route:       HTTPRoute shop/secure rule 0")
	})

	t.Run("unresolved certificate", func(t *testing.T) {
		setResolvedRefs(metav1.ConditionFalse)
		t.Cleanup(func() { setResolvedRefs(metav1.ConditionTrue) })
		out, errOut := explain(t, admin, "--url", "https://secure.example.com/items")
		wantAll(t, out, "no listener of the Gateway serves HTTP on port 443", "listener https: its certificates are not resolved")
		_ = errOut
	})

	t.Run("read-only role in the namespace is enough", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "plugin", "explain_reader_role.yaml"))
		must(t, err)
		var role rbacv1.ClusterRole
		must(t, yaml.UnmarshalStrict(b, &role))
		must(t, k8s.Create(ctx, &role))
		must(t, k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "explain-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "explainer"}},
		}))
		reader := kubeconfig(t, env, envtest.User{Name: "explainer"})
		testenv.Eventually(t, 30*time.Second, "the reader binding in effect", func() error {
			_, errOut, code := run(ctx, "--kubeconfig", reader, "-n", "shop", "explain", "web", "--url", "http://x/")
			if code != ExitOK {
				return errorString(errOut)
			}
			return nil
		})
		out, _ := explain(t, reader, "--url", "https://secure.example.com/items", "-o", "yaml")
		wantAll(t, out, "route: shop/secure", "cannot read GatewayClass", "cannot list HTTPRoutes of every namespace", "cannot list Namespaces")
		for _, attrs := range []authorizationv1.ResourceAttributes{
			{Namespace: "shop", Verb: "get", Resource: "secrets"},
			{Namespace: "shop", Verb: "create", Resource: "pods", Subresource: "exec"},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "explainer", ResourceAttributes: &attrs}}
			must(t, k8s.Create(ctx, sar))
			if sar.Status.Allowed {
				t.Errorf("the explain reader may %s %s/%s", attrs.Verb, attrs.Resource, attrs.Subresource)
			}
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

type errorString string

func (e errorString) Error() string { return string(e) }
