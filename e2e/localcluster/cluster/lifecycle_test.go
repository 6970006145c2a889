package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// shellPod is a pod with one Debian container running script.
func shellPod(name, script string, grace int64) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: ptr.To(grace),
			Containers: []corev1.Container{{
				Name: name, Image: debianImage, Command: []string{"/bin/sh", "-c", script},
			}},
		},
	}
}

func waitPodGone(ctx context.Context, t *testing.T, c *cluster.Cluster, name string, timeout time.Duration) {
	t.Helper()
	clustertest.Eventually(t, timeout, name+" gone", func() error {
		_, err := getPod(ctx, c, "default", name)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("still there (%v)", err)
	})
}

func waitPodReady(ctx context.Context, t *testing.T, c *cluster.Cluster, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	clustertest.Eventually(t, 60*time.Second, name+" ready", func() error {
		p, err := getPod(ctx, c, "default", name)
		if err != nil {
			return err
		}
		if !clustertest.PodReady(p) {
			return fmt.Errorf("not ready: %+v", p.Status.ContainerStatuses)
		}
		pod = p
		return nil
	})
	return pod
}

// testLiveness: a failing liveness probe restarts the container; a failing
// readiness probe takes the pod out of Ready without a restart.
func testLiveness(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	pod := shellPod("liveness", "touch /tmp/alive /tmp/ready; sleep 3; rm /tmp/alive; sleep 600", 1)
	pod.Spec.Containers[0].LivenessProbe = &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/alive"}}},
		PeriodSeconds:    1,
		FailureThreshold: 2,
	}
	pod.Spec.Containers[0].ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"test", "-f", "/tmp/ready"}}},
		PeriodSeconds: 1,
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(ctx, t, c, "liveness")
	clustertest.Eventually(t, 30*time.Second, "a restart by the liveness probe", func() error {
		p, err := getPod(ctx, c, "default", "liveness")
		if err != nil {
			return err
		}
		if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].RestartCount < 1 {
			return fmt.Errorf("%+v", cs)
		}
		return nil
	})
	if err := c.Client.CoreV1().Pods("default").Delete(ctx, "liveness", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodGone(ctx, t, c, "liveness", 20*time.Second)
}

// testGracePeriod: a container that ignores SIGTERM is killed once the
// grace period has passed, and not before.
func testGracePeriod(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	pod := shellPod("stubborn", "trap '' TERM; while true; do sleep 0.2; done", 3)
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	running := waitPodReady(ctx, t, c, "stubborn")
	pid := clustertest.ContainerPid(t, running, "stubborn")
	// Ready is the container started, not its shell past the trap: a busy
	// machine deleted it once before the trap ran (SIGTERM killed it at
	// once). The loop's first sleep, a child of the shell, comes after it.
	clustertest.Eventually(t, 10*time.Second, "the shell past its trap", func() error {
		children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(children)) == "" {
			return fmt.Errorf("process %d has no child yet", pid)
		}
		return nil
	})
	began := time.Now()
	if err := c.Client.CoreV1().Pods("default").Delete(ctx, "stubborn", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodGone(ctx, t, c, "stubborn", 20*time.Second)
	took := time.Since(began)
	if took < 3*time.Second || took > 10*time.Second {
		t.Errorf("deleting a pod that ignores SIGTERM took %s, want the 3 s grace period (+ a little)", took)
	}
	if _, err := inContainer(pid, "true"); err == nil {
		t.Errorf("process %d still runs", pid)
	}
}

// testJob: a Job's pod (restartPolicy Never) runs to completion, the pod
// reports Succeeded and the Job completes.
func testJob(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "once", Namespace: "default"},
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "once", Image: debianImage, Command: []string{"/bin/sh", "-c", "echo done"}}},
			}},
		},
	}
	if _, err := c.Client.BatchV1().Jobs("default").Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 60*time.Second, "job complete", func() error {
		j, err := c.Client.BatchV1().Jobs("default").Get(ctx, "once", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, cond := range j.Status.Conditions {
			if cond.Type == batchv1.JobComplete && cond.Status == corev1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("conditions %+v", j.Status.Conditions)
	})
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "job-name=once"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("job pods: %v %v", pods, err)
	}
	if phase := pods.Items[0].Status.Phase; phase != corev1.PodSucceeded {
		t.Errorf("job pod phase %s, want Succeeded", phase)
	}
	out, err := clustertest.Kubectl(ctx, c, "logs", pods.Items[0].Name)
	if err != nil || strings.TrimSpace(out) != "done" {
		t.Errorf("job pod logs %q %v", out, err)
	}
}

// testUDPLoadBalancer: a UDP Service of type LoadBalancer reaches the
// echo server's UDP mode.
func testUDPLoadBalancer(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "udp-echo", Namespace: "default", Labels: map[string]string{"app": "udp-echo"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "echo", Image: echoImage,
			Env: []corev1.EnvVar{
				{Name: "UDP_ECHO_SERVER", Value: "1"},
				{Name: "UDP_PORT", Value: "5353"},
				{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
			},
		}}},
	}
	if _, err := c.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "udp-echo", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, Selector: map[string]string{"app": "udp-echo"},
			Ports: []corev1.ServicePort{{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)}},
		},
	}
	if _, err := c.Client.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodReady(ctx, t, c, "udp-echo")
	clustertest.Eventually(t, 30*time.Second, "a UDP answer through the LoadBalancer", func() error {
		s, err := c.Client.CoreV1().Services("default").Get(ctx, "udp-echo", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) == 0 {
			return fmt.Errorf("no address yet (%v)", err)
		}
		conn, err := net.Dial("udp4", net.JoinHostPort(s.Status.LoadBalancer.Ingress[0].IP, "53"))
		if err != nil {
			return err
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("ping")); err != nil {
			return err
		}
		buf := make([]byte, 2048)
		n, err := conn.Read(buf)
		if err != nil {
			return err
		}
		var resp struct {
			Request string `json:"request"`
			Pod     string `json:"pod"`
		}
		if err := json.Unmarshal(buf[:n], &resp); err != nil {
			return fmt.Errorf("%v: %s", err, buf[:n])
		}
		if resp.Request != "ping" || resp.Pod != "udp-echo" {
			return fmt.Errorf("unexpected answer %s", buf[:n])
		}
		return nil
	})
}
