package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

// Options configures a local cluster. The zero value works: every field has
// a default.
type Options struct {
	// StateDir holds certificates, etcd's data, logs and the pods' files. It
	// is removed on Stop. Default: a new os.TempDir()/localcluster-* folder.
	StateDir string
	// KubeBinDir has etcd, kube-apiserver, kube-controller-manager and
	// kubectl. Default: KUBEBUILDER_ASSETS (required when this is empty).
	KubeBinDir string
	// Network is the node agent's bridge and address ranges.
	Network *nodeagent.NetworkConfig
	// ServiceCIDR is the Service ClusterIP range (not routed anywhere).
	ServiceCIDR string
	// APIServerPort and KubeletPort listen on the bridge's gateway address.
	APIServerPort, KubeletPort int
	// NodeName is the single Node's name.
	NodeName string
	// Images maps images to local programs (the caller's programs; this
	// package knows none). A pod whose image no rule maps fails to start.
	Images []nodeagent.ImageRule
	// SyncPeriod and RestartBackoff tune the node agent (kubelet defaults).
	SyncPeriod, RestartBackoff time.Duration
	// Log receives progress and the node agent's log. Default: os.Stderr.
	Log io.Writer
}

// Cluster is a running local cluster: etcd, kube-apiserver,
// kube-controller-manager as processes and a node agent in this process.
type Cluster struct {
	// Dir is the state folder; Kubeconfig the admin kubeconfig in it.
	Dir, Kubeconfig string
	// Kubectl is the kubectl binary of the cached build.
	Kubectl string
	// RestConfig and Client are admin access for Go code.
	RestConfig *rest.Config
	Client     kubernetes.Interface
	// Network is the bridge the pods and LoadBalancer addresses live on.
	Network nodeagent.NetworkConfig
	// APIServerURL is the API server's URL, reachable from host and pods.
	APIServerURL string

	opts     Options
	log      io.Writer
	lock     *os.File
	procs    []*process
	agent    *nodeagent.Agent
	bridge   bool
	ownDir   bool
	stopOnce sync.Once
	stopErr  error
}

// lockPath serialises local clusters: they share the bridge and addresses.
const lockPath = "/run/lock/localcluster.lock"

// stateDirPrefix names the state folders, so a later start can sweep a
// crashed run's folder and processes.
const stateDirPrefix = "localcluster-"

// stateMarker marks a folder as a cluster's state folder: the sweep removes
// only folders that have it.
const stateMarker = ".localcluster-state"

// Start brings a cluster up: sweeps leftovers of a crashed run, creates the
// bridge, certificates, etcd, kube-apiserver, kube-controller-manager, and
// starts the node agent. On error everything started is stopped again.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the local cluster needs root (network namespaces, mounts, chroot)")
	}
	began := time.Now()
	opts = withDefaults(opts)
	c := &Cluster{opts: opts, log: opts.Log, Network: *opts.Network}
	defer func() {
		if err != nil {
			_ = c.Stop()
		}
	}()
	if err := c.acquireLock(ctx); err != nil {
		return nil, err
	}
	sweepLeftovers(c.Network, c.logf)

	if opts.KubeBinDir == "" {
		if opts.KubeBinDir, err = kubeBinDir(); err != nil {
			return nil, err
		}
	}
	c.Kubectl = filepath.Join(opts.KubeBinDir, "kubectl")
	c.opts = opts
	if opts.StateDir == "" {
		if c.Dir, err = os.MkdirTemp("", stateDirPrefix); err != nil {
			return nil, err
		}
		c.ownDir = true
	} else {
		c.Dir = opts.StateDir
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(filepath.Join(c.Dir, stateMarker), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return nil, err
	}
	logDir := filepath.Join(c.Dir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}

	if err := nodeagent.CreateBridge(c.Network); err != nil {
		return nil, err
	}
	c.bridge = true
	hostIP := c.Network.Gateway.String()
	p, err := newPKI(filepath.Join(c.Dir, "pki"), []net.IP{c.Network.Gateway, firstServiceIP(opts.ServiceCIDR)},
		c.Network.Gateway, opts.NodeName)
	if err != nil {
		return nil, err
	}
	c.APIServerURL = "https://" + net.JoinHostPort(hostIP, strconv.Itoa(opts.APIServerPort))
	c.Kubeconfig = filepath.Join(c.Dir, "kubeconfig")
	if err := writeKubeconfig(c.Kubeconfig, c.APIServerURL, p); err != nil {
		return nil, err
	}

	etcdPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	bin := func(name string) string { return filepath.Join(opts.KubeBinDir, name) }
	if err := c.startProc("etcd", bin("etcd"), logDir, etcdArgs(c.Dir, etcdPort, peerPort)...); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "etcd", 30*time.Second, func() error {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(etcdPort) + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	if err := c.startProc("kube-apiserver", bin("kube-apiserver"), logDir,
		apiServerArgs(p, etcdPort, hostIP, opts.APIServerPort, opts.ServiceCIDR)...); err != nil {
		return nil, err
	}
	if c.RestConfig, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return nil, err
	}
	c.RestConfig.QPS, c.RestConfig.Burst = 100, 200
	if c.Client, err = kubernetes.NewForConfig(c.RestConfig); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "kube-apiserver", 60*time.Second, func() error {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%v: %s", err, body)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	cmPort, err := freePort()
	if err != nil {
		return nil, err
	}
	if err := c.startProc("kube-controller-manager", bin("kube-controller-manager"), logDir,
		controllerManagerArgs(p, c.Kubeconfig, cmPort, opts.ServiceCIDR)...); err != nil {
		return nil, err
	}
	// Pods need the default ServiceAccount and the kube-root-ca.crt
	// ConfigMap that the controller-manager creates in each namespace.
	if err := c.waitFor(ctx, "kube-controller-manager", 60*time.Second, func() error {
		if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
			return err
		}
		_, err := c.Client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	}); err != nil {
		return nil, err
	}

	agentLog := c.logf
	c.agent, err = nodeagent.Start(nodeagent.Config{
		NodeName:        opts.NodeName,
		RestConfig:      c.RestConfig,
		Network:         c.Network,
		StateDir:        filepath.Join(c.Dir, "node"),
		APIServerHost:   hostIP,
		APIServerPort:   opts.APIServerPort,
		KubeletPort:     opts.KubeletPort,
		KubeletCertFile: p.KubeletCert,
		KubeletKeyFile:  p.KubeletKey,
		ClientCAFile:    p.CACert,
		Images:          opts.Images,
		SyncPeriod:      opts.SyncPeriod,
		RestartBackoff:  opts.RestartBackoff,
		Logf:            agentLog,
	})
	if err != nil {
		return nil, fmt.Errorf("node agent: %w", err)
	}
	c.logf("local cluster up in %s: KUBECONFIG=%s", time.Since(began).Round(100*time.Millisecond), c.Kubeconfig)
	return c, nil
}

func withDefaults(o Options) Options {
	if o.Network == nil {
		n := nodeagent.DefaultNetwork()
		o.Network = &n
	}
	if o.ServiceCIDR == "" {
		// Next to the bridge's subnet, inside the benchmarking range; nothing routes it.
		o.ServiceCIDR = "198.18.1.0/24"
	}
	if o.APIServerPort == 0 {
		o.APIServerPort = 6443
	}
	if o.KubeletPort == 0 {
		o.KubeletPort = 10250
	}
	if o.NodeName == "" {
		o.NodeName = "localcluster-node"
	}
	if o.Log == nil {
		o.Log = os.Stderr
	}
	return o
}

func firstServiceIP(cidr string) net.IP {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil
	}
	ip := n.IP.To4()
	return net.IPv4(ip[0], ip[1], ip[2], ip[3]+1)
}

func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "%s localcluster: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (c *Cluster) startProc(name, bin, logDir string, args ...string) error {
	p, err := startProcess(name, bin, logDir, args...)
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	// Recorded so a later start can kill it if this process dies uncleanly.
	f, err := os.OpenFile(filepath.Join(c.Dir, "pids"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "%d\n", p.cmd.Process.Pid)
	return err
}

// waitFor polls check until it succeeds, the deadline passes or the last
// started process exits (then its log's tail is the error).
func (c *Cluster) waitFor(ctx context.Context, what string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	last := c.procs[len(c.procs)-1]
	for {
		err := check()
		if err == nil {
			return nil
		}
		if last.exited() {
			return fmt.Errorf("%s exited: %s", last.name, tailFile(filepath.Join(c.Dir, "logs", last.name+".log"), 20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Stop stops the node agent (and every pod), the control plane, removes
// the bridge and the state folder and releases the lock. It is safe to call
// more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		if c.agent != nil {
			c.agent.Stop()
		}
		for i := len(c.procs) - 1; i >= 0; i-- {
			c.procs[i].stop(10 * time.Second)
		}
		var errs []error
		// Whatever a pod left behind, and the bridge.
		for _, what := range nodeagent.Sweep(c.Network) {
			if !strings.HasPrefix(what, "link "+c.Network.Bridge) {
				errs = append(errs, fmt.Errorf("left behind after stop: %s", what))
			}
		}
		if c.ownDir && c.Dir != "" {
			if err := os.RemoveAll(c.Dir); err != nil {
				errs = append(errs, err)
			}
		}
		if c.lock != nil {
			_ = syscall.Flock(int(c.lock.Fd()), syscall.LOCK_UN)
			c.lock.Close()
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

// acquireLock takes the host-wide lock, waiting (until ctx ends) while
// another cluster holds it: clusters share the bridge and its addresses.
func (c *Cluster) acquireLock(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Dir(lockPath), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	for waited := false; ; waited = true {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return fmt.Errorf("locking %s: %w", lockPath, err)
		}
		if !waited {
			holder, _ := os.ReadFile(lockPath)
			c.logf("another local cluster runs (pid %s); waiting for it to stop", strings.TrimSpace(string(holder)))
		}
		select {
		case <-ctx.Done():
			f.Close()
			return fmt.Errorf("waiting for another local cluster to stop: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	c.lock = f
	return nil
}

// sweepLeftovers removes what a crashed run left: control-plane processes
// recorded in old state folders, the folders, and the agent's namespaces,
// processes and links. It runs with the lock held, so none of it is live.
func sweepLeftovers(n nodeagent.NetworkConfig, logf func(string, ...any)) {
	var dirs []string
	candidates, _ := filepath.Glob(filepath.Join(os.TempDir(), stateDirPrefix+"*"))
	for _, dir := range candidates {
		if _, err := os.Stat(filepath.Join(dir, stateMarker)); err == nil {
			dirs = append(dirs, dir)
		}
	}
	for _, dir := range dirs {
		pids, _ := os.ReadFile(filepath.Join(dir, "pids"))
		for _, field := range strings.Fields(string(pids)) {
			pid, err := strconv.Atoi(field)
			if err != nil || pid <= 1 {
				continue
			}
			// Only if it still is that run's process (pids get reused).
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if strings.Contains(string(cmdline), dir) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				logf("sweep: killed pid %d of %s", pid, dir)
			}
		}
	}
	for _, what := range nodeagent.Sweep(n) {
		logf("sweep: removed %s", what)
	}
	for _, dir := range dirs {
		if err := os.RemoveAll(dir); err == nil {
			logf("sweep: removed %s", dir)
		}
	}
}

// kubeBinDir finds the Kubernetes binaries when Options.KubeBinDir is empty.
func kubeBinDir() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	return "", errors.New("no Kubernetes binaries: set Options.KubeBinDir or KUBEBUILDER_ASSETS " +
		"(etcd, kube-apiserver, kube-controller-manager, kubectl)")
}

// KubectlCmd is a kubectl command against the cluster.
func (c *Cluster) KubectlCmd(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.Kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	return cmd
}

// StopOnSignal stops the cluster and exits the process on SIGINT or
// SIGTERM, so that Ctrl-C in a test run leaves nothing behind either. The
// returned function stops listening.
func (c *Cluster) StopOnSignal() func() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			c.logf("%v: stopping the cluster", sig)
			if err := c.Stop(); err != nil {
				c.logf("stop: %v", err)
			}
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
