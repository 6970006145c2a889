package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/controller"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// The test binary doubles as the operator binary: with runMainEnv set it
// runs main() with the arguments in argsEnv, so the tests exercise the real
// flag parsing and wiring in a separate process.
const (
	runMainEnv = "OPERATOR_TEST_RUN_MAIN"
	argsEnv    = "OPERATOR_TEST_ARGS"
)

// waitTimeout bounds every wait for the operator process.
const waitTimeout = 60 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Args = append([]string{"operator"}, strings.Split(os.Getenv(argsEnv), "\n")...)
		main()
		return
	}
	// envtest logs through controller-runtime's logger; the operator's own
	// output is what the tests read.
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func operatorCommand(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", argsEnv+"="+strings.Join(args, "\n"))
	return cmd
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestRenderSubcommandUsage(t *testing.T) {
	var stderr bytes.Buffer
	cmd := operatorCommand("render")
	cmd.Stderr = &stderr
	err := cmd.Run()
	exit, ok := err.(*exec.ExitError)
	if !ok || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "usage: operator render") {
		t.Errorf("operator render without -f: %v, stderr %q", err, stderr.String())
	}
}

// TestManagerBinary runs the manager process against a real API server,
// with only its generated RBAC and metrics_auth_role, and checks that it
// reconciles, serves its probes, and serves its metrics to a metrics-reader
// only.
func TestManagerBinary(t *testing.T) {
	env, k8s := startAPIServer(t)
	// The operator runs with exactly the ClusterRole `make manifests`
	// generates from the +kubebuilder:rbac markers: a missing verb fails
	// this test (including the ones the per-Gateway Role needs, which
	// Kubernetes lets the operator grant only if it holds them itself).
	path := operatorKubeconfig(t, env, k8s)
	// and, as config/rbac binds it, the role its metrics filter needs.
	operator := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}
	if err := testenv.BindConfigClusterRole(context.Background(), k8s, "metrics_auth_role.yaml", operator); err != nil {
		t.Fatal(err)
	}

	probes, metrics := freeAddress(t), freeAddress(t)
	logs := &testenv.SyncBuffer{}
	cmd := operatorCommand("--kubeconfig="+path, "--health-probe-bind-address="+probes,
		"--metrics-bind-address="+metrics, "--gateway-image=example/gateway:1")
	cmd.Stdout, cmd.Stderr = logs, logs
	startOperator(t, cmd, logs)

	const className = "binary-test"
	expectAccepted(t, k8s, className)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "binary-test"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "gw"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: className,
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}
	if err := k8s.Create(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns.Name, Name: resources.Name("gw")}
	for _, obj := range []client.Object{&rbacv1.Role{}, &rbacv1.RoleBinding{}, &appsv1.Deployment{}, &corev1.Service{}, &corev1.Secret{}} {
		testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T created by the operator process", obj), func() error { return k8s.Get(context.Background(), key, obj) })
	}
	dep := &appsv1.Deployment{}
	if err := k8s.Get(context.Background(), key, dep); err != nil {
		t.Fatal(err)
	}
	if image := dep.Spec.Template.Spec.Containers[0].Image; image != "example/gateway:1" {
		t.Errorf("image %q, want the --gateway-image", image)
	}
	testenv.Eventually(t, waitTimeout, "Gateway status written", func() error {
		got := &gatewayv1.Gateway{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(gw), got); err != nil {
			return err
		}
		c := meta.FindStatusCondition(got.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
		if c == nil || c.Reason != string(gatewayv1.GatewayReasonPending) {
			return fmt.Errorf("conditions %+v", got.Status.Conditions)
		}
		return nil
	})

	testenv.Eventually(t, waitTimeout, "readyz", func() error { return expectStatus(http.DefaultClient, "http://"+probes+"/readyz", http.StatusOK) })
	testenv.Eventually(t, waitTimeout, "healthz", func() error { return expectStatus(http.DefaultClient, "http://"+probes+"/healthz", http.StatusOK) })
	// Metrics are served over HTTPS to authenticated, authorized clients only.
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	testenv.Eventually(t, waitTimeout, "metrics refuse anonymous clients", func() error {
		return expectStatus(insecure, "https://"+metrics+"/metrics", http.StatusUnauthorized)
	})
	scraper := scraperToken(t, k8s)
	testenv.Eventually(t, waitTimeout, "metrics served to a metrics-reader", func() error {
		req, err := http.NewRequest(http.MethodGet, "https://"+metrics+"/metrics", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+scraper)
		return expectResponse(insecure, req, http.StatusOK, "controller_runtime_reconcile_total")
	})
}

// scraperToken is a token of a ServiceAccount bound to the metrics-reader
// ClusterRole (config/rbac), from the TokenRequest API as kubelet mounts it.
func scraperToken(t *testing.T, k8s client.Client) string {
	t.Helper()
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "prometheus"}}
	if err := k8s.Create(ctx, sa); err != nil {
		t.Fatal(err)
	}
	reader := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name}
	if err := testenv.BindConfigClusterRole(ctx, k8s, "metrics_reader_role.yaml", reader); err != nil {
		t.Fatal(err)
	}
	token := &authenticationv1.TokenRequest{}
	if err := k8s.SubResource("token").Create(ctx, sa, token); err != nil {
		t.Fatal(err)
	}
	return token.Status.Token
}

// startAPIServer starts envtest's API server for one test, stopped after it.
func startAPIServer(t *testing.T) (*envtest.Environment, client.Client) {
	t.Helper()
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	env, _, k8s, err := testenv.StartAPIServer(scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return env, k8s
}

// operatorUser is the user operatorKubeconfig runs the operator as.
const operatorUser = "nginx-gateway-operator"

// operatorKubeconfig writes a kubeconfig for a user that holds exactly the
// generated ClusterRole, as the operator's ServiceAccount does, and returns
// its path.
func operatorKubeconfig(t *testing.T, env *envtest.Environment, k8s client.Client) string {
	t.Helper()
	subject := rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: operatorUser}
	if err := testenv.BindConfigClusterRole(context.Background(), k8s, "role.yaml", subject); err != nil {
		t.Fatal(err)
	}
	user, err := env.AddUser(envtest.User{Name: operatorUser}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func expectStatus(c *http.Client, url string, want int) error {
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s: %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}
