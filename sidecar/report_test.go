package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// sidecarUser is an API user bound in ns to the sidecar's Role only: the
// rules the operator grants a Gateway's sidecar (resources.SidecarRules).
func sidecarUser(t *testing.T, c client.Client, ns, gateway, service string) *rest.Config {
	t.Helper()
	ctx := context.Background()
	name := "nginx-gateway-sidecar"
	if err := c.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Rules: resources.SidecarRules(gateway, service, resources.ReportName(gateway), resources.EndpointsName(gateway))}); err != nil {
		t.Fatal(err)
	}
	user := "sidecar-" + ns
	if err := c.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: user}},
	}); err != nil {
		t.Fatal(err)
	}
	u, err := apiEnv.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Config()
}

// testGateway is the Gateway of kubeObjects.
const testGateway = "gw"

// kubeObjects creates the namespace, Pod, Gateway and report ConfigMap (as
// the operator does) a reporting sidecar needs, with names unique to the test.
func kubeObjects(t *testing.T, c client.Client, prefix string) (ns, pod, gateway string) {
	t.Helper()
	ctx := context.Background()
	ns = fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	pod, gateway = "gw-pod-0", testGateway
	if err := c.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: dataplane.NginxContainerName, Image: "gateway"},
			{Name: dataplane.SidecarContainerName, Image: "gateway"},
		}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Name: gateway, Namespace: ns},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: "nginx",
			Listeners:        []gatewayv1.Listener{{Name: "http", Port: 8080, Protocol: gatewayv1.HTTPProtocolType}},
		},
	}); err != nil {
		t.Fatal(err)
	}
	if err := c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: resources.ReportName(gateway), Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	return ns, pod, gateway
}

// reportingPod is a gateway pod whose sidecar reports to the API server as
// its own user, with the objects of kubeObjects.
func reportingPod(t *testing.T, prefix string) (p *gatewayPod, c client.Client, ns, pod, gateway string) {
	t.Helper()
	_, c = apiServer(t)
	ns, pod, gateway = kubeObjects(t, c, prefix)
	p = newPod(t)
	p.useAPIServer(sidecarUser(t, c, ns, gateway, "gw-nginx"), pod, ns, gateway, "")
	return p, c, ns, pod, gateway
}

// podReport is pod's entry in the report ConfigMap of testGateway.
func podReport(t *testing.T, c client.Client, ns, pod string) dataplane.PodReport {
	t.Helper()
	cm := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: resources.ReportName(testGateway)}, cm); err != nil {
		t.Fatal(err)
	}
	return dataplane.ParseReports(cm.Data)[pod]
}

// waitReport waits until the pod's report has exactly the applied and
// rejected hashes of want, and a rejected message containing
// want.RejectedMessage (none when that is empty).
func waitReport(t *testing.T, c client.Client, ns, pod string, want dataplane.PodReport) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "report of "+pod, func() error {
		got := podReport(t, c, ns, pod)
		if got.AppliedHash != want.AppliedHash || got.RejectedHash != want.RejectedHash {
			return fmt.Errorf("report %+v, want hashes of %+v", got, want)
		}
		if want.RejectedMessage == "" && got.RejectedMessage != "" {
			return fmt.Errorf("rejected message still set: %q", got.RejectedMessage)
		}
		if !strings.Contains(got.RejectedMessage, want.RejectedMessage) {
			return fmt.Errorf("rejected message %q does not contain %q", got.RejectedMessage, want.RejectedMessage)
		}
		return nil
	})
}

func waitEvent(t *testing.T, c client.Client, ns, gateway, reason, contains string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, reason+" event", func() error {
		var events corev1.EventList
		if err := c.List(context.Background(), &events, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range events.Items {
			if e.InvolvedObject.Kind == "Gateway" && e.InvolvedObject.Name == gateway && e.InvolvedObject.UID != "" &&
				e.Reason == reason && strings.Contains(e.Message, contains) {
				return nil
			}
		}
		return fmt.Errorf("no %s event on gateway %s containing %q among %d events", reason, gateway, contains, len(events.Items))
	})
}

// TestBadConfigRefused: a config nginx -t refuses never reaches nginx;
// nginx keeps serving the old one; the pod's report, an Event and the
// metrics say so; the next good config clears the rejection.
func TestBadConfigRefused(t *testing.T) {
	p, c, ns, pod, gw := reportingPod(t, "refused")
	backend := okBackend(t)
	cert := newCert(t)
	good := httpConfig(p.ip, backend, 1, cert, "")
	p.write(good)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: good.hash()})
	waitEvent(t, c, ns, gw, "ConfigApplied", good.hash())
	reloads := p.metric("reloads_total")

	bad := httpConfig(p.ip, backend, 2, cert, "    location /typo { retrun 200; }")
	p.write(bad)
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: good.hash(), RejectedHash: bad.hash(), RejectedMessage: `unknown directive "retrun" in routes.conf:`})
	waitEvent(t, c, ns, gw, "ConfigRejected", `unknown directive "retrun"`)
	if got := p.metric("validation_failures_total"); got != 1 {
		t.Errorf("validation failures: %v, want 1", got)
	}
	if got := p.metric("reloads_total"); got != reloads {
		t.Errorf("reloads went from %v to %v for a refused config", reloads, got)
	}
	if code, body, err := p.get("http", "/"); err != nil || body != "v=1" {
		t.Errorf("after the refused config nginx answers %d %q (%v), want v=1", code, body, err)
	}
	if hash, _ := p.appliedHash(); hash != good.hash() {
		t.Errorf("applied hash metric %q, want %q", hash, good.hash())
	}

	fixed := httpConfig(p.ip, backend, 3, cert, "")
	p.write(fixed)
	p.waitServed("/", "v=3")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: fixed.hash()})
}

// TestFailedReloadRollsBack: a config that passes nginx -t but that the
// nginx master cannot load (its listen address is taken) is detected from
// nginx's own message, the live tree goes back to the previous config,
// nginx keeps serving it, and the failure is reported.
func TestFailedReloadRollsBack(t *testing.T) {
	p, c, ns, pod, _ := reportingPod(t, "rollback")
	backend := okBackend(t)
	cert := newCert(t)
	good := httpConfig(p.ip, backend, 1, cert, "")
	p.write(good)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: good.hash()})

	taken, err := net.Listen("tcp", net.JoinHostPort(p.ip, "9090"))
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	unloadable := httpConfig(p.ip, backend, 2, cert, "}\nserver {\n    listen "+p.ip+":9090;\n    return 200 \"taken\";")
	p.write(unloadable)
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: good.hash(), RejectedHash: unloadable.hash(), RejectedMessage: "Address already in use"})
	if got := p.metric("reload_failures_total"); got != 1 {
		t.Errorf("reload failures: %v, want 1", got)
	}
	if got := p.metric("validation_failures_total"); got != 0 {
		t.Errorf("validation failures: %v, want 0 (nginx -t cannot see a taken port)", got)
	}
	if code, body, err := p.get("http", "/"); err != nil || body != "v=1" {
		t.Errorf("after the failed reload nginx answers %d %q (%v), want v=1", code, body, err)
	}
	live, err := filepathReadlink(p.run)
	if err != nil || !strings.HasSuffix(live, good.hash()) {
		t.Errorf("live -> %q (%v), want the previous config %s", live, err, good.hash())
	}
	msg := podReport(t, c, ns, pod).RejectedMessage
	if !strings.HasPrefix(msg, "[emerg] bind() to "+p.ip+":9090 failed") {
		t.Errorf("rejected-message %q, want nginx's message without time and pids", msg)
	}
	// nginx gave up on the new config: freeing the port now changes nothing.
	_, workers := p.nginxPids()
	taken.Close()
	time.Sleep(nginxproc.ErrorSettle + 500*time.Millisecond)
	if code, body, err := p.get("http", "/"); err != nil || body != "v=1" {
		t.Errorf("after the port was freed nginx answers %d %q (%v), want v=1", code, body, err)
	}
	if _, now := p.nginxPids(); !sameSet(workers, now) {
		t.Errorf("nginx workers changed from %v to %v without a reload", workers, now)
	}
}

func sameSet(a, b []int) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
