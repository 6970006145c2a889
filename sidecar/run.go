package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/addresses"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/apply"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/endpointwatch"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/metrics"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/report"
)

type runFlags struct {
	pathFlags
	configDir, secretDir      string
	lastGoodDir               string
	healthAddr, metricsAddr   string
	kubeconfig                string
	noKube                    bool
	debounce, debounceMax     time.Duration
	validateTimeout, reloadTO time.Duration
	validateBeforeReload      bool
	minReloadInterval         time.Duration
	maxGenerations            int
	resync                    time.Duration
	endpointsDNSAddr          string
	noEndpointsAddr           string
	closedAddr                string
}

func parseRunFlags(args []string) (*runFlags, error) {
	f := &runFlags{}
	fs := flag.NewFlagSet("nginx-gateway-sidecar", flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&f.configDir, "config-dir", dataplane.ConfigMountPath, "ConfigMap mount (rendered nginx config)")
	fs.StringVar(&f.secretDir, "secret-dir", dataplane.SecretMountPath, "Secret mount (TLS certificates and keys)")
	fs.StringVar(&f.lastGoodDir, "last-good-dir", dataplane.LastGoodMountPath, "last-good ConfigMap mount: served when nothing is live yet and the current config is refused")
	fs.StringVar(&f.healthAddr, "health-addr", fmt.Sprintf(":%d", dataplane.HealthPort), "address of /healthz and /readyz")
	fs.StringVar(&f.metricsAddr, "metrics-addr", fmt.Sprintf(":%d", dataplane.MetricsPort), "address of /metrics")
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config)")
	fs.BoolVar(&f.noKube, "no-kube", false, "run without the API server: no reports, events or Gateway addresses")
	fs.DurationVar(&f.debounce, "debounce", 50*time.Millisecond, "quiet time that ends a burst of mount changes")
	fs.DurationVar(&f.debounceMax, "debounce-max", time.Second, "longest delay from a burst's first change to its apply")
	fs.DurationVar(&f.validateTimeout, "validate-timeout", 30*time.Second, "bound on nginx -t")
	fs.BoolVar(&f.validateBeforeReload, "validate-before-reload", false, "run nginx -t before reloading a running nginx too (the reload itself refuses a config it cannot load; a tree is always checked before nginx starts from it)")
	fs.DurationVar(&f.reloadTO, "reload-timeout", 10*time.Second, "bound on waiting for nginx's new workers after a reload")
	fs.DurationVar(&f.minReloadInterval, "min-reload-interval", 250*time.Millisecond, "least time from one reload to the next: changes arriving meanwhile are applied together")
	fs.IntVar(&f.maxGenerations, "max-worker-generations", 4, "reload only while fewer nginx worker generations are alive (old ones drain for up to worker_shutdown_timeout); 0: no bound")
	fs.DurationVar(&f.resync, "resync", time.Minute, "re-read the mounts this often even without file events")
	fs.StringVar(&f.endpointsDNSAddr, "endpoints-dns-addr", dataplane.EndpointsDNSAddr, "where to answer nginx's DNS queries for backend endpoints (UDP and TCP)")
	fs.StringVar(&f.noEndpointsAddr, "no-endpoints-addr", fmt.Sprintf("127.0.0.1:%d", dataplane.NoEndpointsPort), "nginx's local 503 server: where an HTTP upstream without endpoints resolves")
	fs.StringVar(&f.closedAddr, "closed-addr", dataplane.ClosedAddr, "an address nothing listens on (TCP or UDP): where a stream upstream without endpoints resolves, so its connections are refused at once")
	return f, fs.Parse(args)
}

// run is the sidecar container's command.
func run(args []string) int {
	f, err := parseRunFlags(args)
	if err != nil {
		return 2
	}
	log := newLogger("sidecar", f.verbosity)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := runSidecar(ctx, f, log); err != nil {
		log.Error(err, "sidecar failed")
		return 1
	}
	log.Info("stopped")
	return 0
}

func runSidecar(ctx context.Context, f *runFlags, log logr.Logger) error {
	sockets := filepath.Join(f.runPath, filepath.Base(dataplane.SocketPath))
	m := metrics.New(filepath.Join(sockets, dataplane.NginxStatusSocket))
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	noEndpoints, err := netip.ParseAddrPort(f.noEndpointsAddr)
	if err != nil {
		return fmt.Errorf("--no-endpoints-addr: %w", err)
	}
	closed, err := netip.ParseAddrPort(f.closedAddr)
	if err != nil {
		return fmt.Errorf("--closed-addr: %w", err)
	}
	dns := endpointdns.New(noEndpoints, closed)
	dnsLog := log.WithName("endpoints-dns")
	dns.SetPickupObserver(func(upstream string, waited time.Duration) {
		m.EndpointsPickup.Observe(waited.Seconds())
		dnsLog.Info("nginx asked for changed endpoints", "upstream", upstream, "waited", waited)
	})
	if err := dns.ListenAndServe(ctx, f.endpointsDNSAddr); err != nil {
		return fmt.Errorf("endpoints DNS: %w", err)
	}

	reporter, watchingEndpoints, err := startKube(ctx, &wg, f, dns, m, log)
	if err != nil {
		return err
	}
	var applied appliedHash
	err = serve(ctx, &wg, log, []route{
		{f.healthAddr, dataplane.HealthzPath, http.HandlerFunc(healthz)},
		{f.healthAddr, dataplane.ReadyzPath, readyz(f, func() bool { return !watchingEndpoints || dns.Synced() })},
		{f.healthAddr, dataplane.LiveConfigPath, liveConfigHandler(f.stagingDir(), &applied)},
		{f.healthAddr, dataplane.LiveEndpointsPath, liveEndpointsHandler(dns)},
		{f.metricsAddr, dataplane.MetricsPath, m.Handler()},
	})

	th := &throttle{minInterval: f.minReloadInterval, maxGenerations: f.maxGenerations, log: log.WithName("throttle")}
	wg.Add(1)
	go func() { defer wg.Done(); watchGenerations(ctx, f.pidFile, m, &th.generations) }()
	if err != nil {
		return err
	}

	// `nginx -t` binds the unix sockets a config listens on (those of TLS
	// ports that hand connections on): their folder must exist before the
	// first config is checked, which is before nginx (and exec-nginx) runs.
	// nginx (another user, in the group) binds them: group-writable.
	if err := os.MkdirAll(sockets, dataplane.SocketDirMode); err != nil {
		return err
	}
	if err := os.Chmod(sockets, dataplane.SocketDirMode); err != nil {
		return err
	}
	applier, err := apply.New(apply.Config{
		ConfigDir: f.configDir, SecretDir: f.secretDir, LastGoodDir: f.lastGoodDir,
		StagingDir: f.stagingDir(), LivePath: f.livePath, PidFile: f.pidFile, ReloadFIFO: f.reloadFIFO(),
		Nginx: f.nginx, EmergLog: f.emergLog(),
		ValidateTimeout: f.validateTimeout, ReloadTimeout: f.reloadTO, ValidateBeforeReload: f.validateBeforeReload,
		WorkerProcesses: f.workerProcesses(),
		Metrics:         m, Log: log.WithName("apply"),
	})
	if err != nil {
		return err
	}
	applied.set(applier.Applied())
	if h := applier.Applied(); h != "" {
		log.Info("serving the live config found at start", "hash", h)
		reporter.Report(report.Outcome{Hash: h})
	}

	dirs := []string{f.configDir, f.secretDir}
	if err := waitForDirs(ctx, dirs, log); err != nil {
		return nil // stopped while waiting
	}
	changes, err := mount.Watch(ctx, dirs, mount.Debounce{Quiet: f.debounce, Max: f.debounceMax}, log.WithName("watch"))
	if err != nil {
		return err
	}
	resync := time.NewTicker(f.resync)
	defer resync.Stop()
	// seen is when the files of the change being applied became visible:
	// the first notification since the last Apply that was not
	// Incomplete. It is stamped as that change's mount_changed step only
	// once an Apply changed something, so a notification that brings
	// nothing new (the kubelet re-writing a volume, a burst's trailing
	// edge) does not move the step after the change's own.
	var seen time.Time
	for {
		th.wait(ctx)
		res := applier.Apply(ctx)
		applied.set(applier.Applied())
		if res.Changed && !seen.IsZero() {
			m.StepAt(dataplane.StepMountChanged, seen)
		}
		if res.Incomplete {
			changes.Incomplete()
		} else {
			seen = time.Time{}
		}
		if res.Reload > 0 {
			th.reloaded()
		}
		if res.Hash != "" { // "" when the mounts could not be read
			m.SetSync(res.Hash == applier.Applied(), res.Hash == applier.Rejected())
		}
		if res.Changed && ctx.Err() == nil {
			if res.Fallback != "" {
				// Served instead: applied-hash names it, then the refusal
				// of the current config (rejected-hash) is reported as ever.
				reporter.Report(report.Outcome{Hash: res.Fallback, Event: true})
			}
			reporter.Report(report.Outcome{Hash: res.Hash, Rejected: res.Err != nil, Message: res.Message, Event: true})
		}
		select {
		case <-ctx.Done():
			return nil
		case at := <-changes.C:
			if seen.IsZero() {
				seen = at
			}
		case <-resync.C:
		}
	}
}

// generationsPoll is how often the worker generations are counted: old
// generations live for seconds (until their connections end or
// worker_shutdown_timeout), and reloads are at least the debounce apart.
const generationsPoll = 250 * time.Millisecond

// watchGenerations keeps the worker-generations metrics and alive current.
func watchGenerations(ctx context.Context, pidFile string, m *metrics.Metrics, alive *atomic.Int64) {
	var g nginxproc.Generations
	tick := time.NewTicker(generationsPoll)
	defer tick.Stop()
	for {
		n := 0
		if master, ok := nginxproc.Master(pidFile); ok {
			n = g.Observe(master)
		}
		m.SetGenerations(n)
		alive.Store(int64(n))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reporter is what the apply loop reports to; without API access it only logs.
type reporter interface{ Report(report.Outcome) }

type logReporter struct{ log logr.Logger }

func (l logReporter) Report(o report.Outcome) {
	l.log.V(1).Info("not reporting (no API access)", "hash", o.Hash, "rejected", o.Rejected)
}

// startKube connects to the API server unless --no-kube, starts the
// reporter, when the env names a Service the addresses writer, and when it
// names the endpoints ConfigMap the watch that feeds dns (watching true).
func startKube(ctx context.Context, wg *sync.WaitGroup, f *runFlags, dns *endpointdns.Server, m *metrics.Metrics, log logr.Logger) (_ reporter, watching bool, _ error) {
	if f.noKube {
		log.Info("no API access (--no-kube): outcomes are only logged, no backend endpoints are served")
		return logReporter{log}, false, nil
	}
	cfg, err := restConfig(f.kubeconfig)
	if err != nil {
		return nil, false, fmt.Errorf("API server config (use --no-kube to run without): %w", err)
	}
	cfg.UserAgent = dataplane.SidecarFieldManager
	// client-go (the informers) and controller-runtime (the cache) log
	// through the same zap logger.
	klog.SetLogger(log.WithName("client-go"))
	ctrllog.SetLogger(log.WithName("controller-runtime"))
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{corev1.AddToScheme, gatewayv1.Install} {
		if err := add(scheme); err != nil {
			return nil, false, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, false, err
	}
	gwNamespace := envOr(dataplane.EnvGatewayNamespace, os.Getenv(dataplane.EnvPodNamespace))
	target := report.Target{
		PodName: os.Getenv(dataplane.EnvPodName), PodNamespace: os.Getenv(dataplane.EnvPodNamespace),
		ReportConfigMap: os.Getenv(dataplane.EnvReportConfigMap),
		GatewayName:     os.Getenv(dataplane.EnvGatewayName), GatewayNamespace: gwNamespace,
	}
	if target.PodName == "" || target.PodNamespace == "" || target.ReportConfigMap == "" {
		log.Info("POD_NAME, POD_NAMESPACE or REPORT_CONFIGMAP unset: outcomes are not reported, only recorded as Events")
		target.PodName = ""
	}
	r := report.New(c, target, log.WithName("report"))
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()

	if svc := os.Getenv(dataplane.EnvServiceName); svc != "" && target.GatewayName != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := addresses.Run(ctx, addresses.Options{
				Config: cfg, Scheme: scheme,
				GatewayName: target.GatewayName, GatewayNamespace: gwNamespace, ServiceName: svc,
				Resync: 5 * time.Minute, Hold: addresses.DefaultHold, Log: log.WithName("addresses"),
			})
			if err != nil {
				log.Error(err, "gateway addresses")
			}
		}()
	}

	if name := os.Getenv(dataplane.EnvEndpointsConfigMap); name != "" && target.PodNamespace != "" {
		watching = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := endpointwatch.Run(ctx, endpointwatch.Options{
				Config: cfg, Scheme: scheme, Namespace: target.PodNamespace, Name: name,
				Server: dns, Updated: m.EndpointsUpdates.Inc, Log: log.WithName("endpoints"),
			})
			if err != nil {
				log.Error(err, "watching the endpoints ConfigMap")
			}
		}()
	} else {
		log.Info("ENDPOINTS_CONFIGMAP or POD_NAMESPACE unset: no backend endpoints are served")
	}
	return r, watching, nil
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return rest.InClusterConfig()
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// waitForDirs waits until the mount folders exist (the kubelet creates them
// before the container starts; a local run may create them later).
func waitForDirs(ctx context.Context, dirs []string, log logr.Logger) error {
	for {
		missing := ""
		for _, d := range dirs {
			if _, err := os.Stat(d); err != nil {
				missing = d
				break
			}
		}
		if missing == "" {
			return nil
		}
		log.Info("waiting for mount folder", "path", missing)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// healthz answers while the process runs.
func healthz(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}

// readyz answers once a validated config is live, the nginx master runs
// and the backend endpoints have been read (endpointsRead).
func readyz(f *runFlags, endpointsRead func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if !endpointsRead() {
			http.Error(w, "the backend endpoints have not been read yet", http.StatusServiceUnavailable)
			return
		}
		if _, err := os.Stat(filepath.Join(f.livePath, nginxproc.ConfigFile)); err != nil {
			http.Error(w, "no validated config is live yet", http.StatusServiceUnavailable)
			return
		}
		if _, ok := nginxproc.Master(f.pidFile); !ok {
			http.Error(w, "nginx is not running", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
}

type route struct {
	addr, pattern string
	handler       http.Handler
}

// serve starts one HTTP server per distinct address (health and metrics
// may share one) and shuts them down when ctx ends.
func serve(ctx context.Context, wg *sync.WaitGroup, log logr.Logger, routes []route) error {
	muxes := map[string]*http.ServeMux{}
	var addrs []string
	for _, r := range routes {
		if muxes[r.addr] == nil {
			muxes[r.addr] = http.NewServeMux()
			addrs = append(addrs, r.addr)
		}
		muxes[r.addr].Handle(r.pattern, r.handler)
	}
	for _, addr := range addrs {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: muxes[addr], ReadHeaderTimeout: 5 * time.Second}
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error(err, "http server", "addr", addr)
			}
		}()
		go func() {
			defer wg.Done()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	return nil
}
