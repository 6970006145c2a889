//go:build conformance

package conformance

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	"sigs.k8s.io/gateway-api/apis/v1alpha2"
	"sigs.k8s.io/gateway-api/apis/v1alpha3"
	xv1alpha1 "sigs.k8s.io/gateway-api/apisx/v1alpha1"
	gwconformance "sigs.k8s.io/gateway-api/conformance"
	confv1 "sigs.k8s.io/gateway-api/conformance/apis/v1"
	"sigs.k8s.io/gateway-api/conformance/tests"
	"sigs.k8s.io/gateway-api/conformance/utils/config"
	"sigs.k8s.io/gateway-api/conformance/utils/flags"
	"sigs.k8s.io/gateway-api/conformance/utils/suite"
	"sigs.k8s.io/yaml"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/product"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// The suite registers its own flags (-gateway-class, -run-test,
// -supported-features, -timeout-config-overrides, -report-output,
// -organization, ...); they override the defaults below when given.
var (
	keepCluster = flag.Bool("keep-cluster", false,
		"leave the local cluster and the suite's objects after the suite (for debugging; Ctrl-C stops it)")
	summaryOut = flag.String("summary-output", "",
		"also write the per-test results (one line each) to this file")
)

func TestMain(m *testing.M) {
	// The node agent starts containers by re-executing this test binary.
	nodeagent.RunContainerInitIfRequested()
	os.Exit(m.Run())
}

// TestConformance starts a local cluster, deploys the operator with its
// samples (GatewayClass "nginx"), runs the GATEWAY-HTTP profile with the
// features the GatewayClass publishes and writes the report.
func TestConformance(t *testing.T) {
	began := time.Now()
	log.SetLogger(zap.New(zap.WriteTo(os.Stdout), zap.UseDevMode(true)))
	ctx := context.Background()

	images, err := product.DefaultImages()
	if err != nil {
		t.Fatal(err)
	}
	coredns, err := testenv.CoreDNS()
	if err != nil {
		t.Fatal(err)
	}
	// The base manifests' UDP backend (registry.k8s.io/coredns/coredns).
	images = append([]nodeagent.ImageRule{{Contains: "coredns", Entrypoint: coredns}}, images...)

	kube, err := testenv.KubeAssets()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cluster.Start(ctx, cluster.Options{Images: images, KubeBinDir: kube, Log: os.Stderr})
	if err != nil {
		t.Fatalf("starting the local cluster: %v", err)
	}
	stopSignals := c.StopOnSignal()
	t.Cleanup(func() {
		if *keepCluster {
			t.Logf("keeping the cluster: KUBECONFIG=%s (Ctrl-C stops it)", c.Kubeconfig)
			select {}
		}
		stopSignals()
		if err := c.Stop(); err != nil {
			t.Errorf("stopping the local cluster: %v", err)
		}
	})
	if _, err := product.Deploy(ctx, c, images, t.Logf); err != nil {
		dumpState(ctx, t, c)
		t.Fatalf("deploying the operator: %v", err)
	}
	t.Logf("cluster and operator ready after %s", time.Since(began).Round(time.Second))

	opts := options(t, c)
	s, err := suite.NewConformanceTestSuite(opts)
	if err != nil {
		t.Fatalf("creating the conformance suite: %v", err)
	}
	results := &testResults{byName: map[string]string{}}
	s.Hook = results.record
	t.Logf("supported features: %v", sortedNames(s.SupportedFeatures.UnsortedList()))

	suiteBegan := time.Now()
	// Registered before Run: cleanups run last-in first-out, and Report
	// works only after Run's own cleanup has ended the run.
	t.Cleanup(func() {
		report, err := s.Report()
		if err != nil {
			t.Errorf("conformance report: %v", err)
			return
		}
		if opts.ReportOutputPath != "" {
			if err := writeReport(opts.ReportOutputPath, report); err != nil {
				t.Errorf("writing the report: %v", err)
			}
		}
		summary := summarize(report, results, time.Since(suiteBegan), time.Since(began))
		fmt.Print(summary)
		if *summaryOut != "" {
			if err := os.WriteFile(*summaryOut, []byte(summary), 0o644); err != nil {
				t.Errorf("writing the summary: %v", err)
			}
		}
	})
	s.Setup(t, tests.ConformanceTests)
	if err := s.Run(t, tests.ConformanceTests); err != nil {
		t.Fatal(err)
	}
}

// options are the suite's options for this cluster: our GatewayClass, the
// GATEWAY-HTTP profile, timeouts for a slow machine, the implementation's
// identity; then the suite's own flags when given.
func options(t *testing.T, c *cluster.Cluster) suite.ConformanceOptions {
	cfg := *c.RestConfig
	cl, err := client.New(&cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, install := range []func(*runtime.Scheme) error{v1alpha3.Install, v1alpha2.Install, xv1alpha1.Install,
		gatewayv1.Install, apiextensionsv1.AddToScheme} {
		if err := install(cl.Scheme()); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := kubernetes.NewForConfig(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	configurable := suite.ConfigurableOptions{
		GatewayClassName:     "nginx",
		CleanupBaseResources: true,
		CleanupTestResources: true,
		Mode:                 flags.DefaultMode,
		ConformanceProfiles:  []suite.ConformanceProfileName{suite.GatewayHTTPConformanceProfileName, suite.GatewayGRPCConformanceProfileName, suite.GatewayTLSConformanceProfileName, suite.GatewayTCPConformanceProfileName, suite.GatewayUDPConformanceProfileName},
		TimeoutConfig:        slowMachineTimeouts(),
		ReportOutputPath:     filepath.Join(testenv.RepoRoot(), "conformance", "report.yaml"),
		Implementation: confv1.Implementation{
			Organization: "nginx-gateway-operator",
			Project:      "nginx-gateway-operator",
			URL:          "https://github.com/nginx-gateway-operator/nginx-gateway-operator",
			Version:      envOr("VERSION", "v0.1.0"),
			Contact:      []string{"https://github.com/nginx-gateway-operator/nginx-gateway-operator/issues"},
		},
	}
	// GatewayStaticAddresses asks for a usable and an unusable address: the
	// first address the local load balancer gives only on request, and one
	// in no pool, which it refuses (-usable-address / -unusable-address
	// override them).
	configurable.UsableNetworkAddresses = []gatewayv1.GatewaySpecAddress{{
		Type: ptr.To(gatewayv1.IPAddressType), Value: c.Network.LBRequestFirst.String(),
	}}
	configurable.UnusableNetworkAddresses = []gatewayv1.GatewaySpecAddress{{
		Type: ptr.To(gatewayv1.IPAddressType), Value: c.Network.LBRefusedAddress().String(),
	}}
	defaultReport := configurable.ReportOutputPath
	flags.ApplyAll(&configurable)
	if *keepCluster {
		// Leave the suite's objects in place to look at.
		configurable.CleanupBaseResources, configurable.CleanupTestResources = false, false
	}
	if configurable.RunTest != "" && configurable.ReportOutputPath == defaultReport {
		// A single test's report would replace the whole profile's.
		configurable.ReportOutputPath = ""
	}
	if err := configurable.Implementation.Validate(); err != nil {
		t.Fatal(err)
	}
	return suite.ConformanceOptions{
		ConfigurableOptions: configurable,
		Client:              cl,
		Clientset:           cs,
		RestConfig:          &cfg,
		ManifestFS:          []fs.FS{&gwconformance.Manifests},
	}
}

// testResults are the per-test outcomes, collected by the suite's hook.
type testResults struct {
	mu     sync.Mutex
	byName map[string]string
}

func (r *testResults) record(t *testing.T, test suite.ConformanceTest, _ *suite.ConformanceTestSuite) {
	outcome := "PASS"
	switch {
	case t.Failed():
		outcome = "FAIL"
	case t.Skipped():
		outcome = "SKIP"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byName[test.ShortName] = outcome
}

// summarize prints, per profile, tests passed, failed and skipped (core and
// extended), then every test that ran with its outcome.
func summarize(report *confv1.ConformanceReport, results *testResults, suiteTook, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== Gateway API conformance %s (%s channel), %s\n", report.GatewayAPIVersion,
		report.GatewayAPIChannel, report.Implementation.Version)
	for _, p := range report.ProfileReports {
		fmt.Fprintf(&b, "%s: %s\n", p.Name, p.Summary)
		fmt.Fprintf(&b, "  core:     %-8s passed %d, failed %d, skipped %d\n", p.Core.Result,
			p.Core.Statistics.Passed, p.Core.Statistics.Failed, p.Core.Statistics.Skipped)
		if p.Extended != nil {
			fmt.Fprintf(&b, "  extended: %-8s passed %d, failed %d, skipped %d\n", p.Extended.Result,
				p.Extended.Statistics.Passed, p.Extended.Statistics.Failed, p.Extended.Statistics.Skipped)
			fmt.Fprintf(&b, "  extended features claimed: %s\n", strings.Join(p.Extended.SupportedFeatures, ", "))
			fmt.Fprintf(&b, "  extended features not claimed: %s\n", strings.Join(p.Extended.UnsupportedFeatures, ", "))
		}
		for _, name := range append(append([]string{}, p.Core.FailedTests...), extendedTests(p, true)...) {
			fmt.Fprintf(&b, "  FAILED %s\n", name)
		}
	}
	results.mu.Lock()
	names := make([]string, 0, len(results.byName))
	for n := range results.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "tests run (skipped and unsupported ones left out):\n")
	for _, n := range names {
		if results.byName[n] != "SKIP" {
			fmt.Fprintf(&b, "  %s %s\n", results.byName[n], n)
		}
	}
	results.mu.Unlock()
	fmt.Fprintf(&b, "suite took %s, total with cluster start-up %s\n", suiteTook.Round(time.Second), total.Round(time.Second))
	return b.String()
}

func extendedTests(p confv1.ProfileReport, failed bool) []string {
	if p.Extended == nil {
		return nil
	}
	if failed {
		return p.Extended.FailedTests
	}
	return p.Extended.SkippedTests
}

func writeReport(path string, report *confv1.ConformanceReport) error {
	raw, err := yaml.Marshal(report)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// slowMachineTimeouts are the suite's defaults, stretched for a shared
// 2-core machine where a new Gateway's pod takes seconds to start.
func slowMachineTimeouts() config.TimeoutConfig {
	tc := config.DefaultTimeoutConfig()
	tc.CreateTimeout = 120 * time.Second
	tc.DeleteTimeout = 60 * time.Second
	tc.GetTimeout = 30 * time.Second
	tc.GatewayMustHaveAddress = 300 * time.Second
	tc.GatewayMustHaveCondition = 300 * time.Second
	tc.GatewayStatusMustHaveListeners = 120 * time.Second
	tc.GatewayListenersMustHaveConditions = 120 * time.Second
	tc.HTTPRouteMustNotHaveParents = 120 * time.Second
	tc.HTTPRouteMustHaveCondition = 120 * time.Second
	tc.RouteMustHaveParents = 120 * time.Second
	tc.MaxTimeToConsistency = 60 * time.Second
	tc.NamespacesMustBeReady = 600 * time.Second
	tc.LatestObservedGenerationSet = 120 * time.Second
	tc.DefaultTestTimeout = 180 * time.Second
	return tc
}

func sortedNames[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	sort.Strings(out)
	return out
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// dumpState logs the pods and the operator's log: the cluster is gone
// once the test ends.
func dumpState(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	for _, args := range [][]string{
		{"get", "pods", "-A", "-o", "wide"},
		{"get", "events", "-A", "--sort-by=.lastTimestamp"},
		{"logs", "-n", "nginx-gateway-operator-system", "deployment/nginx-gateway-operator-controller-manager", "--tail=100"},
	} {
		out, err := c.KubectlCmd(ctx, args...).CombinedOutput()
		t.Logf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
