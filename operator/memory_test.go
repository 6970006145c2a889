package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// memoryRoutesEnv turns TestOperatorMemory on and says how many routes it
// attaches (the figure is 5,000).
const memoryRoutesEnv = "OPERATOR_MEMORY_ROUTES"

// TestOperatorMemory measures the resident memory of the real operator
// binary at scale, without the local cluster: it builds ./operator as
// e2e/product.Build does, runs it against envtest with the Deployment's
// GOGC and GOMEMLIMIT (config/manager), creates a Gateway with N HTTPRoutes
// `PathPrefix /r<i>` on one Service as `make bench-e2e` does, makes a few
// route changes as its propagation bench does, and reports VmRSS, RssAnon
// and RssFile from /proc/<pid>/status, the runtime's MemStats and the top
// of a heap profile (written to OPERATOR_MEMORY_PROFILE when set). It
// reports figures and asserts nothing about them. Off unless
// OPERATOR_MEMORY_ROUTES is set, e.g.
//
//	OPERATOR_MEMORY_ROUTES=5000 go test ./operator -run TestOperatorMemory -v -timeout 30m
func TestOperatorMemory(t *testing.T) {
	routes, _ := strconv.Atoi(os.Getenv(memoryRoutesEnv))
	if routes <= 0 {
		t.Skip(memoryRoutesEnv + " not set")
	}
	ctx := context.Background()
	env, k8s := startAPIServer(t)
	kubeconfig := operatorKubeconfig(t, env, k8s)

	bin := filepath.Join(t.TempDir(), "operator")
	build := exec.Command("go", append(append([]string{"build"}, operatorBuildFlags()...), "-o", bin, ".")...)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bin); err == nil {
		t.Logf("binary: %.1f MiB (go build %s)", float64(fi.Size())/(1<<20), strings.Join(operatorBuildFlags(), " "))
	}

	pprofAddr := freeAddress(t)
	logs := &testenv.SyncBuffer{}
	cmd := exec.Command(bin, "--kubeconfig="+kubeconfig, "--health-probe-bind-address=0",
		"--metrics-bind-address=0", "--pprof-bind-address="+pprofAddr, "--gateway-image=example/gateway:1")
	// What config/manager/manager.yaml sets (GOMEMLIMIT from a 512 MiB
	// limit); the caller's environment wins, to compare settings.
	cmd.Env = append([]string{"GOGC=50", "GOMEMLIMIT=536870912"}, os.Environ()...)
	cmd.Stdout, cmd.Stderr = logs, logs
	startOperator(t, cmd, logs)

	peaks := samplePeaks(t, cmd.Process.Pid, pprofAddr)
	peaks.phase("start-up")

	const className, ns, service = "memory-test", "bench", "echo"
	expectAccepted(t, k8s, className)
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: service},
			Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 8080}}},
		},
		&gatewayv1.Gateway{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
			Spec: gatewayv1.GatewaySpec{
				GatewayClassName: className,
				Listeners:        []gatewayv1.Listener{{Name: "http", Port: 80, Protocol: gatewayv1.HTTPProtocolType}},
			},
		},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	route := func(name, path string) *gatewayv1.HTTPRoute {
		prefix := gatewayv1.PathMatchPathPrefix
		port := gatewayv1.PortNumber(8080)
		return &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: &prefix, Value: &path}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{
						BackendObjectReference: gatewayv1.BackendObjectReference{Name: service, Port: &port},
					}}},
				}},
			},
		}
	}
	// Eight writers at once, as the bench's fillRoutes.
	peaks.phase("routes created")
	began := time.Now()
	names := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Once
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				if err := k8s.Create(ctx, route(fmt.Sprintf("r%d", i), fmt.Sprintf("/r%d", i))); err != nil {
					failed.Do(func() { t.Errorf("creating route %d: %v", i, err) })
				}
			}
		}()
	}
	for i := range routes {
		names <- i
	}
	close(names)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	attached := func(n int) func() error {
		return func() error {
			gw := &gatewayv1.Gateway{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gw"}, gw); err != nil {
				return err
			}
			if len(gw.Status.Listeners) != 1 || int(gw.Status.Listeners[0].AttachedRoutes) != n {
				return fmt.Errorf("listeners %+v", gw.Status.Listeners)
			}
			return nil
		}
	}
	testenv.Eventually(t, 20*time.Minute, fmt.Sprintf("%d routes attached", routes), attached(routes))
	t.Logf("%d routes created and attached in %v", routes, time.Since(began).Round(time.Second))
	peaks.phase("settling")
	report(t, cmd.Process.Pid, pprofAddr, "after the routes")
	peaks.phase("changes")

	// The propagation bench's changes: one more route at a time.
	const changes = 10
	for i := range changes {
		if err := k8s.Create(ctx, route(fmt.Sprintf("extra%d", i), fmt.Sprintf("/extra%d", i))); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, 5*time.Minute, "one more route attached", attached(routes+i+1))
	}
	peaks.phase("settling")
	report(t, cmd.Process.Pid, pprofAddr, fmt.Sprintf("after %d changes", changes))
	peaks.log(t)
	logGCTrace(t, logs.String())
	peaks.logPeakProfile(t)
}

// peakSampler reads the operator's VmRSS every 100 ms and keeps the
// highest reading of each phase of the test, to tell which one makes the
// peak (VmHWM is one figure for the whole run).
type peakSampler struct {
	pid    int
	mu     sync.Mutex
	order  []string
	peak   map[string]int64
	anon   map[string]int64
	cpu    map[string]time.Duration // the operator's CPU time (user + system) in each phase
	since  time.Duration            // the CPU time when the active phase began
	active string
	// With OPERATOR_MEMORY_PEAK_PROFILE set, the heap profile (live heap
	// after the last collection) is read every 500 ms and the largest kept,
	// with the phase it was taken in.
	peakProfile      []byte
	peakProfileBytes int64
	peakProfilePhase string
}

func samplePeaks(t *testing.T, pid int, pprofAddr string) *peakSampler {
	p := &peakSampler{pid: pid, peak: map[string]int64{}, anon: map[string]int64{}, cpu: map[string]time.Duration{}}
	stop := make(chan struct{})
	done := make(chan struct{})
	t.Cleanup(func() { close(stop); <-done })
	if os.Getenv(peakProfileEnv) != "" {
		go p.sampleHeap(stop, pprofAddr)
	}
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return
			}
			var rss, anon int64
			for _, l := range strings.Split(string(raw), "\n") {
				fmt.Sscanf(l, "VmRSS: %d kB", &rss)
				fmt.Sscanf(l, "RssAnon: %d kB", &anon)
			}
			p.mu.Lock()
			p.peak[p.active] = max(p.peak[p.active], rss<<10)
			p.anon[p.active] = max(p.anon[p.active], anon<<10)
			p.mu.Unlock()
		}
	}()
	return p
}

// peakProfileEnv names the file TestOperatorMemory writes the largest heap
// profile of the run to.
const peakProfileEnv = "OPERATOR_MEMORY_PEAK_PROFILE"

func (p *peakSampler) sampleHeap(stop chan struct{}, pprofAddr string) {
	get := func(query string) []byte {
		resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap" + query)
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return body
	}
	for {
		select {
		case <-stop:
			return
		case <-time.After(500 * time.Millisecond):
		}
		// "heap profile: <objects>: <bytes in use> [...": the live heap
		// after the last collection.
		var objects, inUse int64
		if _, err := fmt.Sscanf(string(get("?debug=1")), "heap profile: %d: %d", &objects, &inUse); err != nil {
			continue
		}
		p.mu.Lock()
		larger, phase := inUse > p.peakProfileBytes, p.active
		p.mu.Unlock()
		if !larger {
			continue
		}
		if profile := get(""); profile != nil {
			p.mu.Lock()
			p.peakProfile, p.peakProfileBytes, p.peakProfilePhase = profile, inUse, phase
			p.mu.Unlock()
		}
	}
}

func (p *peakSampler) logPeakProfile(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	path := os.Getenv(peakProfileEnv)
	if path == "" || p.peakProfile == nil {
		return
	}
	if err := os.WriteFile(path, p.peakProfile, 0o644); err != nil {
		t.Fatal(err)
	}
	top, _ := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", "-sample_index=inuse_space", path).CombinedOutput()
	// The header's figure, which chose the profile, is of the sampled
	// allocations unscaled: pprof's total is the live heap.
	t.Logf("the largest live heap seen, while %s: %s\n%s", p.peakProfilePhase, path, top)
}

// phase starts the named phase (a name used again continues it).
func (p *peakSampler) phase(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := testenv.ProcessCPU(p.pid)
	p.cpu[p.active] += now - p.since
	p.since = now
	if _, seen := p.peak[name]; !seen {
		p.order = append(p.order, name)
		p.peak[name] = 0
	}
	p.active = name
}

func (p *peakSampler) log(t *testing.T) {
	p.phase("end")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, name := range p.order[:len(p.order)-1] {
		t.Logf("while %s: highest VmRSS %.1f MiB (RssAnon %.1f MiB), operator CPU time %v", name,
			float64(p.peak[name])/(1<<20), float64(p.anon[name])/(1<<20), p.cpu[name].Round(time.Millisecond))
	}
}

// gcLine is one collection of GODEBUG=gctrace=1: heap at its start, at its
// end, live after it, and the next goal (MB).
var gcLine = regexp.MustCompile(`(\d+)->(\d+)->(\d+) MB, (\d+) MB goal`)

// logGCTrace reports, when the operator ran with GODEBUG=gctrace=1, the
// largest heap any collection started at and the largest live heap any left.
func logGCTrace(t *testing.T, logs string) {
	var gcs, heapMax, liveMax int
	for _, m := range gcLine.FindAllStringSubmatch(logs, -1) {
		heap, _ := strconv.Atoi(m[1])
		live, _ := strconv.Atoi(m[3])
		gcs++
		heapMax, liveMax = max(heapMax, heap), max(liveMax, live)
	}
	if gcs > 0 {
		t.Logf("gctrace: %d collections, the largest heap at a collection's start %d MB, the largest live heap after one %d MB", gcs, heapMax, liveMax)
	}
}

// operatorBuildFlags are the go build flags of TestOperatorMemory's binary:
// OPERATOR_MEMORY_BUILD_FLAGS (space-separated) to compare, otherwise
// those of e2e/product.Build.
func operatorBuildFlags() []string {
	if f, ok := os.LookupEnv("OPERATOR_MEMORY_BUILD_FLAGS"); ok {
		return strings.Fields(f)
	}
	return nil
}

// report waits for the operator to settle (its RSS stops changing for 10
// s, at most 2 minutes), then logs its memory as the kernel and the runtime
// see it and the top of its heap profile.
func report(t *testing.T, pid int, pprofAddr, when string) {
	t.Helper()
	var last map[string]int64
	stable := time.Now()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && time.Since(stable) < 10*time.Second; {
		time.Sleep(time.Second)
		now := procStatus(t, pid)
		if last == nil || abs(now["VmRSS"]-last["VmRSS"]) > 1<<20 {
			stable = time.Now()
		}
		last = now
	}
	mib := func(v int64) string { return fmt.Sprintf("%.1f MiB", float64(v)/(1<<20)) }
	t.Logf("%s: VmRSS %s (RssAnon %s, RssFile %s), VmHWM %s", when, mib(last["VmRSS"]), mib(last["RssAnon"]), mib(last["RssFile"]), mib(last["VmHWM"]))

	// debug=1 ends with the runtime's MemStats as "# Name = value" lines.
	stats := readBody(t, "http://"+pprofAddr+"/debug/pprof/heap?debug=1")
	var line []string
	for _, l := range strings.Split(stats, "\n") {
		for _, name := range []string{"HeapAlloc", "HeapInuse", "HeapIdle", "HeapReleased", "StackInuse", "Sys", "NumGC"} {
			var v int64
			if _, err := fmt.Sscanf(l, "# "+name+" = %d", &v); err == nil {
				if name == "NumGC" {
					line = append(line, fmt.Sprintf("%s %d", name, v))
				} else {
					line = append(line, name+" "+mib(v))
				}
			}
		}
	}
	t.Logf("%s: %s", when, strings.Join(line, ", "))

	profile := os.Getenv("OPERATOR_MEMORY_PROFILE")
	if profile == "" {
		profile = filepath.Join(t.TempDir(), "heap.pprof")
	}
	if err := os.WriteFile(profile, []byte(readBody(t, "http://"+pprofAddr+"/debug/pprof/heap?gc=1")), 0o644); err != nil {
		t.Fatal(err)
	}
	top, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=30", "-sample_index=inuse_space", profile).CombinedOutput()
	if err != nil {
		t.Logf("go tool pprof: %v", err)
	}
	t.Logf("%s: heap profile %s\n%s", when, profile, top)
}

// procStatus reads the memory lines of /proc/<pid>/status, in bytes.
func procStatus(t *testing.T, pid int) map[string]int64 {
	t.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, l := range strings.Split(string(raw), "\n") {
		name, value, ok := strings.Cut(l, ":")
		if !ok || !strings.HasSuffix(value, " kB") {
			continue
		}
		if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(value, " kB")), 10, 64); err == nil {
			got[name] = kb << 10
		}
	}
	return got
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
