package tests

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// debianImage runs its command in the nginx root filesystem (a Debian with
// a shell), for pods that need a shell rather than a particular program
// (cluster.DefaultImages maps it).
const debianImage = "localcluster/debian:test"

// startCluster starts a cluster for the test and checks, when the test
// ends, that stopping it left nothing behind.
func startCluster(t *testing.T, images []nodeagent.ImageRule) *cluster.Cluster {
	t.Helper()
	logs := &testenv.SyncBuffer{} // the cluster's log; a failed test prints it
	// Long enough to wait for another package's cluster to stop.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	forwarding, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	began := time.Now()
	c, err := cluster.Start(ctx, cluster.Options{Log: logs, Images: images, RestartBackoff: time.Second})
	if err != nil {
		t.Fatalf("starting the cluster: %v\n%s", err, logs)
	}
	t.Logf("cluster up in %s", time.Since(began).Round(10*time.Millisecond))
	stopListening := c.StopOnSignal()
	t.Cleanup(func() {
		stopListening()
		stateDir := c.Dir
		// Control-plane processes and every process in a pod's namespace.
		pids := append(controlPlanePids(t, stateDir), nodeagent.NetNSPids(c.Network)...)
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
		assertNothingLeft(t, c.Network, stateDir, pids)
		if now, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward"); string(now) != string(forwarding) {
			t.Errorf("net.ipv4.ip_forward changed from %q to %q", forwarding, now)
		}
		if t.Failed() {
			t.Logf("cluster log:\n%s", logs)
		}
	})
	return c
}

func controlPlanePids(t *testing.T, dir string) []int {
	data, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		t.Errorf("reading control-plane pids: %v", err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// assertNothingLeft checks that a stopped cluster left no network
// namespace, link, process, mount or folder.
func assertNothingLeft(t *testing.T, n nodeagent.NetworkConfig, stateDir string, pids []int) {
	t.Helper()
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), n.Prefix+"-") {
		t.Errorf("network namespaces left:\n%s", out)
	}
	out, _ = exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], n.Prefix) {
			t.Errorf("link left: %s", line)
		}
	}
	for _, pid := range pids {
		// A process of the cluster's still runs if its pid does and it is in
		// no network namespace we can name (or the pid was reused, rarely).
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(cmdline) > 0 {
			t.Errorf("process %d still runs: %s", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		cmdline, _ := os.ReadFile(p)
		if strings.Contains(string(cmdline), stateDir) {
			t.Errorf("process left: %s: %s", p, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), stateDir) || strings.Contains(string(mounts), "/run/netns/"+n.Prefix) {
		t.Errorf("mounts left:\n%s", mounts)
	}
	if _, err := os.Stat(stateDir); !os.IsNotExist(err) {
		t.Errorf("state folder %s left (%v)", stateDir, err)
	}
}

// eventually polls check every 200 ms until it returns nil or timeout
// passes, then fails with check's last error.
func eventually(t *testing.T, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// containerPid reads the process id the node agent puts at the end of a
// container ID ("localcluster://<pod>-<container>-<pid>").
func containerPid(t *testing.T, p *corev1.Pod, name string) int {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == name && cs.State.Running != nil {
			i := strings.LastIndexByte(cs.ContainerID, '-')
			pid, err := strconv.Atoi(cs.ContainerID[i+1:])
			if err != nil {
				t.Fatalf("container ID %q: %v", cs.ContainerID, err)
			}
			return pid
		}
	}
	t.Fatalf("container %s of %s is not running: %+v", name, p.Name, p.Status.ContainerStatuses)
	return 0
}

// inContainer runs a command in a container's mount and UTS namespaces and root.
func inContainer(pid int, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(pid), "--mount", "--uts", "--root", "--wd", "--"}, args...)...).CombinedOutput()
	return string(out), err
}

func kubectl(ctx context.Context, c *cluster.Cluster, args ...string) (string, error) {
	out, err := c.KubectlCmd(ctx, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func getPod(ctx context.Context, c *cluster.Cluster, ns, name string) (*corev1.Pod, error) {
	return c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}
