//go:build benche2e

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	prommodel "github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

const (
	namespace   = "default"
	gatewayName = "bench"
	// The sample backend (config/samples/backend.yaml): two echo pods.
	backendService = "echo"
	backendPort    = 80
)

// bench is the Gateway under test and what observes it.
type bench struct {
	ctx         context.Context
	t           *testing.T
	c           *cluster.Cluster
	routes      gwclient.Interface
	operatorBin string
	url         string // the Gateway's address, as users reach it
	podName     string
	podIP       string
	netns       string   // the gateway pod's network namespace
	paths       []string // every route's path prefix, in creation order
	stamps      *stamps
}

func newBench(ctx context.Context, t *testing.T, c *cluster.Cluster, operatorBin string) *bench {
	manifest := fmt.Sprintf(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: %s, namespace: %s}
spec:
  gatewayClassName: nginx
  listeners:
  - {name: http, protocol: HTTP, port: 80}
`, gatewayName, namespace)
	cmd := c.KubectlCmd(ctx, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply: %v: %s", err, out)
	}
	if _, err := clustertest.Kubectl(ctx, c, "wait", "--for=condition=Programmed", "--timeout=120s", "-n", namespace, "gateway/"+gatewayName); err != nil {
		t.Fatal(err)
	}
	addr, err := clustertest.Kubectl(ctx, c, "get", "-n", namespace, "gateway/"+gatewayName, "-o", "jsonpath={.status.addresses[0].value}")
	if err != nil || addr == "" {
		t.Fatalf("Gateway %s has no address: %q %v", gatewayName, addr, err)
	}
	routes, err := gwclient.NewForConfig(c.RestConfig)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{ctx: ctx, t: t, c: c, routes: routes, operatorBin: operatorBin, url: "http://" + strings.TrimSpace(addr)}
	pods, err := c.Client.CoreV1().Pods(namespace).List(ctx, b.podSelector())
	if err != nil || len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		t.Fatalf("want one gateway pod with an IP: %v %v", err, pods)
	}
	b.podName, b.podIP = pods.Items[0].Name, pods.Items[0].Status.PodIP
	if b.netns, err = netnsOf(b.podIP); err != nil {
		t.Fatal(err)
	}
	b.stamps = recordStamps(ctx, t, b)
	return b
}

func (b *bench) podSelector() metav1.ListOptions {
	return metav1.ListOptions{LabelSelector: dataplane.LabelGatewayName + "=" + gatewayName + "," + dataplane.LabelGatewayNamespace + "=" + namespace}
}

// netnsOf finds the network namespace (ip netns) holding ip.
func netnsOf(ip string) (string, error) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		addrs, err := exec.Command("ip", "-n", fields[0], "-o", "-4", "addr", "show").Output()
		if err == nil && strings.Contains(string(addrs), " "+ip+"/") {
			return fields[0], nil
		}
	}
	return "", fmt.Errorf("no network namespace has %s", ip)
}

func httpRoute(name, path string) *gatewayv1.HTTPRoute {
	prefix := gatewayv1.PathMatchPathPrefix
	port := gatewayv1.PortNumber(backendPort)
	return &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: gatewayName}}},
			Rules: []gatewayv1.HTTPRouteRule{{
				Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &path}}},
				BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
					BackendObjectReference: gatewayv1.BackendObjectReference{Name: backendService, Port: &port},
				}}},
			}},
		},
	}
}

func (b *bench) createRoute(name, path string) error {
	_, err := b.routes.GatewayV1().HTTPRoutes(namespace).Create(b.ctx, httpRoute(name, path), metav1.CreateOptions{})
	if err == nil {
		b.paths = append(b.paths, path)
	}
	return err
}

// fillRoutes creates routes r<i> (path /r<i>) until the Gateway has n, and
// waits until the last one is served and the pod runs the newest config.
func (b *bench) fillRoutes(n int) {
	first := len(b.paths)
	if first >= n {
		return
	}
	began := time.Now()
	names := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				_, err := b.routes.GatewayV1().HTTPRoutes(namespace).Create(b.ctx, httpRoute(fmt.Sprintf("r%d", i), fmt.Sprintf("/r%d", i)), metav1.CreateOptions{})
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	for i := first; i < n; i++ {
		names <- i
	}
	close(names)
	wg.Wait()
	select {
	case err := <-errs:
		b.t.Fatalf("creating routes: %v", err)
	default:
	}
	for i := first; i < n; i++ {
		b.paths = append(b.paths, fmt.Sprintf("/r%d", i))
	}
	last := b.url + b.paths[n-1] + "/x"
	if _, err := firstOK(b.ctx, last, 20*time.Minute); err != nil {
		b.t.Fatalf("route %d of %d never served: %v", n, n, err)
	}
	b.settled()
	b.t.Logf("bench: %d routes created and served in %v", n-first, time.Since(began).Round(time.Millisecond))
}

// settled waits until the Gateway's ConfigMap, the pod's annotation and
// the sidecar's report name the same config, and returns its hash.
func (b *bench) settled() string {
	var hash string
	clustertest.Eventually(b.t, 5*time.Minute, "the gateway pod runs the newest config", func() error {
		cm, err := b.c.Client.CoreV1().ConfigMaps(namespace).Get(b.ctx, resources.Name(gatewayName), metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod, err := b.c.Client.CoreV1().Pods(namespace).Get(b.ctx, b.podName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		report, err := b.c.Client.CoreV1().ConfigMaps(namespace).Get(b.ctx, resources.ReportName(gatewayName), metav1.GetOptions{})
		if err != nil {
			return err
		}
		want := cm.Annotations[dataplane.AnnotationConfigHash]
		annotated := pod.Annotations[dataplane.AnnotationConfigHash]
		applied := dataplane.ParseReports(report.Data)[b.podName].AppliedHash
		if want == "" || annotated != want || applied != want {
			return fmt.Errorf("ConfigMap %.12s, pod annotation %.12s, applied %.12s", want, annotated, applied)
		}
		hash = want
		return nil
	})
	return hash
}

// stamp is when a watch saw an object carry a config hash.
type stamp struct {
	at   time.Time
	hash string
}

// stamps are the times the Gateway's ConfigMap and its pod's annotation
// changed, seen through watches (a few milliseconds after the writes).
type stamps struct {
	mu        sync.Mutex
	configMap []stamp
	pod       []stamp
}

// first is the earliest stamp of hash in list.
func (s *stamps) first(list *[]stamp, hash string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range *list {
		if st.hash == hash {
			return st.at, true
		}
	}
	return time.Time{}, false
}

func recordStamps(ctx context.Context, t *testing.T, b *bench) *stamps {
	s := &stamps{}
	cms := b.c.Client.CoreV1().ConfigMaps(namespace)
	pods := b.c.Client.CoreV1().Pods(namespace)
	cmSelector := metav1.ListOptions{FieldSelector: "metadata.name=" + resources.Name(gatewayName)}
	go s.follow(ctx, t, &s.configMap, func(rv string) (watch.Interface, error) {
		o := cmSelector
		o.ResourceVersion = rv
		return cms.Watch(ctx, o)
	})
	go s.follow(ctx, t, &s.pod, func(rv string) (watch.Interface, error) {
		o := b.podSelector()
		o.ResourceVersion = rv
		return pods.Watch(ctx, o)
	})
	return s
}

// follow records each new config hash the watched object carries, and
// restarts the watch where it ended.
func (s *stamps) follow(ctx context.Context, t *testing.T, list *[]stamp, start func(rv string) (watch.Interface, error)) {
	rv := ""
	for ctx.Err() == nil {
		w, err := start(rv)
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			now := time.Now()
			obj, ok := ev.Object.(metav1.Object)
			if !ok || ev.Type == watch.Error {
				rv = ""
				break
			}
			rv = obj.GetResourceVersion()
			hash := obj.GetAnnotations()[dataplane.AnnotationConfigHash]
			s.mu.Lock()
			if n := len(*list); hash != "" && (n == 0 || (*list)[n-1].hash != hash) {
				*list = append(*list, stamp{now, hash})
			}
			s.mu.Unlock()
		}
		w.Stop()
	}
}

// sidecarSteps are the sidecar's timestamps of the last change
// (nginx_gateway_sidecar_last_apply_step_timestamp_seconds) once it
// reports hash applied.
func (b *bench) sidecarSteps(hash string) (map[string]time.Time, error) {
	var steps map[string]time.Time
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams, err := b.sidecarMetrics()
		if err == nil {
			applied := ""
			if fam := fams["nginx_gateway_sidecar_applied_config_info"]; fam != nil && len(fam.Metric) == 1 {
				for _, l := range fam.Metric[0].Label {
					if l.GetName() == "hash" {
						applied = l.GetValue()
					}
				}
			}
			if applied == hash {
				steps = map[string]time.Time{}
				if fam := fams["nginx_gateway_sidecar_last_apply_step_timestamp_seconds"]; fam != nil {
					for _, m := range fam.Metric {
						for _, l := range m.Label {
							if l.GetName() == "step" {
								sec := m.Gauge.GetValue()
								steps[l.GetValue()] = time.Unix(0, int64(sec*1e9))
							}
						}
					}
				}
				return steps, nil
			}
			err = fmt.Errorf("sidecar applied %.12s, want %.12s", applied, hash)
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sidecarGauge reads one of the sidecar's unlabelled gauges.
func (b *bench) sidecarGauge(name string) (float64, error) {
	fams, err := b.sidecarMetrics()
	if err != nil {
		return 0, err
	}
	fam := fams["nginx_gateway_sidecar_"+name]
	if fam == nil || len(fam.Metric) == 0 || fam.Metric[0].Gauge == nil {
		return 0, fmt.Errorf("no gauge %s", name)
	}
	return fam.Metric[0].Gauge.GetValue(), nil
}

func (b *bench) sidecarMetrics() (map[string]*dto.MetricFamily, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(fmt.Sprintf("http://%s:%d%s", b.podIP, dataplane.MetricsPort, dataplane.MetricsPath))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(prommodel.UTF8Validation)
	return parser.TextToMetricFamilies(resp.Body)
}

// operatorRSS is the operator process's resident memory in bytes (0 when
// it cannot be told apart): VmRSS, RssAnon and VmHWM (its peak so far).
func (b *bench) operatorRSS() (rss, anon, peak int64) {
	entries, _ := os.ReadDir("/proc")
	var found [][3]int64
	for _, e := range entries {
		comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "operator" {
			continue
		}
		status, err := os.ReadFile("/proc/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		var got [3]int64
		for _, line := range strings.Split(string(status), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
				got[0] = kb << 10
			}
			if _, err := fmt.Sscanf(line, "RssAnon: %d kB", &kb); err == nil {
				got[1] = kb << 10
			}
			if _, err := fmt.Sscanf(line, "VmHWM: %d kB", &kb); err == nil {
				got[2] = kb << 10
			}
		}
		found = append(found, got)
	}
	if len(found) != 1 {
		b.t.Logf("bench: %d processes named operator: RSS not reported", len(found))
		return 0, 0, 0
	}
	return found[0][0], found[0][1], found[0][2]
}

// settledOperatorRSS reads the operator's RSS once it stops moving (two
// readings a second apart within 1 MiB, at least settleAfter after the
// last change, at most settleWithin): what it holds between changes, once
// it has returned the pages a burst of work needed (releaseMemoryWhenIdle
// in operator/memory.go waits for two quiet seconds).
func (b *bench) settledOperatorRSS() (rss, anon int64) {
	const settleAfter, settleWithin = 5 * time.Second, 30 * time.Second
	time.Sleep(settleAfter)
	deadline := time.Now().Add(settleWithin - settleAfter)
	rss, anon, _ = b.operatorRSS()
	for time.Now().Before(deadline) {
		time.Sleep(time.Second)
		next, nextAnon, _ := b.operatorRSS()
		if d := next - rss; d > -1<<20 && d < 1<<20 {
			return next, nextAnon
		}
		rss, anon = next, nextAnon
	}
	b.t.Logf("bench: the operator's RSS did not settle within %s", settleWithin)
	return rss, anon
}
