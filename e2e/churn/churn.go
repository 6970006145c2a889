package churn

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
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
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/logs"
)

// Target is the Gateway observed and its backend.
type Target struct {
	Cluster *cluster.Cluster
	// Namespace of the Gateway and of the backend's pods.
	Namespace, Gateway string
	// Backend selects the backend's pods (echo-basic): "app.kubernetes.io/name=echo".
	Backend string
	// URL is a route's address through the Gateway.
	URL string
	// Clients is how many clients send requests at once.
	Clients int
}

// Result is what Observe saw.
type Result struct {
	Requests int
	Failures []string
	// NewPods is how many pods became Ready during the churn and served.
	NewPods int
	// ReadyToServed is, per such pod, its Ready → the first request it
	// answered, split at the moment its address was in the endpoints
	// ConfigMap: ReadyToPublished (the operator's part) and
	// PublishedToServed (the sidecar's and nginx's). Sorted.
	ReadyToServed, ReadyToPublished, PublishedToServed []time.Duration
	// Timelines is, per such pod, when it was Ready, in the endpoints
	// ConfigMap and first served (wall clock, to read beside the logs).
	Timelines []string
	// ReloadsBefore and ReloadsAfter are the sidecar's reloads_total.
	ReloadsBefore, ReloadsAfter float64
	// ProcessesBefore and ProcessesAfter are nginx's pids (master and
	// workers) in the gateway pod's network namespace.
	ProcessesBefore, ProcessesAfter []int
	// EndpointUpdates is the sidecar's endpoints_updates_total after.
	EndpointUpdates float64
	// Pickups is how many upstream changes nginx asked the sidecar for
	// during the churn, PickupMean their mean time from the sidecar
	// serving the change to nginx's query (the sidecar's
	// endpoints_pickup_seconds): nginx's own re-resolution wait.
	Pickups    int
	PickupMean time.Duration
	// GatewayPod is the gateway pod observed.
	GatewayPod string
}

// Observer watches one churn: Observe starts it, the caller changes the
// backend (Scale, RolloutRestart, WaitServedBy), Finish ends it.
type Observer struct {
	t         testing.TB
	ctx       context.Context
	target    Target
	gw        *corev1.Pod
	metrics   string
	ready     *readyTimes
	published *firstSeen
	traffic   *Traffic
	res       Result
	// pickupsBefore and pickupSumBefore are pickupMetric's count and sum
	// when Observe began.
	pickupsBefore, pickupSumBefore float64
}

// pickupMetric is the sidecar's histogram of nginx's re-resolution wait.
const pickupMetric = "nginx_gateway_sidecar_endpoints_pickup_seconds"

// Observe starts watching the backend's pods and the Gateway's endpoints
// ConfigMap and starts the clients. The Gateway must have one pod.
func Observe(ctx context.Context, t testing.TB, target Target) *Observer {
	t.Helper()
	o := &Observer{t: t, ctx: ctx, target: target}
	o.gw = GatewayPod(ctx, t, target)
	o.metrics = fmt.Sprintf("http://%s:%d%s", o.gw.Status.PodIP, dataplane.MetricsPort, dataplane.MetricsPath)
	o.res.GatewayPod = o.gw.Name
	o.res.ReloadsBefore = SidecarCounter(t, o.metrics, "nginx_gateway_sidecar_reloads_total")
	o.pickupsBefore, o.pickupSumBefore = SidecarCounter(t, o.metrics, pickupMetric+"_count"), SidecarCounter(t, o.metrics, pickupMetric+"_sum")
	o.res.ProcessesBefore = NginxProcesses(t, o.gw)
	if len(o.res.ProcessesBefore) < 2 {
		t.Fatalf("found nginx processes %v in the gateway pod's network namespace, want a master and workers", o.res.ProcessesBefore)
	}
	o.ready = watchReady(ctx, t, target)
	o.published = watchPublished(ctx, t, target)
	o.traffic = StartTraffic(target.URL, max(target.Clients, 1))
	return o
}

// Scale sets the backend Deployment's replicas and waits until exactly
// those pods serve.
func (o *Observer) Scale(deployment string, n int) {
	o.t.Helper()
	if _, err := clustertest.Kubectl(o.ctx, o.target.Cluster, "scale", "-n", o.target.Namespace, "deployment/"+deployment, "--replicas="+strconv.Itoa(n)); err != nil {
		o.t.Fatal(err)
	}
	o.WaitServedBy(n)
}

// RolloutRestart restarts the backend Deployment (kubectl rollout restart),
// waits for the rollout and until its n pods serve.
func (o *Observer) RolloutRestart(deployment string, n int) {
	o.t.Helper()
	if _, err := clustertest.Kubectl(o.ctx, o.target.Cluster, "rollout", "restart", "-n", o.target.Namespace, "deployment/"+deployment); err != nil {
		o.t.Fatal(err)
	}
	if _, err := clustertest.Kubectl(o.ctx, o.target.Cluster, "rollout", "status", "-n", o.target.Namespace, "deployment/"+deployment, "--timeout=180s"); err != nil {
		o.t.Fatal(err)
	}
	o.WaitServedBy(n)
}

// WaitServedBy waits until the backend has exactly n pods, all Ready, and
// the traffic of the last 3 s came from exactly those pods.
func (o *Observer) WaitServedBy(n int) {
	o.t.Helper()
	c := o.target.Cluster
	clustertest.Eventually(o.t, 180*time.Second, fmt.Sprintf("%d backend pods serving", n), func() error {
		pods, err := c.Client.CoreV1().Pods(o.target.Namespace).List(o.ctx, metav1.ListOptions{LabelSelector: o.target.Backend})
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
			return fmt.Errorf("%d backend pods %v, want %d", len(names), names, n)
		}
		if served := o.traffic.servedSince(time.Now().Add(-3 * time.Second)); !slices.Equal(served, names) {
			return fmt.Errorf("the last 3 s were served by %v, want %v", served, names)
		}
		return nil
	})
}

// WaitNewPodsServed waits until every pod that became Ready since Observe
// began has answered a request (or is gone: a pod replaced before it
// served is then missing from the figures and counted in NewPods' absence).
func (o *Observer) WaitNewPodsServed() {
	o.t.Helper()
	clustertest.Eventually(o.t, 60*time.Second, "every new backend pod served", func() error {
		pods, err := o.target.Cluster.Client.CoreV1().Pods(o.target.Namespace).List(o.ctx, metav1.ListOptions{LabelSelector: o.target.Backend})
		if err != nil {
			return err
		}
		o.traffic.mu.Lock()
		defer o.traffic.mu.Unlock()
		for i := range pods.Items {
			pod := &pods.Items[i]
			if _, served := o.traffic.first[pod.Name]; !served && !o.ready.before[pod.Name] && clustertest.PodReady(pod) && pod.DeletionTimestamp == nil {
				return fmt.Errorf("pod %s is Ready and has not served yet", pod.Name)
			}
		}
		return nil
	})
}

// Finish stops the clients and returns what was seen.
func (o *Observer) Finish() Result {
	o.t.Helper()
	requests, failures, firstServed := o.traffic.Stop()
	o.res.Requests, o.res.Failures = requests, failures
	for pod, servedAt := range firstServed {
		readyAt, ok := o.ready.at(pod)
		if !ok || o.ready.before[pod] {
			continue
		}
		o.res.ReadyToServed = append(o.res.ReadyToServed, servedAt.Sub(readyAt))
		timeline := fmt.Sprintf("%s (%s): Ready %s", pod, o.ready.ip(pod), readyAt.Format("15:04:05.000"))
		if at, ok := o.published.at(o.ready.ip(pod)); ok {
			o.res.ReadyToPublished = append(o.res.ReadyToPublished, at.Sub(readyAt))
			o.res.PublishedToServed = append(o.res.PublishedToServed, servedAt.Sub(at))
			timeline += ", in the ConfigMap " + at.Format("15:04:05.000")
		}
		o.res.Timelines = append(o.res.Timelines, timeline+", first served "+servedAt.Format("15:04:05.000"))
	}
	o.res.NewPods = len(o.res.ReadyToServed)
	for _, d := range [][]time.Duration{o.res.ReadyToServed, o.res.ReadyToPublished, o.res.PublishedToServed} {
		slices.Sort(d)
	}
	o.res.ReloadsAfter = SidecarCounter(o.t, o.metrics, "nginx_gateway_sidecar_reloads_total")
	o.res.ProcessesAfter = NginxProcesses(o.t, o.gw)
	o.res.EndpointUpdates = SidecarCounter(o.t, o.metrics, "nginx_gateway_sidecar_endpoints_updates_total")
	if n := SidecarCounter(o.t, o.metrics, pickupMetric+"_count") - o.pickupsBefore; n > 0 {
		o.res.Pickups = int(n)
		o.res.PickupMean = time.Duration((SidecarCounter(o.t, o.metrics, pickupMetric+"_sum") - o.pickupSumBefore) / n * float64(time.Second))
	}
	return o.res
}

// NginxLogNotOK is the gateway pod's nginx log lines other than 200s, to
// explain failures.
func (o *Observer) NginxLogNotOK() string {
	out, _ := clustertest.Kubectl(o.ctx, o.target.Cluster, "logs", "-n", o.target.Namespace, o.gw.Name, "-c", "nginx")
	return LinesNotOK(out)
}

// LinesNotOK is nginx's output without the access lines of 200s (of any
// access log format): the error log and the other answers.
func LinesNotOK(out string) string {
	var notOK []string
	for _, line := range strings.Split(out, "\n") {
		if e, ok := logs.Parse(line); line != "" && (!ok || e.Status != 200) {
			notOK = append(notOK, line)
		}
	}
	return strings.Join(notOK, "\n")
}

// SidecarLog is the gateway pod's sidecar log lines that contain text.
func (o *Observer) SidecarLog(text string) string {
	out, _ := clustertest.Kubectl(o.ctx, o.target.Cluster, "logs", "-n", o.target.Namespace, o.gw.Name, "-c", dataplane.SidecarContainerName)
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, text) {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n")
}

// GatewayPod is the Gateway's one pod (the scenarios' sample Gateway has one replica).
func GatewayPod(ctx context.Context, t testing.TB, target Target) *corev1.Pod {
	t.Helper()
	pods, err := target.Cluster.Client.CoreV1().Pods(target.Namespace).List(ctx, metav1.ListOptions{
		LabelSelector: dataplane.LabelGatewayName + "=" + target.Gateway + "," + dataplane.LabelGatewayNamespace + "=" + target.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Status.PodIP == "" {
		t.Fatalf("want one running pod of Gateway %s, have %d", target.Gateway, len(pods.Items))
	}
	return &pods.Items[0]
}

// SidecarCounter reads one counter of the sidecar's /metrics.
func SidecarCounter(t testing.TB, url, name string) float64 {
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

// NginxProcesses lists the pids of the nginx processes (master and
// workers) in pod's network namespace, sorted. The local cluster's node
// agent runs each pod in the network namespace /run/netns/lclu-<first 4
// bytes of sha256(pod UID) in hex>; processes are the host's own.
func NginxProcesses(t testing.TB, pod *corev1.Pod) []int {
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

// firstSeen records when the observer first saw each key.
type firstSeen struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (f *firstSeen) record(key string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]time.Time{}
	}
	if _, ok := f.seen[key]; !ok {
		f.seen[key] = at
	}
}

func (f *firstSeen) at(key string) (time.Time, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	at, ok := f.seen[key]
	return at, ok
}

// readyTimes records when each backend pod was first seen Ready, and its IP.
type readyTimes struct {
	firstSeen
	// before are the pods Ready when the watch began.
	before map[string]bool
	ipsMu  sync.Mutex
	ips    map[string]string
}

func (r *readyTimes) ip(pod string) string {
	r.ipsMu.Lock()
	defer r.ipsMu.Unlock()
	return r.ips[pod]
}

// watchReady watches the backend's pods until the test ends.
func watchReady(ctx context.Context, t testing.TB, target Target) *readyTimes {
	t.Helper()
	r := &readyTimes{before: map[string]bool{}, ips: map[string]string{}}
	selector := metav1.ListOptions{LabelSelector: target.Backend}
	pods, err := target.Cluster.Client.CoreV1().Pods(target.Namespace).List(ctx, selector)
	if err != nil {
		t.Fatal(err)
	}
	for i := range pods.Items {
		if clustertest.PodReady(&pods.Items[i]) {
			r.before[pods.Items[i].Name] = true
		}
	}
	selector.ResourceVersion = pods.ResourceVersion
	w, err := target.Cluster.Client.CoreV1().Pods(target.Namespace).Watch(ctx, selector)
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
			r.record(pod.Name, time.Now())
			r.ipsMu.Lock()
			if _, ok := r.ips[pod.Name]; !ok {
				r.ips[pod.Name] = pod.Status.PodIP
			}
			r.ipsMu.Unlock()
		}
	}()
	return r
}

// watchPublished watches the Gateway's endpoints ConfigMap
// (resources.EndpointsName) until the test ends, recording when each
// address was first seen in it.
func watchPublished(ctx context.Context, t testing.TB, target Target) *firstSeen {
	t.Helper()
	p := &firstSeen{}
	w, err := target.Cluster.Client.CoreV1().ConfigMaps(target.Namespace).Watch(ctx, metav1.ListOptions{
		FieldSelector: "metadata.name=" + resources.EndpointsName(target.Gateway)})
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
			for _, value := range cm.Data {
				for _, line := range strings.Fields(value) {
					if ip, _, ok := strings.Cut(line, ":"); ok {
						p.record(ip, now)
					}
				}
			}
		}
	}()
	return p
}

// Traffic is clients sending GETs in a loop, each on a fresh connection
// and never retried, plus a prober that sends one such GET every
// probeEvery whatever the others wait for, recording failures and when
// each pod first answered.
//
// The prober is what times a new pod's first request: during a rollout the
// old pod's address stays in nginx until it re-resolves (up to a second),
// and a connection to a pod that is gone waits proxy_connect_timeout (2 s)
// before nginx tries another; the loop clients can all be waiting for that
// at once, and then nobody asks while the new pod is already in nginx.
type Traffic struct {
	done     chan struct{}
	wg       sync.WaitGroup
	began    time.Time
	mu       sync.Mutex
	requests int
	failures []string
	first    map[string]time.Time
	last     map[string]time.Time
}

// probeEvery is how often the prober sends a request; at most maxProbes
// wait for their answers at once.
const (
	probeEvery = 20 * time.Millisecond
	maxProbes  = 200
)

// StartTraffic starts clients GETting url, and the prober, until Stop.
func StartTraffic(url string, clients int) *Traffic {
	tr := &Traffic{done: make(chan struct{}), began: time.Now(), first: map[string]time.Time{}, last: map[string]time.Time{}}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
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
				tr.request(client, url)
			}
		}()
	}
	tr.wg.Add(1)
	go func() {
		defer tr.wg.Done()
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		slots := make(chan struct{}, maxProbes)
		for {
			select {
			case <-tr.done:
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // maxProbes are waiting: skip this one
			}
			tr.wg.Add(1)
			go func() {
				defer tr.wg.Done()
				defer func() { <-slots }()
				tr.request(client, url)
			}()
		}
	}()
	return tr
}

// request sends one GET and records its outcome.
func (tr *Traffic) request(client *http.Client, url string) {
	sent := time.Now()
	code, body, err := get(client, url)
	var echo struct{ Pod string }
	if err == nil && code == http.StatusOK {
		err = json.Unmarshal([]byte(body), &echo)
	}
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.requests++
	switch {
	case err != nil || code != http.StatusOK || echo.Pod == "":
		tr.failures = append(tr.failures, fmt.Sprintf("at %s (took %s): status %d, error %v, body %.80q",
			sent.Sub(tr.began).Round(time.Millisecond), now.Sub(sent).Round(time.Millisecond), code, err, body))
	default:
		if first, ok := tr.first[echo.Pod]; !ok || now.Before(first) {
			tr.first[echo.Pod] = now
		}
		if now.After(tr.last[echo.Pod]) {
			tr.last[echo.Pod] = now
		}
	}
}

// get sends one GET (the client never keeps connections alive and never
// retries) and reads the whole answer.
func get(client *http.Client, url string) (int, string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// servedSince lists the pods that answered after since.
func (tr *Traffic) servedSince(since time.Time) []string {
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

// Stop ends the clients and returns what they saw.
func (tr *Traffic) Stop() (requests int, failures []string, first map[string]time.Time) {
	close(tr.done)
	tr.wg.Wait()
	return tr.requests, tr.failures, tr.first
}

// Percentile is the p-th percentile of sorted durations (nearest rank).
func Percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}
