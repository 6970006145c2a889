package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/status"
)

const (
	wantedHash = "3f2a9c1b0d4e5f60718293a4b5c6d7e8f90112233445566778899aabbccddeef0"
	olderHash  = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	nginxError = `nginx: [emerg] unknown directive "bogus" in /var/run/nginx-gateway/stage/x/http.conf:42`
)

// TestStatusCommand runs `status` in-process against a real API server
// holding what the operator and the sidecars would have written (no
// operator runs): as cluster admin, then as a user bound to
// config/plugin/status_reader_role.yaml in the namespace only.
func TestStatusCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("starts kube-apiserver")
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	env, _, k8s, err := testenv.StartAPIServer(scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	const ns = "prod"
	seed(ctx, t, k8s, ns)
	admin := kubeconfig(t, env, envtest.User{Name: "admin", Groups: []string{"system:masters"}})

	t.Run("all gateways of the namespace, table", func(t *testing.T) {
		out, errOut, code := run(ctx, "--kubeconfig", admin, "-n", ns, "status")
		if code != ExitNotInSync {
			t.Fatalf("exit %d, want %d\n%s%s", code, ExitNotInSync, out, errOut)
		}
		for _, want := range []string{
			"GATEWAY prod/web  NOT IN SYNC",
			"Programmed:     False (Pending): 2 of 3 ready replicas serve the current configuration",
			"Wanted config:  3f2a9c1b0d4e",
			"web-nginx-a  SYNCED     true   3f2a9c1b0d4e  3f2a9c1b0d4e",
			"web-nginx-b  STALE      true   0123456789ab  0123456789ab",
			// No sidecar runs here (no pod IP): the reload columns are empty.
			`web-nginx-c  REJECTED   true   3f2a9c1b0d4e  0123456789ab  -            -        -         -            nginx: [emerg] unknown directive "bogus"`,
			"web-nginx-d  NOT READY  false  3f2a9c1b0d4e  -",
			"HTTPRoute prod/bad  UnsupportedValue  nginx rejected this route",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(out, "other") || strings.Contains(out, "prod/good") {
			t.Errorf("shows another class's Gateway or an accepted route:\n%s", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		out, errOut, code := run(ctx, "--kubeconfig", admin, "-n", ns, "status", "web", "-o", "json")
		if code != ExitNotInSync {
			t.Fatalf("exit %d\n%s", code, errOut)
		}
		var list status.List
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		if len(list.Gateways) != 1 || list.InSync {
			t.Fatalf("%+v", list)
		}
		got := map[string]status.State{}
		for _, p := range list.Gateways[0].Pods {
			got[p.Name] = p.State
			if p.State == status.Rejected && p.RejectedMessage != nginxError {
				t.Errorf("rejected message %q, want nginx's whole message", p.RejectedMessage)
			}
		}
		want := map[string]status.State{"web-nginx-a": status.Synced, "web-nginx-b": status.Stale, "web-nginx-c": status.Rejected, "web-nginx-d": status.NotReady}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("states %v, want %v", got, want)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for args, want := range map[string]string{
			"status nope":    `Gateway "nope" not found in namespace "prod"`,
			"status other":   `Gateway prod/other is not served by nginx-gateway-operator: its GatewayClass "someone-else" has controllerName "example.com/other"`,
			"status -o wide": `unknown output format "wide"`,
		} {
			_, errOut, code := run(ctx, append([]string{"--kubeconfig", admin, "-n", ns}, strings.Fields(args)...)...)
			if code != ExitError || !strings.Contains(errOut, want) {
				t.Errorf("%s: exit %d, stderr %q, want %d and %q", args, code, errOut, ExitError, want)
			}
		}
	})

	t.Run("read-only role is enough", func(t *testing.T) {
		bindReader(ctx, t, k8s, ns, "reader")
		reader := kubeconfig(t, env, envtest.User{Name: "reader"})
		out, errOut, code := run(ctx, "--kubeconfig", reader, "-n", ns, "status")
		t.Logf("as reader:\n%s%s", out, errOut)
		if code != ExitNotInSync || !strings.Contains(out, "web-nginx-c  REJECTED") || !strings.Contains(out, "HTTPRoute prod/bad") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
		// Bound in the namespace only: no GatewayClasses, no routes of
		// other namespaces; the plugin says so and still tells ours
		// (report ConfigMap) from other classes' Gateways.
		if !strings.Contains(errOut, "cannot read GatewayClasses") || strings.Contains(out, "prod/other") {
			t.Errorf("stderr %q\n%s", errOut, out)
		}
		// And it holds no write or exec right.
		for _, attrs := range []authorizationv1.ResourceAttributes{
			{Namespace: ns, Verb: "create", Resource: "pods", Subresource: "exec"},
			{Namespace: ns, Verb: "get", Resource: "secrets"},
			{Namespace: ns, Verb: "patch", Resource: "configmaps"},
			{Namespace: ns, Verb: "patch", Group: "gateway.networking.k8s.io", Resource: "gateways", Subresource: "status"},
		} {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: "reader", ResourceAttributes: &attrs}}
			if err := k8s.Create(ctx, sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed {
				t.Errorf("reader may %s %s/%s", attrs.Verb, attrs.Resource, attrs.Subresource)
			}
		}
	})

	t.Run("in sync exits 0", func(t *testing.T) {
		syncAll(ctx, t, k8s, ns)
		out, errOut, code := run(ctx, "--kubeconfig", admin, "-n", ns, "status", "web")
		if code != ExitOK || !strings.Contains(out, "GATEWAY prod/web  IN SYNC") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

func run(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errOut bytes.Buffer
	code = Run(ctx, args, genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	return out.String(), errOut.String(), code
}

func kubeconfig(t *testing.T, env *envtest.Environment, user envtest.User) string {
	t.Helper()
	u, err := env.AddUser(user, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := u.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), user.Name+".kubeconfig")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed writes what the operator and sidecars write for Gateway web: its
// conditions, the hash on its ConfigMap and pods, one report per state,
// and a route the operator refused; and a Gateway of another class.
func seed(ctx context.Context, t *testing.T, k8s client.Client, ns string) {
	must(t, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	for name, controller := range map[string]gatewayv1.GatewayController{"ours": translate.ControllerName, "someone-else": "example.com/other"} {
		must(t, k8s.Create(ctx, &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: gatewayv1.GatewayClassSpec{ControllerName: controller}}))
	}
	for name, class := range map[string]string{"web": "ours", "other": "someone-else"} {
		gw := &gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class),
				Listeners: []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}}},
		}
		must(t, k8s.Create(ctx, gw))
		if name == "web" {
			setGatewayConditions(ctx, t, k8s, gw, metav1.ConditionFalse, "Pending", "2 of 3 ready replicas serve the current configuration")
		}
	}
	must(t, k8s.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.Name("web"), Annotations: map[string]string{dataplane.AnnotationConfigHash: wantedHash}},
		Data:       map[string]string{"nginx.conf": "events {}\n"},
	}))
	report := map[string]string{}
	for pod, r := range map[string]dataplane.PodReport{
		"web-nginx-a": {AppliedHash: wantedHash},
		"web-nginx-b": {AppliedHash: olderHash},
		"web-nginx-c": {AppliedHash: olderHash, RejectedHash: wantedHash, RejectedMessage: nginxError},
	} {
		for k, v := range r.Data(pod) {
			report[k] = v
		}
	}
	must(t, k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: resources.ReportName("web")}, Data: report}))
	for name, p := range map[string]struct {
		hash  string
		ready bool
	}{"web-nginx-a": {wantedHash, true}, "web-nginx-b": {olderHash, true}, "web-nginx-c": {wantedHash, true}, "web-nginx-d": {wantedHash, false}} {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: resources.SelectorLabels(ns, "web"),
				Annotations: map[string]string{dataplane.AnnotationConfigHash: p.hash}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "nginx", Image: "registry.example/gateway:test"}}},
		}
		must(t, k8s.Create(ctx, pod))
		ready := corev1.ConditionFalse
		if p.ready {
			ready = corev1.ConditionTrue
		}
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
		must(t, k8s.Status().Update(ctx, pod))
	}
	for name, accepted := range map[string]metav1.ConditionStatus{"good": metav1.ConditionTrue, "bad": metav1.ConditionFalse} {
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:       gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "web"}}}},
		}
		must(t, k8s.Create(ctx, route))
		reason, msg := "Accepted", "accepted"
		if accepted == metav1.ConditionFalse {
			reason, msg = "UnsupportedValue", "nginx rejected this route: "+nginxError
		}
		route.Status.Parents = []gatewayv1.RouteParentStatus{{
			ParentRef: gatewayv1.ParentReference{Name: "web"}, ControllerName: translate.ControllerName,
			Conditions: []metav1.Condition{{Type: "Accepted", Status: accepted, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}},
		}}
		must(t, k8s.Status().Update(ctx, route))
	}
}

func setGatewayConditions(ctx context.Context, t *testing.T, k8s client.Client, gw *gatewayv1.Gateway, programmed metav1.ConditionStatus, reason, msg string) {
	t.Helper()
	now := metav1.Now()
	gw.Status.Conditions = []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", LastTransitionTime: now},
		{Type: "Programmed", Status: programmed, Reason: reason, Message: msg, LastTransitionTime: now},
	}
	must(t, k8s.Status().Update(ctx, gw))
}

// syncAll makes every pod of web serve the wanted config, as a converged
// data plane would, and the Gateway Programmed.
func syncAll(ctx context.Context, t *testing.T, k8s client.Client, ns string) {
	var report corev1.ConfigMap
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.ReportName("web")}, &report))
	report.Data = map[string]string{}
	for _, name := range []string{"web-nginx-a", "web-nginx-b", "web-nginx-c", "web-nginx-d"} {
		report.Data[name+dataplane.ReportAppliedSuffix] = wantedHash
		var pod corev1.Pod
		must(t, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &pod))
		pod.Annotations[dataplane.AnnotationConfigHash] = wantedHash
		must(t, k8s.Update(ctx, &pod))
		pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
		must(t, k8s.Status().Update(ctx, &pod))
	}
	must(t, k8s.Update(ctx, &report))
	var gw gatewayv1.Gateway
	must(t, k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, &gw))
	setGatewayConditions(ctx, t, k8s, &gw, metav1.ConditionTrue, "Programmed", "")
}

// bindReader applies the documented ClusterRole and binds it to user in
// namespace ns only.
func bindReader(ctx context.Context, t *testing.T, k8s client.Client, ns, user string) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "plugin", "status_reader_role.yaml"))
	must(t, err)
	var role rbacv1.ClusterRole
	must(t, yaml.UnmarshalStrict(b, &role))
	must(t, k8s.Create(ctx, &role))
	must(t, k8s.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "status-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}))
	// The authorizer sees the binding through an informer.
	testenv.Eventually(t, 30*time.Second, "the reader binding in effect", func() error {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{User: user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: "list", Group: "gateway.networking.k8s.io", Resource: "gateways"}}}
		if err := k8s.Create(ctx, sar); err != nil {
			return err
		}
		if !sar.Status.Allowed {
			return fmt.Errorf("not allowed yet: %s", sar.Status.Reason)
		}
		return nil
	})
}
