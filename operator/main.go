// Command operator is the nginx-gateway-operator manager. `operator render`
// runs the translation and render steps offline (see operator/rendercmd).
package main

import (
	"flag"
	"os"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/controller"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/metricsauth"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// defaultGatewayImage is the gateway image (nginx + sidecar) used when
// neither --gateway-image nor GatewayParameters name one: the Makefile's
// GATEWAY_IMG default (main_test.go checks they agree).
const defaultGatewayImage = "ghcr.io/nginx-gateway-operator/nginx-gateway:v0.1.0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "render" {
		os.Exit(rendercmd.Main(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(runManager(os.Args[1:]))
}

func runManager(args []string) int {
	fs := flag.CommandLine // controller-runtime registers --kubeconfig here
	gatewayImage := fs.String("gateway-image", defaultGatewayImage, "image of the gateway pods (nginx + sidecar)")
	metricsAddr := fs.String("metrics-bind-address", ":8080", "address of the metrics endpoint (0 disables it)")
	metricsSecure := fs.Bool("metrics-secure", true, "serve metrics over HTTPS, only to clients allowed by a TokenReview and SubjectAccessReview (config/rbac/metrics_*)")
	probeAddr := fs.String("health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	leaderElect := fs.Bool("leader-elect", false, "elect a leader so that only one replica reconciles")
	pprofAddr := fs.String("pprof-bind-address", "", "address of Go's /debug/pprof endpoints, for measuring the operator (empty: off)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")

	scheme, err := controller.NewScheme()
	if err != nil {
		setupLog.Error(err, "building the scheme")
		return 1
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		setupLog.Error(err, "loading the kubeconfig")
		return 1
	}
	// Uncompressed answers from the API server: with compression every
	// watch holds a gzip reader of its own (~40 KiB each, ~2.6 MiB of the
	// heap at 5,000 routes), for a server that is one hop away in the
	// cluster.
	cfg.DisableCompression = true
	metrics := metricsserver.Options{BindAddress: *metricsAddr, SecureServing: *metricsSecure}
	if *metricsSecure {
		// Our own filter, not controller-runtime's pkg/metrics/filters: that
		// one links k8s.io/apiserver and cel-go (~11 MB more code resident).
		metrics.FilterProvider = metricsauth.NewFilter
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controller.CacheOptions(),
		Metrics:                metrics,
		HealthProbeBindAddress: *probeAddr,
		LeaderElection:         *leaderElect,
		LeaderElectionID:       "nginx-gateway-operator.gateway.nginx-operator.dev",
		PprofBindAddress:       *pprofAddr,
	})
	if err != nil {
		setupLog.Error(err, "creating the manager")
		return 1
	}
	// The reconciler starts once the Gateway API CRDs (a prerequisite the
	// operator does not install) and its own are served; until then the
	// operator is not ready. Events about them go on the operator's Pod,
	// named by the downward API (config/manager/manager.yaml).
	crds, err := controller.SetupWhenCRDsInstalled(mgr, controller.Options{
		Resources: resources.Options{DefaultImage: *gatewayImage},
	}, controller.OperatorPod{Namespace: os.Getenv("POD_NAMESPACE"), Name: os.Getenv("POD_NAME")})
	if err != nil {
		setupLog.Error(err, "setting up the controller")
		return 1
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "adding the health check")
		return 1
	}
	if err := mgr.AddReadyzCheck(controller.CRDReadyCheckName, crds.Ready); err != nil {
		setupLog.Error(err, "adding the ready check")
		return 1
	}
	setupLog.Info("starting", "gatewayImage", *gatewayImage)
	ctx := ctrl.SetupSignalHandler()
	go releaseMemoryWhenIdle(ctx)
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "running the manager")
		return 1
	}
	return 0
}
