// Package testenv gives tests the real things this project tests against: a
// kube-apiserver with etcd (through controller-runtime's envtest) with the
// Gateway API and our CRDs installed, and nginx from the test root
// filesystem. Binaries are built once by the hack/ scripts and cached
// outside git; `make test` builds them before `go test` runs.
package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// RepoRoot is the repository's root folder: from this source file's path
// when it exists (go test, go run), else the first folder upwards from the
// working directory whose go.mod is this module's (a -trimpath binary such
// as bin/localcluster).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	if filepath.IsAbs(file) {
		if _, err := os.Stat(file); err == nil {
			return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(mod), "module "+modulePath+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

const modulePath = "github.com/nginx-gateway-operator/nginx-gateway-operator"

var (
	scriptOnce sync.Map // script name → *scriptResult
)

type scriptResult struct {
	once sync.Once
	out  string
	err  error
}

// runScript runs a hack/ script once per process and returns its last line.
func runScript(name string) (string, error) {
	v, _ := scriptOnce.LoadOrStore(name, &scriptResult{})
	r := v.(*scriptResult)
	r.once.Do(func() {
		cmd := exec.Command(filepath.Join(RepoRoot(), "hack", name))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			r.err = fmt.Errorf("hack/%s: %v: %s", name, err, stderr.String())
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		r.out = lines[len(lines)-1]
	})
	return r.out, r.err
}

// KubeAssets is the folder with etcd, kube-apiserver, kube-controller-manager
// and kubectl (KUBEBUILDER_ASSETS wins when set).
func KubeAssets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	return runScript("build-kube.sh")
}

// EchoBasic is the echo-basic binary (the Gateway API conformance backend)
// of hack/build-echo.sh (ECHO_BASIC wins when set).
func EchoBasic() (string, error) {
	if bin := os.Getenv("ECHO_BASIC"); bin != "" {
		return bin, nil
	}
	return runScript("build-echo.sh")
}

// CoreDNS is the coredns binary of hack/build-coredns.sh (the conformance
// suite's cluster DNS).
func CoreDNS() (string, error) {
	return runScript("build-coredns.sh")
}

// NginxRootfs is the folder of the Debian unstable root filesystem that has
// nginx >= 1.27.3 (NGINX_ROOTFS wins when set).
func NginxRootfs() (string, error) {
	if dir := os.Getenv("NGINX_ROOTFS"); dir != "" {
		return dir, nil
	}
	return runScript("nginx-rootfs.sh")
}

// GatewayAPICRDDir is the Gateway API module's own CRD folder for a channel
// ("standard" or "experimental").
func GatewayAPICRDDir(channel string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		return "", fmt.Errorf("locating sigs.k8s.io/gateway-api: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "config", "crd", channel), nil
}

// StartAPIServer starts etcd and kube-apiserver with the Gateway API CRDs of
// the experimental channel (a superset of standard) and our own CRDs, and
// stops them when the test binary's cleanup runs. Use it from TestMain or
// a test; the scheme must know every type the caller uses.
func StartAPIServer(scheme *k8sruntime.Scheme) (*envtest.Environment, *rest.Config, client.Client, error) {
	assets, err := KubeAssets()
	if err != nil {
		return nil, nil, nil, err
	}
	gatewayCRDs, err := GatewayAPICRDDir("experimental")
	if err != nil {
		return nil, nil, nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths: []string{
			gatewayCRDs,
			filepath.Join(RepoRoot(), "config", "crd", "bases"),
		},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("starting kube-apiserver and etcd from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, nil, nil, err
	}
	return env, cfg, c, nil
}

// NginxTest runs `nginx -t -p DIR/ -c nginx.conf` on a config tree with the
// nginx of the test root filesystem: the tree is copied into the root
// filesystem, checked there, and removed. It returns nginx's output on failure.
func NginxTest(dir string) error {
	_, err := nginxTest(dir, false)
	return err
}

// NginxTestUsage is NginxTest that also returns what the check cost the
// machine (the chroot and nginx process's resource usage: user and system
// CPU time, minor page faults, which do not depend on other load on the
// machine as wall time does).
func NginxTestUsage(dir string) (*syscall.Rusage, error) {
	return nginxTest(dir, false)
}

// NginxTestStrict is NginxTest that also fails when nginx warns (e.g.
// "conflicting server name"): a rendered config should never make nginx
// warn, since each warning names a directive that does not do what the
// model asked for.
func NginxTestStrict(dir string) error {
	_, err := nginxTest(dir, true)
	return err
}

func nginxTest(dir string, strict bool) (*syscall.Rusage, error) {
	rootfs, err := NginxRootfs()
	if err != nil {
		return nil, err
	}
	stage, inside, err := stageNginxTree(rootfs, dir)
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(stage)
	args := []string{rootfs, "nginx", "-t", "-p", inside, "-c", "nginx.conf"}
	if !strict {
		args = append(args, "-q") // errors only
	}
	cmd := exec.Command("chroot", args...)
	out, err := cmd.CombinedOutput()
	msg := strings.ReplaceAll(string(out), inside, "<prefix>/")
	if err != nil {
		return nil, fmt.Errorf("nginx -t: %v: %s", err, msg)
	}
	if strict {
		for _, level := range []string{"[warn]", "[emerg]", "[alert]"} {
			if strings.Contains(msg, level) {
				return nil, fmt.Errorf("nginx -t warns: %s", msg)
			}
		}
	}
	usage, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return usage, nil
}

// stageNginxTree copies a config tree into a new folder of the root
// filesystem's /tmp, for nginx run there with chroot, and creates the socket
// folder a config may listen in. It returns the folder and its path inside
// the root filesystem (with a trailing slash, as -p wants it); the caller
// removes the folder.
func stageNginxTree(rootfs, dir string) (stage, inside string, err error) {
	if os.Geteuid() != 0 {
		return "", "", fmt.Errorf("nginx -t runs nginx with chroot, which needs root")
	}
	if err := NginxSocketDir(rootfs); err != nil {
		return "", "", err
	}
	stage, err = os.MkdirTemp(filepath.Join(rootfs, "tmp"), "nginx-t-")
	if err != nil {
		return "", "", err
	}
	if err := os.CopyFS(stage, os.DirFS(dir)); err != nil {
		os.RemoveAll(stage)
		return "", "", err
	}
	return stage, "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/", nil
}

// NginxSocketDir creates, inside the nginx root filesystem, the folder of
// the unix sockets a rendered config may listen on (dataplane.SocketPath):
// nginx binds them, even for `nginx -t`. It runs mkdir in the root
// filesystem, whose /var/run is an absolute symlink.
func NginxSocketDir(rootfs string) error {
	if out, err := exec.Command("chroot", rootfs, "mkdir", "-p", dataplane.SocketPath).CombinedOutput(); err != nil {
		return fmt.Errorf("mkdir %s in the nginx root filesystem: %v: %s", dataplane.SocketPath, err, out)
	}
	return nil
}

// RequireNginxTest fails the test when NginxTest fails.
func RequireNginxTest(t testing.TB, dir string) {
	t.Helper()
	if err := NginxTest(dir); err != nil {
		t.Fatal(err)
	}
}
