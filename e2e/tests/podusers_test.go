package tests

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// testGatewayPodUsersAreSeparate: in a running gateway pod, nginx (master
// and workers) runs as uid 101 and the sidecar as uid 102. Code running as
// nginx's user cannot read the sidecar's API token through /proc (the pods
// of the local cluster share the host's /proc, as a pod with
// shareProcessNamespace shares its own), while the sidecar's user can (the
// path is right, so the refusal is the uid's doing). nginx buffers a large
// request body in the temp folders the sidecar staged for it.
func testGatewayPodUsersAreSeparate(t *testing.T, ctx context.Context, c *cluster.Cluster, url string) {
	selector := dataplane.LabelGatewayName + "=gateway"
	var pod *corev1.Pod
	clustertest.Eventually(t, 60*time.Second, "a ready gateway pod", func() error {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return err
		}
		for i := range pods.Items {
			if p := &pods.Items[i]; p.DeletionTimestamp == nil && clustertest.PodReady(p) {
				pod = p
				return nil
			}
		}
		return fmt.Errorf("none of %d pods ready", len(pods.Items))
	})
	nginxPid, sidecarPid := clustertest.ContainerPid(t, pod, dataplane.NginxContainerName), clustertest.ContainerPid(t, pod, dataplane.SidecarContainerName)

	nginxProcs := append([]int{nginxPid}, descendants(t, nginxPid)...)
	if len(nginxProcs) < 3 {
		t.Fatalf("nginx container's processes %v: want the supervisor, nginx's master and a worker", nginxProcs)
	}
	for _, pid := range nginxProcs {
		if uid, gid := procIDs(t, pid); uid != 101 || gid != 101 {
			t.Errorf("nginx container process %d runs as %d:%d, want 101:101", pid, uid, gid)
		}
	}
	if uid, gid := procIDs(t, sidecarPid); uid != 102 || gid != 101 {
		t.Errorf("sidecar process %d runs as %d:%d, want 102:101", sidecarPid, uid, gid)
	}

	// /var/run is an absolute symlink to /run in the image, which a path
	// through /proc/PID/root would resolve in the reader's root: name /run.
	token := fmt.Sprintf("/proc/%d/root/run/secrets/kubernetes.io/serviceaccount/token", sidecarPid)
	environ := fmt.Sprintf("/proc/%d/environ", sidecarPid)
	for _, path := range []string{token, environ} {
		if out, err := readAs(101, path); err == nil {
			t.Errorf("as nginx's user (101) %s is readable (%d bytes): the sidecar is not isolated", path, len(out))
		} else if !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "not permitted") {
			t.Errorf("as nginx's user (101) reading %s failed for another reason than permission: %v", path, err)
		}
		if out, err := readAs(102, path); err != nil || len(out) == 0 {
			t.Errorf("as the sidecar's user (102) %s: %v (%d bytes), want readable: the check above proves nothing", path, err, len(out))
		}
	}

	// 512 KiB is past nginx's client_body_buffer_size: the body goes
	// through a file in client_body_temp (the default client_max_body_size
	// is 1 MiB).
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Post(url, "application/octet-stream", bytes.NewReader(bytes.Repeat([]byte("x"), 512<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("POST of 512 KiB through the gateway: %d, want 200 (nginx could not buffer the body?)", resp.StatusCode)
	}
}

// descendants lists pid's children, their children and so on.
func descendants(t *testing.T, pid int) []int {
	t.Helper()
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		// Each thread has its own children list (a Go program forks from any thread).
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		if err != nil {
			t.Fatal(err)
		}
		for _, task := range tasks {
			raw, err := os.ReadFile(task)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range strings.Fields(string(raw)) {
				kid, _ := strconv.Atoi(f)
				out = append(out, kid)
				queue = append(queue, kid)
			}
		}
	}
	return out
}

// procIDs returns a process's real uid and gid from /proc/PID/status.
func procIDs(t *testing.T, pid int) (uid, gid int) {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "Uid:" {
			uid, _ = strconv.Atoi(f[1])
		}
		if len(f) > 1 && f[0] == "Gid:" {
			gid, _ = strconv.Atoi(f[1])
		}
	}
	return uid, gid
}

// readAs reads path as uid in the gateway pod's group 101, as a process of
// that pod would.
func readAs(uid uint32, path string) ([]byte, error) {
	cmd := exec.Command("cat", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: 101, Groups: []uint32{101}}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}
