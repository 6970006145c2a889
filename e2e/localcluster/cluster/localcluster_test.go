package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

const echoImage = "gcr.io/k8s-staging-gateway-api/echo-basic:v20240412-v1.0.0-394-g40c666fd"

// TestLocalCluster runs plain workloads on a fresh local cluster: the
// conformance echo backend behind a LoadBalancer Service, kubectl logs, a
// ConfigMap volume update, restarts, deletion, and finally checks that
// stopping the cluster leaves nothing behind.
func TestLocalCluster(t *testing.T) {
	clustertest.RequireRoot(t)
	leftovers := makeLeftovers(t)
	c := clustertest.Start(t, cluster.Options{Images: testImages(t)})
	t.Run("a crashed run's leftovers are swept", func(t *testing.T) { leftovers.assertSwept(t) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	t.Run("echo-basic behind a LoadBalancer", func(t *testing.T) { testEchoLoadBalancer(ctx, t, c) })
	t.Run("ConfigMap volume update", func(t *testing.T) { testConfigMapVolume(ctx, t, c) })
	t.Run("crashing container restarts with back-off", func(t *testing.T) { testRestart(ctx, t, c) })
	t.Run("liveness probe restarts", func(t *testing.T) { testLiveness(ctx, t, c) })
	t.Run("SIGKILL after the grace period", func(t *testing.T) { testGracePeriod(ctx, t, c) })
	t.Run("Job runs to completion", func(t *testing.T) { testJob(ctx, t, c) })
	t.Run("UDP LoadBalancer", func(t *testing.T) { testUDPLoadBalancer(ctx, t, c) })
	t.Run("LoadBalancer honours and refuses requested addresses", func(t *testing.T) { testRequestedAddress(ctx, t, c) })
	t.Run("securityContext: users, groups, fsGroup, sysctls", func(t *testing.T) { testSecurityContext(ctx, t, c) })
}

func testEchoLoadBalancer(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	ns := "default"
	labels := map[string]string{"app": "echo"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "echo",
					Image: echoImage,
					Env: []corev1.EnvVar{
						{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
						{Name: "NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
					},
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000}},
					ReadinessProbe: &corev1.Probe{
						ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromString("http")}},
						PeriodSeconds: 1,
					},
					LivenessProbe: &corev1.Probe{
						ProbeHandler:        corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(3000)}},
						InitialDelaySeconds: 1,
						PeriodSeconds:       1,
					},
				}}},
			},
		},
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "echo", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Selector: labels,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(3000)}},
		},
	}
	if _, err := c.Client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	var pods []corev1.Pod
	clustertest.Eventually(t, 60*time.Second, "two ready echo pods", func() error {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return err
		}
		pods = nil
		for _, p := range list.Items {
			if clustertest.PodReady(&p) && p.DeletionTimestamp == nil {
				pods = append(pods, p)
			}
		}
		if len(pods) != 2 {
			return fmt.Errorf("%d of 2 ready", len(pods))
		}
		return nil
	})
	names := map[string]bool{}
	for _, p := range pods {
		names[p.Name] = true
		if rc := p.Status.ContainerStatuses[0].RestartCount; rc != 0 {
			t.Errorf("pod %s restarted %d times (its TCP liveness probe failed?)", p.Name, rc)
		}
		if !c.Network.Subnet.Contains(net.ParseIP(p.Status.PodIP)) {
			t.Errorf("pod %s has IP %q outside %s", p.Name, p.Status.PodIP, c.Network.Subnet)
		}
	}

	var lbIP string
	clustertest.Eventually(t, 30*time.Second, "a LoadBalancer address", func() error {
		s, err := c.Client.CoreV1().Services(ns).Get(ctx, "echo", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if len(s.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("no ingress yet")
		}
		lbIP = s.Status.LoadBalancer.Ingress[0].IP
		return nil
	})
	ip := net.ParseIP(lbIP).To4()
	if ip == nil || ip[3] < 200 || ip[3] > 250 || !c.Network.Subnet.Contains(ip) {
		t.Fatalf("LoadBalancer address %q is not in 198.18.0.200–250", lbIP)
	}

	// Through the LoadBalancer address: both replicas answer (round robin),
	// each with its own name from the downward API.
	// A new connection per request: the balancer picks a backend per connection.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	answered := map[string]bool{}
	clustertest.Eventually(t, 30*time.Second, "both pods answering through "+lbIP, func() error {
		resp, err := client.Get("http://" + lbIP + "/localcluster/echo")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d: %s", resp.StatusCode, body)
		}
		var echo struct{ Path, Namespace, Pod string }
		if err := json.Unmarshal(body, &echo); err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		if echo.Path != "/localcluster/echo" || echo.Namespace != ns || !names[echo.Pod] {
			t.Fatalf("unexpected echo: %s", body)
		}
		answered[echo.Pod] = true
		if len(answered) < 2 {
			return fmt.Errorf("answered so far: %v", answered)
		}
		return nil
	})

	// kubectl logs goes API server → the node agent's kubelet endpoint.
	for name := range names {
		out, err := clustertest.Kubectl(ctx, c, "logs", "-n", ns, name)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out, "Echoing back request made to /localcluster/echo") {
			t.Errorf("kubectl logs %s lacks the request log:\n%s", name, out)
		}
	}

	// Deleting a pod stops its process and removes the object; the
	// Deployment replaces it.
	victim := pods[0]
	pid := clustertest.ContainerPid(t, &victim, "echo")
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 40*time.Second, "deleted pod gone", func() error {
		_, err := getPod(ctx, c, ns, victim.Name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("process %d of the deleted pod still runs", pid)
	}
	clustertest.Eventually(t, 60*time.Second, "replacement pod ready", func() error {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=echo"})
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range list.Items {
			if clustertest.PodReady(&p) && p.Name != victim.Name {
				ready++
			}
		}
		if ready != 2 {
			return fmt.Errorf("%d of 2 ready", ready)
		}
		return nil
	})
}

func testConfigMapVolume(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	ns := "default"
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "greeting", Namespace: ns},
		Data:       map[string]string{"greeting": "hello"},
	}
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "reader", Namespace: ns, Labels: map[string]string{"role": "reader"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(10)),
			Containers: []corev1.Container{{
				Name:  "reader",
				Image: debianImage,
				// Prints the mounted file every 200 ms; says goodbye on SIGTERM.
				Command: []string{"/bin/sh", "-c",
					`trap 'echo stopping; exit 0' TERM; echo "ip=$POD_IP"; while true; do echo "greeting=$(cat /etc/greeting/greeting)"; sleep 0.2; done`},
				Env: []corev1.EnvVar{{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{
					FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}}},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "greeting", MountPath: "/etc/greeting", ReadOnly: true},
					{Name: "scratch", MountPath: "/var/run/scratch"},
					{Name: "podinfo", MountPath: "/etc/podinfo"},
				},
				LivenessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/etc/greeting/greeting"}}},
					PeriodSeconds: 1,
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "greeting", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "greeting"}}}},
				{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
					Items: []corev1.DownwardAPIVolumeFile{
						{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
						{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
					}}}},
			},
		},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var running *corev1.Pod
	clustertest.Eventually(t, 60*time.Second, "reader ready", func() error {
		p, err := getPod(ctx, c, ns, "reader")
		if err != nil {
			return err
		}
		if !clustertest.PodReady(p) {
			return fmt.Errorf("not ready: %+v", p.Status.ContainerStatuses)
		}
		running = p
		return nil
	})
	pid := clustertest.ContainerPid(t, running, "reader")
	clustertest.Eventually(t, 10*time.Second, "the env and the file in the logs", func() error {
		out, err := clustertest.Kubectl(ctx, c, "logs", "reader")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "ip="+running.Status.PodIP+"\n") || !strings.Contains(out, "greeting=hello") {
			return fmt.Errorf("logs so far:\n%s", out)
		}
		return nil
	})

	if rc := running.Status.ContainerStatuses[0].RestartCount; rc != 0 {
		t.Errorf("reader restarted %d times (its exec liveness probe failed?)", rc)
	}
	// Downward API volume, emptyDir and the pod's hostname, as the container sees them.
	for cmd, want := range map[string]string{
		"cat /etc/podinfo/name":                           "reader",
		"cat /etc/podinfo/labels":                         `role="reader"` + "\n",
		"touch /var/run/scratch/x && ls /var/run/scratch": "x\n",
		"hostname": "reader\n",
	} {
		if got, err := inContainer(pid, "sh", "-c", cmd); err != nil || got != want {
			t.Errorf("%s: %q (%v), want %q", cmd, got, err, want)
		}
	}
	// The pod reaches its bridge and nothing beyond (no default route).
	route, err := exec.Command("nsenter", "--target", strconv.Itoa(pid), "--net", "ip", "route", "get", "192.0.2.1").CombinedOutput()
	if err == nil || !strings.Contains(string(route), "unreachable") {
		t.Errorf("a pod has a route beyond its bridge: %v: %s", err, route)
	}
	// The kubelet's layout, as the container sees it.
	layout, err := inContainer(pid, "sh", "-c", "cd /etc/greeting && readlink ..data && readlink greeting && ls -a")
	if err != nil {
		t.Fatalf("%v: %s", err, layout)
	}
	lines := strings.Fields(layout)
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "..20") || lines[1] != "..data/greeting" {
		t.Fatalf("volume layout is not the kubelet's:\n%s", layout)
	}
	firstPayload := lines[0]

	// The kubelet re-syncs volumes when the pod changes: update the
	// ConfigMap, then touch the pod (as the operator does with its hash).
	cm.Data["greeting"] = "bonjour"
	if _, err := c.Client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"annotations":{"localcluster.test/revision":"2"}}}`)
	if _, err := c.Client.CoreV1().Pods(ns).Patch(ctx, "reader", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	// Well under the 60 s periodic sync: the pod update triggered it.
	clustertest.Eventually(t, 10*time.Second, "the new greeting in the container", func() error {
		out, err := inContainer(pid, "cat", "/etc/greeting/greeting")
		if err != nil || out != "bonjour" {
			return fmt.Errorf("%q %v", out, err)
		}
		return nil
	})
	layout, err = inContainer(pid, "sh", "-c", "cd /etc/greeting && readlink ..data && ls -a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(layout, firstPayload) || strings.Count(layout, "..20") != 2 {
		// Two: the readlink line and the one payload folder left.
		t.Errorf("old payload not replaced (was %s):\n%s", firstPayload, layout)
	}
	clustertest.Eventually(t, 10*time.Second, "the new greeting in the logs", func() error {
		out, err := clustertest.Kubectl(ctx, c, "logs", "reader", "--tail=1")
		if err != nil || !strings.Contains(out, "greeting=bonjour") {
			return fmt.Errorf("%q %v", out, err)
		}
		return nil
	})

	// Deletion: SIGTERM (the trap says goodbye), then the object goes.
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "reader", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "reader gone", func() error {
		_, err := getPod(ctx, c, ns, "reader")
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("process %d of the deleted pod still runs", pid)
	}
}

func testRestart(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	ns := "default"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "crasher", Namespace: ns},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(int64(1)),
			Containers: []corev1.Container{{
				Name: "crasher", Image: debianImage,
				Command: []string{"/bin/sh", "-c", "echo run; exit 3"},
			}},
		},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "two restarts with the last exit code", func() error {
		p, err := getPod(ctx, c, ns, "crasher")
		if err != nil {
			return err
		}
		if len(p.Status.ContainerStatuses) != 1 {
			return fmt.Errorf("no status yet")
		}
		cs := p.Status.ContainerStatuses[0]
		if cs.RestartCount < 2 || cs.LastTerminationState.Terminated == nil {
			return fmt.Errorf("%+v", cs)
		}
		if code := cs.LastTerminationState.Terminated.ExitCode; code != 3 {
			t.Fatalf("last exit code %d, want 3", code)
		}
		return nil
	})
	clustertest.Eventually(t, 10*time.Second, "Started and BackOff events", func() error {
		events, err := c.Client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=crasher"})
		if err != nil {
			return err
		}
		reasons := map[string]bool{}
		for _, e := range events.Items {
			reasons[e.Reason] = true
		}
		if !reasons["Started"] || !reasons["BackOff"] {
			return fmt.Errorf("event reasons %v", reasons)
		}
		return nil
	})
	out, err := clustertest.Kubectl(ctx, c, "logs", "crasher", "--previous")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(out) != "run" {
		t.Errorf("kubectl logs --previous: %q", out)
	}
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "crasher", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
}
