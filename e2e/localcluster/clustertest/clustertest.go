// Package clustertest holds the test helpers shared by the local cluster's
// own tests and the tests that run a product on it: start a cluster that is
// checked to leave nothing behind, poll until a condition holds, run
// kubectl.
package clustertest

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

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

// RequireRoot skips the test unless it runs as root, which the cluster needs.
func RequireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the local cluster needs root (network namespaces, mounts, chroot)")
	}
}

// Start starts a cluster for the test with opts (restart back-off 1 s
// unless set) and checks, when the test ends, that stopping it left
// nothing behind. The cluster's log goes to a file a failed test prints,
// unless opts.Log is set.
func Start(t *testing.T, opts cluster.Options) *cluster.Cluster {
	t.Helper()
	var logFile *os.File
	if opts.Log == nil {
		f, err := os.CreateTemp(t.TempDir(), "cluster-*.log")
		if err != nil {
			t.Fatal(err)
		}
		logFile, opts.Log = f, f
	}
	printLog := func() {
		if logFile != nil {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("cluster log:\n%s", data)
		}
	}
	if opts.RestartBackoff == 0 {
		opts.RestartBackoff = time.Second
	}
	// Long enough to wait for another package's cluster to stop.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	forwarding, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	began := time.Now()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		printLog()
		t.Fatalf("starting the cluster: %v", err)
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
			printLog()
		}
		if logFile != nil {
			_ = logFile.Close()
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

// Eventually calls check until it returns nil and fails the test with what
// and check's last error when it still fails after timeout. It polls soon
// after a first failure and backs off to pollCap, so that quick changes are
// seen quickly and long waits do not hammer the API server. It is the one
// poll helper of both modules (internal/testenv.Eventually calls it).
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := pollStart
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, pollCap)
	}
}

const (
	pollStart = 10 * time.Millisecond
	pollCap   = 100 * time.Millisecond
)

// PodReady reports whether the pod's Ready condition is True.
func PodReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// ContainerPid is the host pid of a running container's main process: the
// node agent ends the container ID with it ("localcluster://<pod>-<container>-<pid>").
func ContainerPid(t testing.TB, p *corev1.Pod, container string) int {
	t.Helper()
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == container && cs.State.Running != nil {
			pid, err := strconv.Atoi(cs.ContainerID[strings.LastIndexByte(cs.ContainerID, '-')+1:])
			if err != nil {
				t.Fatalf("container ID %q: %v", cs.ContainerID, err)
			}
			return pid
		}
	}
	t.Fatalf("container %s of %s is not running: %+v", container, p.Name, p.Status.ContainerStatuses)
	return 0
}

// Kubectl runs kubectl against the cluster and returns its output, or an
// error with the output.
func Kubectl(ctx context.Context, c *cluster.Cluster, args ...string) (string, error) {
	out, err := c.KubectlCmd(ctx, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
