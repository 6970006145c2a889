package tests

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// testEndpointChurnWithoutReload scales the sample's echo backend 2 → 1 → 3
// → 1 → 2 and restarts it (kubectl rollout restart) while clients that
// never retry (a fresh connection per request) send requests through the
// sample Gateway. Endpoint changes reach nginx through the sidecar's DNS,
// so: no request fails, nginx never reloads (its master and workers are the
// same processes before and after, the sidecar's reloads_total does not
// move), and every new pod serves soon after it is Ready (logged: the time
// from the test seeing the pod Ready to the first answer from it; echo-basic
// answers with its pod name).
func testEndpointChurnWithoutReload(t *testing.T, ctx context.Context, c *cluster.Cluster, url string) {
	gw := gatewayPod(t, ctx, c)
	metricsURL := fmt.Sprintf("http://%s:%d%s", gw.Status.PodIP, dataplane.MetricsPort, dataplane.MetricsPath)
	reloads := sidecarCounter(t, metricsURL, "nginx_gateway_sidecar_reloads_total")
	processes := nginxProcesses(t, gw)
	if len(processes) < 2 {
		t.Fatalf("found nginx processes %v in the gateway pod's network namespace, want a master and workers", processes)
	}

	ready := watchReady(t, ctx, c)
	published := watchPublished(t, ctx, c)
	traffic := startTraffic(url, 2)

	scale := func(n int) {
		t.Helper()
		if _, err := clustertest.Kubectl(ctx, c, "scale", "-n", "default", "deployment/echo", "--replicas="+strconv.Itoa(n)); err != nil {
			t.Fatal(err)
		}
		waitServedBy(t, ctx, c, traffic, n)
	}
	scale(1)
	scale(3)
	scale(1)
	scale(2)
	if _, err := clustertest.Kubectl(ctx, c, "rollout", "restart", "-n", "default", "deployment/echo"); err != nil {
		t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(ctx, c, "rollout", "status", "-n", "default", "deployment/echo", "--timeout=180s"); err != nil {
		t.Fatal(err)
	}
	waitServedBy(t, ctx, c, traffic, 2)
	requests, failures, firstServed := traffic.stop()

	// Ready → first request served, split at the moment the pod's address
	// was in the endpoints ConfigMap (the operator's part before, the
	// sidecar's and nginx's after).
	var delays, toPublished, toServed []time.Duration
	for pod, servedAt := range firstServed {
		readyAt, ok := ready.at(pod)
		if !ok || ready.before[pod] {
			continue
		}
		delays = append(delays, servedAt.Sub(readyAt))
		if at, ok := published.at(ready.ip(pod)); ok {
			toPublished = append(toPublished, at.Sub(readyAt))
			toServed = append(toServed, servedAt.Sub(at))
		}
	}
	for _, d := range [][]time.Duration{delays, toPublished, toServed} {
		slices.Sort(d)
	}
	t.Logf("endpoint churn: %d requests, %d failed; pods that became Ready during the churn: %d; Ready → first request served: p50 %v, max %v (all: %v); of which Ready → in the endpoints ConfigMap: p50 %v, max %v; ConfigMap → first request served: p50 %v, max %v",
		requests, len(failures), len(delays), percentile(delays, 50), percentile(delays, 100), delays,
		percentile(toPublished, 50), percentile(toPublished, 100), percentile(toServed, 50), percentile(toServed, 100))
	for _, f := range failures {
		t.Errorf("request failed: %s", f)
	}
	if len(failures) > 0 {
		out, _ := clustertest.Kubectl(ctx, c, "logs", "-n", "default", gw.Name, "-c", "nginx")
		var notOK []string
		for _, line := range strings.Split(out, "\n") {
			if line != "" && !strings.Contains(line, `" 200 `) {
				notOK = append(notOK, line)
			}
		}
		t.Logf("nginx log lines other than 200:\n%s", strings.Join(notOK, "\n"))
	}
	if len(delays) < 4 {
		t.Errorf("only %d new pods were seen Ready and serving, want at least 4 (2 scale-up, 2 restart)", len(delays))
	}
	if got := sidecarCounter(t, metricsURL, "nginx_gateway_sidecar_reloads_total"); got != reloads {
		t.Errorf("the sidecar reloaded nginx during the endpoint churn: reloads_total %v → %v", reloads, got)
	}
	if after := nginxProcesses(t, gw); !slices.Equal(processes, after) {
		t.Errorf("nginx processes changed during the endpoint churn (a reload or a restart): %v → %v", processes, after)
	}
	if updates := sidecarCounter(t, metricsURL, "nginx_gateway_sidecar_endpoints_updates_total"); updates == 0 {
		t.Error("endpoints_updates_total is 0: the sidecar served no endpoint change")
	}
}

// gatewayPod is the sample Gateway's one pod.
func gatewayPod(t *testing.T, ctx context.Context, c *cluster.Cluster) *corev1.Pod {
	t.Helper()
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: dataplane.LabelGatewayName + "=gateway"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		t.Fatalf("want one running gateway pod, have %d", len(pods.Items))
	}
	return &pods.Items[0]
}

// sidecarCounter reads one counter of the sidecar's /metrics.
func sidecarCounter(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if value, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatalf("no %s in %s", name, url)
	return 0
}

// nginxProcesses lists the pids of the nginx processes (master and
// workers) in pod's network namespace, sorted. The local cluster's node
// agent runs each pod in the network namespace /run/netns/lclu-<first 4
// bytes of sha256(pod UID) in hex>; processes are the host's own.
func nginxProcesses(t *testing.T, pod *corev1.Pod) []int {
	t.Helper()
	sum := sha256.Sum256([]byte(pod.UID))
	var ns syscall.Stat_t
	if err := syscall.Stat(filepath.Join("/run/netns", "lclu-"+hex.EncodeToString(sum[:4])), &ns); err != nil {
		t.Fatalf("the gateway pod's network namespace: %v", err)
	}
	want := fmt.Sprintf("net:[%d]", ns.Ino)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		if strings.TrimSpace(string(comm)) != "nginx" {
			continue
		}
		if link, _ := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "net")); link == want {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// readyTimes records when the test first saw each echo pod Ready, and its IP.
type readyTimes struct {
	// before are the pods Ready when the watch began.
	before map[string]bool
	mu     sync.Mutex
	seen   map[string]time.Time
	ips    map[string]string
}

func (r *readyTimes) ip(pod string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ips[pod]
}

func (r *readyTimes) at(pod string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.seen[pod]
	return at, ok
}

// watchReady watches the echo pods until the test ends.
func watchReady(t *testing.T, ctx context.Context, c *cluster.Cluster) *readyTimes {
	t.Helper()
	r := &readyTimes{before: map[string]bool{}, seen: map[string]time.Time{}, ips: map[string]string{}}
	selector := metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=echo"}
	pods, err := c.Client.CoreV1().Pods("default").List(ctx, selector)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if clustertest.PodReady(&pods.Items[i]) {
			r.before[pods.Items[i].Name] = true
		}
	}
	selector.ResourceVersion = pods.ResourceVersion
	w, err := c.Client.CoreV1().Pods("default").Watch(ctx, selector)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok || ev.Type == watch.Deleted || !clustertest.PodReady(pod) {
				continue
			}
			r.mu.Lock()
			if _, seen := r.seen[pod.Name]; !seen {
				r.seen[pod.Name] = time.Now()
				r.ips[pod.Name] = pod.Status.PodIP
			}
			r.mu.Unlock()
		}
	}()
	return r
}

// publishedTimes records when the test first saw each address in the
// sample Gateway's endpoints ConfigMap.
type publishedTimes struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (p *publishedTimes) at(ip string) (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.seen[ip]
	return at, ok
}

// watchPublished watches the endpoints ConfigMap of the sample Gateway
// ("gateway-nginx-endpoints", resources.EndpointsName) until the test ends.
func watchPublished(t *testing.T, ctx context.Context, c *cluster.Cluster) *publishedTimes {
	t.Helper()
	p := &publishedTimes{seen: map[string]time.Time{}}
	w, err := c.Client.CoreV1().ConfigMaps("default").Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=gateway-nginx-endpoints"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			cm, ok := ev.Object.(*corev1.ConfigMap)
			if !ok {
				continue
			}
			now := time.Now()
			p.mu.Lock()
			for _, value := range cm.Data {
				for _, line := range strings.Fields(value) {
					if ip, _, ok := strings.Cut(line, ":"); ok {
						if _, seen := p.seen[ip]; !seen {
							p.seen[ip] = now
						}
					}
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

// traffic is clients sending GETs in a loop, each on a fresh connection
// and never retried, recording failures and when each pod first answered.
type traffic struct {
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	requests int
	failures []string
	first    map[string]time.Time
	last     map[string]time.Time
}

func startTraffic(url string, clients int) *traffic {
	tr := &traffic{done: make(chan struct{}), first: map[string]time.Time{}, last: map[string]time.Time{}}
	began := time.Now()
	for range clients {
		tr.wg.Add(1)
		go func() {
			defer tr.wg.Done()
			for {
				select {
				case <-tr.done:
					return
				default:
				}
				sent := time.Now()
				code, body, err := getStatusWithin(url, 10*time.Second)
				var echo struct{ Pod string }
				if err == nil && code == http.StatusOK {
					err = json.Unmarshal([]byte(body), &echo)
				}
				now := time.Now()
				tr.mu.Lock()
				tr.requests++
				switch {
				case err != nil || code != http.StatusOK || echo.Pod == "":
					tr.failures = append(tr.failures, fmt.Sprintf("at %s (took %s): status %d, error %v, body %.80q",
						sent.Sub(began).Round(time.Millisecond), now.Sub(sent).Round(time.Millisecond), code, err, body))
				default:
					if _, ok := tr.first[echo.Pod]; !ok {
						tr.first[echo.Pod] = now
					}
					tr.last[echo.Pod] = now
				}
				tr.mu.Unlock()
			}
		}()
	}
	return tr
}

// servedSince lists the pods that answered after since.
func (tr *traffic) servedSince(since time.Time) []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var pods []string
	for pod, at := range tr.last {
		if at.After(since) {
			pods = append(pods, pod)
		}
	}
	slices.Sort(pods)
	return pods
}

func (tr *traffic) stop() (requests int, failures []string, first map[string]time.Time) {
	close(tr.done)
	tr.wg.Wait()
	return tr.requests, tr.failures, tr.first
}

// waitServedBy waits until the echo Deployment has exactly n pods, all
// Ready, and the traffic of the last 3 s came from exactly those pods.
func waitServedBy(t *testing.T, ctx context.Context, c *cluster.Cluster, tr *traffic, n int) {
	t.Helper()
	clustertest.Eventually(t, 180*time.Second, fmt.Sprintf("%d echo pods serving", n), func() error {
		pods, err := c.Client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=echo"})
		if err != nil {
			return err
		}
		var names []string
		for i := range pods.Items {
			if !clustertest.PodReady(&pods.Items[i]) || pods.Items[i].DeletionTimestamp != nil {
				return fmt.Errorf("pod %s not Ready or terminating", pods.Items[i].Name)
			}
			names = append(names, pods.Items[i].Name)
		}
		slices.Sort(names)
		if len(names) != n {
			return fmt.Errorf("%d echo pods %v, want %d", len(names), names, n)
		}
		if served := tr.servedSince(time.Now().Add(-3 * time.Second)); !slices.Equal(served, names) {
			return fmt.Errorf("the last 3 s were served by %v, want %v", served, names)
		}
		return nil
	})
}

// percentile is the p-th percentile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}
