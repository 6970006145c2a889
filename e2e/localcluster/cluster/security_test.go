package cluster_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// testSecurityContext: a container runs as the securityContext's user and
// groups, without capabilities and with no_new_privs; volumes belong to the
// fsGroup (a 0440 Secret is readable through the group, an emptyDir is
// writable and its new files take the group); the pod's network sysctls are
// set in its own namespace only; runAsNonRoot without a user is refused.
func testSecurityContext(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	ns := "default"
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "key", Namespace: ns},
		Data:       map[string][]byte{"key": []byte("s3cret")},
	}
	if _, err := c.Client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	script := `echo "ids $(id -u) $(id -g) $(id -G)"
echo "secret $(cat /secret/key) $(stat -L -c '%a %g' /secret/key)"
touch /scratch/new && echo "scratch $(stat -c '%g' /scratch/new)"
echo "port_start $(cat /proc/sys/net/ipv4/ip_unprivileged_port_start)"
grep -E '^(CapEff|NoNewPrivs):' /proc/self/status | tr -s '\t' ' '
echo done
sleep 3600`
	pod := shellPod("secure", script, 1)
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsUser:          ptr.To[int64](1000),
		RunAsGroup:         ptr.To[int64](3000),
		FSGroup:            ptr.To[int64](2000),
		SupplementalGroups: []int64{4000},
		RunAsNonRoot:       ptr.To(true),
		Sysctls:            []corev1.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}},
	}
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false)}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
		{Name: "secret", MountPath: "/secret", ReadOnly: true},
		{Name: "scratch", MountPath: "/scratch"},
	}
	pod.Spec.Volumes = []corev1.Volume{
		{Name: "secret", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: "key", DefaultMode: ptr.To[int32](0o440)}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var logs string
	clustertest.Eventually(t, 60*time.Second, "the secure pod's report", func() error {
		out, err := clustertest.Kubectl(ctx, c, "logs", "secure")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "done\n") {
			return fmt.Errorf("logs so far:\n%s", out)
		}
		logs = out
		return nil
	})
	for _, want := range []string{
		"ids 1000 3000 3000 2000 4000\n",
		"secret s3cret 440 2000\n",
		"scratch 2000\n", // set-group-id folder: new files take the fsGroup
		"port_start 0\n",
		"CapEff: 0000000000000000\n",
		"NoNewPrivs: 1\n",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	// The sysctl is the pod's own: the host keeps its value.
	if host, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err != nil || string(host) == "0\n" {
		t.Errorf("host's ip_unprivileged_port_start = %q (%v): the pod's sysctl leaked to the host", host, err)
	}
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "secure", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	rootPod := shellPod("asroot", "sleep 3600", 1)
	rootPod.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true)}
	if _, err := c.Client.CoreV1().Pods(ns).Create(ctx, rootPod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, 30*time.Second, "runAsNonRoot without a user refused", func() error {
		p, err := getPod(ctx, c, ns, "asroot")
		if err != nil {
			return err
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && strings.Contains(w.Message, "runAsNonRoot") {
				return nil
			}
		}
		return fmt.Errorf("statuses: %+v", p.Status.ContainerStatuses)
	})
	if err := c.Client.CoreV1().Pods(ns).Delete(ctx, "asroot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPodGone(ctx, t, c, "secure", 30*time.Second)
	waitPodGone(ctx, t, c, "asroot", 30*time.Second)
}
