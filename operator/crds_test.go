package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/controller"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// countLines counts the lines of s that contain every one of parts.
func countLines(s string, parts ...string) int {
	n := 0
	for line := range strings.Lines(s) {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			n++
		}
	}
	return n
}

// missingCRDsLog is in the one error line logged per missing set.
const missingCRDsLog = "the operator needs these CustomResourceDefinitions"

// TestManagerWaitsForCRDs starts the operator process on an API server
// without any CRD: it must stay not ready naming the missing CRDs, log one
// error and record one Event for them, and start reconciling once they are
// installed, without a restart; a CRD deleted later makes it not ready
// again until it is back.
func TestManagerWaitsForCRDs(t *testing.T) {
	scheme, err := controller.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	assets, err := testenv.KubeAssets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, Scheme: scheme}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	k8s, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// The operator's own Pod, as the downward API would name it; nothing
	// runs it (envtest has no kubelet), it only receives the Events.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "operator-system"}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "operator-0"},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "manager", Image: "operator"}}},
	}
	for _, obj := range []client.Object{ns, pod} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	path := operatorKubeconfig(t, env, k8s)
	probes := freeAddress(t)
	logs := &testenv.SyncBuffer{}
	cmd := operatorCommand("--kubeconfig="+path, "--health-probe-bind-address="+probes,
		"--metrics-bind-address=0", "--zap-log-level=debug")
	cmd.Env = append(cmd.Env, "POD_NAME="+pod.Name, "POD_NAMESPACE="+pod.Namespace)
	cmd.Stdout, cmd.Stderr = logs, logs
	startOperator(t, cmd, logs)

	// Not ready, naming every missing CRD.
	readyz := "http://" + probes + "/readyz"
	allNames := make([]string, len(controller.RequiredCRDs))
	for i, crd := range controller.RequiredCRDs {
		allNames[i] = crd.Name()
	}
	testenv.Eventually(t, waitTimeout, "readyz names every missing CRD", func() error {
		return expectBody(readyz+"/"+controller.CRDReadyCheckName, http.StatusInternalServerError, allNames...)
	})
	if err := expectStatus(http.DefaultClient, readyz, http.StatusInternalServerError); err != nil {
		t.Error(err)
	}
	testenv.Eventually(t, waitTimeout, "Warning Event on the operator Pod", func() error {
		return expectEvent(ctx, k8s, pod, controller.ReasonCRDsMissing, allNames...)
	})

	// An unrelated CRD of the Gateway API group triggers rechecks without
	// changing the missing set: still one error line, one Event.
	standard, err := testenv.GatewayAPICRDDir("standard")
	if err != nil {
		t.Fatal(err)
	}
	installCRDs(t, cfg, filepath.Join(standard, "gateway.networking.k8s.io_tcproutes.yaml"))
	checksBefore := countLines(logs.String(), "checked the CustomResourceDefinitions")
	testenv.Eventually(t, waitTimeout, "rechecks after a CRD event", func() error {
		if n := countLines(logs.String(), "checked the CustomResourceDefinitions") - checksBefore; n < 3 {
			return fmt.Errorf("%d checks since the CRD event", n)
		}
		return nil
	})
	if n := countLines(logs.String(), missingCRDsLog); n != 1 {
		t.Errorf("%d error lines for a stable missing set, want 1", n)
	}
	if n := countLines(logs.String(), missingCRDsLog, "gatewayparameters.gateway.nginx-operator.dev"); n != 1 {
		t.Errorf("the error line does not name every missing CRD")
	}
	if n := countEvents(ctx, t, k8s, pod, controller.ReasonCRDsMissing); n != 1 {
		t.Errorf("%d %s Events, want 1", n, controller.ReasonCRDsMissing)
	}

	// Installing every CRD starts the reconciler in the running process.
	installCRDs(t, cfg, standard, filepath.Join(testenv.RepoRoot(), "config", "crd", "bases"))
	testenv.Eventually(t, waitTimeout, "ready once the CRDs are installed", func() error { return expectStatus(http.DefaultClient, readyz, http.StatusOK) })
	expectAccepted(t, k8s, "crds-installed")
	testenv.Eventually(t, waitTimeout, "Normal Event on the operator Pod", func() error {
		return expectEvent(ctx, k8s, pod, controller.ReasonCRDsInstalled)
	})
	// The missing set shrinking while the CRDs are installed is progress:
	// no more error lines or Warning Events.
	if n := countLines(logs.String(), missingCRDsLog); n != 1 {
		t.Errorf("%d error lines after installing the CRDs, want 1", n)
	}
	if n := countEvents(ctx, t, k8s, pod, controller.ReasonCRDsMissing); n != 1 {
		t.Errorf("%d %s Events after installing the CRDs, want 1", n, controller.ReasonCRDsMissing)
	}

	// Deleting a CRD: not ready again naming it, one more error line; back
	// to ready and reconciling once it is reinstalled.
	referenceGrants := filepath.Join(standard, "gateway.networking.k8s.io_referencegrants.yaml")
	errorLines := countLines(logs.String(), missingCRDsLog)
	if err := envtest.UninstallCRDs(cfg, envtest.CRDInstallOptions{Paths: []string{referenceGrants}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "readyz names the deleted CRD", func() error {
		return expectBody(readyz+"/"+controller.CRDReadyCheckName, http.StatusInternalServerError, "referencegrants.gateway.networking.k8s.io")
	})
	if body := readBody(t, readyz+"/"+controller.CRDReadyCheckName); strings.Contains(body, "gatewayclasses") {
		t.Errorf("readyz names CRDs that are installed: %q", body)
	}
	testenv.Eventually(t, waitTimeout, "the deleted CRD is gone", func() error {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		err := k8s.Get(ctx, client.ObjectKey{Name: "referencegrants.gateway.networking.k8s.io"}, crd)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there: %v", err)
	})
	if n := countLines(logs.String(), missingCRDsLog) - errorLines; n != 1 {
		t.Errorf("%d new error lines after deleting a CRD, want 1", n)
	}
	installCRDs(t, cfg, referenceGrants)
	testenv.Eventually(t, waitTimeout, "ready once the CRD is back", func() error { return expectStatus(http.DefaultClient, readyz, http.StatusOK) })
	expectAccepted(t, k8s, "crds-reinstalled")
	if strings.Contains(logs.String(), "running the manager") {
		t.Error("the manager stopped")
	}
}

// startOperator starts cmd and stops it when the test ends (interrupted,
// killed after 15s).
func startOperator(t *testing.T, cmd *exec.Cmd, logs fmt.Stringer) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if strings.Contains(logs.String(), "DATA RACE") {
			t.Error("the race detector reported a data race in the operator")
		}
		if t.Failed() {
			t.Logf("operator output:\n%s", logs.String())
		}
	})
}

func installCRDs(t *testing.T, cfg *rest.Config, paths ...string) {
	t.Helper()
	if _, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{Paths: paths, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
}

// expectAccepted creates a GatewayClass of ours and waits until the
// operator accepts it.
func expectAccepted(t *testing.T, k8s client.Client, name string) {
	t.Helper()
	gc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName},
	}
	if err := k8s.Create(context.Background(), gc); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, waitTimeout, "GatewayClass "+name+" accepted", func() error {
		got := &gatewayv1.GatewayClass{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(gc), got); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(got.Status.Conditions, string(gatewayv1.GatewayClassConditionStatusAccepted)) {
			return fmt.Errorf("conditions %+v", got.Status.Conditions)
		}
		return nil
	})
}

func readBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// expectBody checks url's status and that its body names every one of want.
func expectBody(url string, status int, want ...string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	return expectResponse(http.DefaultClient, req, status, want...)
}

// expectResponse sends req with c and checks the answer's status and that
// its body names every one of want.
func expectResponse(c *http.Client, req *http.Request, status int, want ...string) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s: %d %q, want %d", req.URL, resp.StatusCode, body, status)
	}
	for _, w := range want {
		if !bytes.Contains(body, []byte(w)) {
			return fmt.Errorf("%s: %q does not name %s", req.URL, body, w)
		}
	}
	return nil
}

// podEvents lists the Events with reason regarding pod.
func podEvents(ctx context.Context, k8s client.Client, pod *corev1.Pod, reason string) ([]eventsv1.Event, error) {
	var list eventsv1.EventList
	if err := k8s.List(ctx, &list, client.InNamespace(pod.Namespace)); err != nil {
		return nil, err
	}
	var found []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == "Pod" && e.Regarding.Name == pod.Name && e.Regarding.UID == pod.UID && e.Reason == reason {
			found = append(found, e)
		}
	}
	return found, nil
}

func expectEvent(ctx context.Context, k8s client.Client, pod *corev1.Pod, reason string, names ...string) error {
	found, err := podEvents(ctx, k8s, pod, reason)
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return fmt.Errorf("no %s Event on the pod", reason)
	}
	for _, name := range names {
		if !strings.Contains(found[0].Note, name) {
			return fmt.Errorf("Event note %q does not name %s", found[0].Note, name)
		}
	}
	return nil
}

func countEvents(ctx context.Context, t *testing.T, k8s client.Client, pod *corev1.Pod, reason string) int {
	t.Helper()
	found, err := podEvents(ctx, k8s, pod, reason)
	if err != nil {
		t.Fatal(err)
	}
	return len(found)
}

// TestDefaultGatewayImage keeps the operator's default gateway image equal
// to the Makefile's GATEWAY_IMG default.
func TestDefaultGatewayImage(t *testing.T) {
	cmd := exec.Command("make", "-s", "--no-print-directory", "print-bundle-flags")
	cmd.Dir = testenv.RepoRoot()
	for _, kv := range os.Environ() {
		// The defaults, not what this shell overrides.
		if !regexp.MustCompile(`^(GATEWAY_IMG|IMAGE_TAG_BASE|VERSION|MAKEFLAGS)=`).MatchString(kv) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make print-bundle-flags: %v", err)
	}
	m := regexp.MustCompile(`-gateway-img (\S+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no -gateway-img in %q", out)
	}
	if m[1] != defaultGatewayImage {
		t.Errorf("defaultGatewayImage %q, Makefile GATEWAY_IMG %q", defaultGatewayImage, m[1])
	}
}
