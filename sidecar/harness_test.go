package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// The tests run the real binary and the real nginx as in a gateway pod: both
// under `chroot ROOTFS` (the nginx root filesystem), each in a private mount
// namespace where /proc is mounted inside ROOTFS (the sidecar reads the
// nginx master's workers there). Mounts and the run folder are per-test
// folders under ROOTFS/tmp; all traffic is on a per-test 127.x.y.z address.

var (
	rootfs    string // host path of the nginx root filesystem
	binInside string // the sidecar binary, as seen inside the chroot

	apiOnce sync.Once
	apiEnv  *envtest.Environment
	apiCfg  *rest.Config
	apiCli  client.Client
	apiErr  error
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "sidecar tests run nginx with chroot and need root")
		return 1
	}
	var err error
	if rootfs, err = testenv.NginxRootfs(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "sidecar-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(binDir)
	bin := filepath.Join(binDir, "nginx-gateway-sidecar")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the sidecar: %v\n%s", err, out)
		return 1
	}
	binInside = inside(bin)
	code := m.Run()
	if apiEnv != nil {
		_ = apiEnv.Stop()
	}
	return code
}

// inside is a host path under rootfs as the chroot sees it.
func inside(hostPath string) string {
	return "/" + strings.TrimPrefix(strings.TrimPrefix(hostPath, rootfs), "/")
}

// apiServer starts (once per test binary) a real kube-apiserver.
func apiServer(t testing.TB) (*rest.Config, client.Client) {
	t.Helper()
	apiOnce.Do(func() {
		scheme := k8sruntime.NewScheme()
		for _, add := range []func(*k8sruntime.Scheme) error{corev1.AddToScheme, rbacv1.AddToScheme, gatewayv1.Install} {
			if apiErr = add(scheme); apiErr != nil {
				return
			}
		}
		apiEnv, apiCfg, apiCli, apiErr = testenv.StartAPIServer(scheme)
	})
	if apiErr != nil {
		t.Fatal(apiErr)
	}
	return apiCfg, apiCli
}

// gatewayPod is one simulated gateway pod: mounts, run folder, addresses.
type gatewayPod struct {
	t                         testing.TB
	dir                       string // host path, under rootfs/tmp
	configDir, secretDir, run string // host paths
	ip                        string // this pod's loopback address
	healthAddr, metricsAddr   string
	kubeconfig                string // inside path, "" for --no-kube
	env                       []string
	sidecar, nginx            *process
	httpClient                *http.Client
	extraSidecarArgs          []string
	extraNginxArgs            []string // exec-nginx flags
	nginxEnv                  []string // exec-nginx's environment
}

func newPod(t testing.TB) *gatewayPod {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "sidecar-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &gatewayPod{
		t: t, dir: dir,
		configDir: filepath.Join(dir, "config"),
		secretDir: filepath.Join(dir, "secrets"),
		run:       filepath.Join(dir, "run"),
		ip:        fmt.Sprintf("127.%d.%d.%d", 100+mrand.IntN(100), mrand.IntN(256), 1+mrand.IntN(254)),
	}
	p.healthAddr = net.JoinHostPort(p.ip, strconv.Itoa(dataplane.HealthPort))
	p.metricsAddr = net.JoinHostPort(p.ip, strconv.Itoa(dataplane.MetricsPort))
	for _, d := range []string{p.configDir, p.secretDir, p.run} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	p.httpClient = &http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // the test's own self-signed certificates
			MaxIdleConnsPerHost: 4,
		},
	}
	t.Cleanup(func() {
		p.stopAll()
		if t.Failed() {
			t.Logf("test folder kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return p
}

// useAPIServer makes the sidecar report to the test API server as pod podName.
func (p *gatewayPod) useAPIServer(cfg *rest.Config, podName, namespace, gateway, service string) {
	p.t.Helper()
	kc := clientcmdapi.NewConfig()
	kc.Clusters["test"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData}
	kc.AuthInfos["test"] = &clientcmdapi.AuthInfo{ClientCertificateData: cfg.CertData, ClientKeyData: cfg.KeyData, Token: cfg.BearerToken}
	kc.Contexts["test"] = &clientcmdapi.Context{Cluster: "test", AuthInfo: "test"}
	kc.CurrentContext = "test"
	path := filepath.Join(p.dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		p.t.Fatal(err)
	}
	p.kubeconfig = inside(path)
	p.env = []string{
		dataplane.EnvPodName + "=" + podName,
		dataplane.EnvPodNamespace + "=" + namespace,
		dataplane.EnvGatewayName + "=" + gateway,
		dataplane.EnvGatewayNamespace + "=" + namespace,
		dataplane.EnvServiceName + "=" + service,
		dataplane.EnvReportConfigMap + "=" + resources.ReportName(gateway),
	}
}

func (p *gatewayPod) pathArgs() []string {
	return []string{
		"--run-path", inside(p.run),
		"--live-path", inside(filepath.Join(p.run, "live")),
		"--pid-file", inside(filepath.Join(p.run, "nginx.pid")),
	}
}

func (p *gatewayPod) startSidecar() {
	p.t.Helper()
	args := append(p.pathArgs(),
		"--config-dir", inside(p.configDir),
		"--secret-dir", inside(p.secretDir),
		"--health-addr", p.healthAddr,
		"--metrics-addr", p.metricsAddr,
		"--endpoints-dns-addr", p.dnsAddr(),
		"--no-endpoints-addr", p.noEndpointsAddr(),
		"--closed-addr", net.JoinHostPort(p.ip, strconv.Itoa(dataplane.ClosedPort)),
	)
	if p.kubeconfig == "" {
		args = append(args, "--no-kube")
	} else {
		args = append(args, "--kubeconfig", p.kubeconfig)
	}
	args = append(args, p.extraSidecarArgs...)
	p.sidecar = startChrooted(p.t, "sidecar", append([]string{binInside}, args...), p.env)
}

func (p *gatewayPod) startNginx() {
	p.t.Helper()
	args := append([]string{binInside, "exec-nginx"}, p.pathArgs()...)
	args = append(args, p.extraNginxArgs...)
	args = append(args, p.extraNginxArgs...)
	p.nginx = startChrooted(p.t, "exec-nginx", args, p.nginxEnv)
}

// serve writes c, starts sidecar and nginx, and waits until nginx answers
// want on /.
func (p *gatewayPod) serve(c config, want string) {
	p.t.Helper()
	p.write(c)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", want)
}

func (p *gatewayPod) stopAll() {
	// nginx first: it drains (SIGQUIT) while the sidecar still answers.
	for _, proc := range []*process{p.nginx, p.sidecar} {
		if proc != nil {
			proc.stop(10 * time.Second)
		}
	}
}

// dnsAddr is where this pod's sidecar answers nginx's endpoint queries,
// noEndpointsAddr where its nginx may run the local 503 server: the
// contract's ports on the pod's own loopback address.
func (p *gatewayPod) dnsAddr() string {
	return net.JoinHostPort(p.ip, strconv.Itoa(dataplane.EndpointsDNSPort))
}

func (p *gatewayPod) noEndpointsAddr() string {
	return net.JoinHostPort(p.ip, strconv.Itoa(dataplane.NoEndpointsPort))
}

// write publishes one config version through both mounts, the kubelet's
// way: the ConfigMap (with dataplane.SecretsHashKey, as the operator
// writes it), then the Secret.
func (p *gatewayPod) write(c config) {
	p.t.Helper()
	configMap := maps.Clone(c.configFiles)
	configMap[dataplane.SecretsHashKey] = []byte(dataplane.Hash(c.secretFiles))
	if err := kubeletvolume.WriteKeys(p.configDir, configMap, 0o644); err != nil {
		p.t.Fatal(err)
	}
	if err := kubeletvolume.WriteKeys(p.secretDir, c.secretFiles, 0o600); err != nil {
		p.t.Fatal(err)
	}
}

// get fetches path from nginx over http (or https) and returns status and body.
func (p *gatewayPod) get(scheme, path string) (int, string, error) {
	port := 8080
	if scheme == "https" {
		port = 8443
	}
	resp, err := p.httpClient.Get(fmt.Sprintf("%s://%s:%d%s", scheme, p.ip, port, path))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// waitServed waits until nginx answers want on path over http.
func (p *gatewayPod) waitServed(path, want string) {
	p.t.Helper()
	testenv.Eventually(p.t, 20*time.Second, "served "+path, func() error {
		code, body, err := p.get("http", path)
		if err != nil {
			return err
		}
		if code != http.StatusOK || body != want {
			return fmt.Errorf("got %d %q, want 200 %q", code, body, want)
		}
		return nil
	})
}

// metrics reads the sidecar's /metrics.
func (p *gatewayPod) metrics() (map[string]*dto.MetricFamily, error) {
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// family is the sidecar's metric family nginx_gateway_sidecar_<name> (nil when absent).
func (p *gatewayPod) family(name string) *dto.MetricFamily {
	p.t.Helper()
	fams, err := p.metrics()
	if err != nil {
		p.t.Fatal(err)
	}
	return fams["nginx_gateway_sidecar_"+name]
}

// metric returns a counter's or gauge's value (0 when absent).
func (p *gatewayPod) metric(name string) float64 {
	p.t.Helper()
	fam := p.family(name)
	if fam == nil || len(fam.Metric) == 0 {
		return 0
	}
	m := fam.Metric[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return 0
}

// stepTimes is the sidecar's last_apply_step_timestamp_seconds by step
// (dataplane.StepMountChanged, …): when the last change reached each step.
func (p *gatewayPod) stepTimes() map[string]time.Time {
	p.t.Helper()
	out := map[string]time.Time{}
	fam := p.family("last_apply_step_timestamp_seconds")
	if fam == nil {
		return out
	}
	for _, m := range fam.Metric {
		for _, l := range m.Label {
			if l.GetName() == "step" {
				out[l.GetValue()] = time.Unix(0, int64(m.GetGauge().GetValue()*float64(time.Second)))
			}
		}
	}
	return out
}

// checkStepOrder checks that the last change's steps are in order: its
// files became visible before it was staged, and staged before reloaded
// (a later notification that brought nothing must not move a step).
func (p *gatewayPod) checkStepOrder() {
	p.t.Helper()
	steps := p.stepTimes()
	visible, staged, reloaded := steps[dataplane.StepMountChanged], steps[dataplane.StepValidated], steps[dataplane.StepReloaded]
	if visible.IsZero() || visible.After(staged) || staged.After(reloaded) {
		p.t.Errorf("steps out of order: mount_changed %s, validated %s, reloaded %s",
			visible.Format("15:04:05.000000"), staged.Format("15:04:05.000000"), reloaded.Format("15:04:05.000000"))
	}
}

// appliedHash is the hash label of applied_config_info ("" when none).
func (p *gatewayPod) appliedHash() (string, error) {
	fams, err := p.metrics()
	if err != nil {
		return "", err
	}
	fam := fams["nginx_gateway_sidecar_applied_config_info"]
	if fam == nil || len(fam.Metric) != 1 {
		return "", nil
	}
	for _, l := range fam.Metric[0].Label {
		if l.GetName() == "hash" {
			return l.GetValue(), nil
		}
	}
	return "", nil
}

func (p *gatewayPod) waitApplied(hash string) {
	p.t.Helper()
	testenv.Eventually(p.t, 20*time.Second, "applied hash", func() error {
		got, err := p.appliedHash()
		if err != nil {
			return err
		}
		if got != hash {
			return fmt.Errorf("applied hash %q, want %q", got, hash)
		}
		return nil
	})
}

// nginxPids returns the master's pid and its workers' pids.
func (p *gatewayPod) nginxPids() (int, []int) {
	p.t.Helper()
	master, ok := nginxproc.Master(filepath.Join(p.run, "nginx.pid"))
	if !ok {
		p.t.Fatal("nginx master not running")
	}
	kids, err := nginxproc.Children(master)
	if err != nil {
		p.t.Fatal(err)
	}
	var pids []int
	for pid := range kids {
		pids = append(pids, pid)
	}
	return master, pids
}

// process is a chrooted child of the test.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{}
}

// startChrooted runs args under chroot in a private mount namespace with
// /proc mounted inside the root filesystem, in its own process group so the
// test can stop everything it started.
func startChrooted(t testing.TB, name string, args, env []string) *process {
	t.Helper()
	script := `mount -t proc proc "$0/proc" && exec chroot "$0" "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, rootfs}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A process that outlives ours (an orphaned nginx worker) keeps the
	// output pipe open: Wait must still return once ours has exited.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if t.Failed() || os.Getenv("SIDECAR_TEST_LOGS") != "" {
			t.Logf("--- %s output ---\n%s", name, testenv.Tail(out.String(), 8000))
		}
	})
	return p
}

// stop sends SIGTERM, waits up to grace, then kills the whole process group.
func (p *process) stop(grace time.Duration) {
	select {
	case <-p.done:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // leftovers: orphaned nginx workers
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// eventually retries f until it succeeds or timeout passes.
// config is one version of the two mounts.
type config struct {
	configFiles, secretFiles map[string][]byte
}

func (c config) hash() string {
	merged := map[string][]byte{}
	maps.Copy(merged, c.configFiles)
	maps.Copy(merged, c.secretFiles)
	return dataplane.Hash(merged)
}

const mainConf = `worker_processes 2;
error_log stderr notice;
events { worker_connections 1024; }
http {
    access_log off;
    include routes.conf;
}
`

// httpConfig answers "v=<version>" on / over http and https and proxies
// /proxy to backend, with extra inside the server block.
func httpConfig(ip, backend string, version int, cert certPair, extra string) config {
	routes := fmt.Sprintf(`upstream backend {
    zone backend 64k;
    server %[3]s;
    keepalive 8;
}
server {
    listen %[1]s:8080;
    listen %[1]s:8443 ssl;
    ssl_certificate tls.crt;
    ssl_certificate_key tls.key;
    location / { return 200 "v=%[2]d"; }
    location /proxy {
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_pass http://backend;
    }
%[4]s
}
`, ip, version, backend, extra)
	return config{
		configFiles: map[string][]byte{"nginx.conf": []byte(mainConf), "routes.conf": []byte(routes)},
		secretFiles: map[string][]byte{"tls.crt": cert.cert, "tls.key": cert.key},
	}
}

type certPair struct {
	cert, key []byte
}

// newCert is a self-signed certificate for the test's https listener.
func newCert(t testing.TB) certPair {
	cert, key := testenv.SelfSignedCert(t, "gateway.test")
	return certPair{cert: cert, key: key}
}

// serial is the certificate's serial number.
func (c certPair) serial(t testing.TB) *big.Int {
	t.Helper()
	block, _ := pem.Decode(c.cert)
	if block == nil {
		t.Fatalf("no PEM block in %q", c.cert)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert.SerialNumber
}

// servedCertSerial is the serial of the certificate nginx presents on https.
func (p *gatewayPod) servedCertSerial() (*big.Int, error) {
	conn, err := tls.Dial("tcp", net.JoinHostPort(p.ip, "8443"), &tls.Config{InsecureSkipVerify: true, ServerName: "gateway.test"})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs[0].SerialNumber, nil
}

// backend is an upstream the test runs on loopback, outside the chroot.
func startBackend(t testing.TB, handler http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String()
}

func okBackend(t testing.TB) string {
	return startBackend(t, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "backend") })
}

// filepathReadlink is where the pod's live symlink points.
func filepathReadlink(run string) (string, error) {
	return os.Readlink(filepath.Join(run, "live"))
}

// ready checks that /readyz answers want.
func (p *gatewayPod) ready(want int) error {
	resp, err := http.Get("http://" + p.healthAddr + "/readyz")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("/readyz: %d %q, want %d", resp.StatusCode, body, want)
	}
	return nil
}
