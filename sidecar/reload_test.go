package main

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestAtomicUpdateReloadsOnce: a kubelet-style update of both mounts is
// reloaded exactly once (and not checked with nginx -t besides), and nginx serves the new routing and
// the new certificate. The debounce is an hour: the change is applied when
// its second swap completes it (dataplane.SecretsHashKey), not when the
// burst settles, and the half-swapped state between the two is not.
func TestAtomicUpdateReloadsOnce(t *testing.T) {
	p := newPod(t)
	p.extraSidecarArgs = []string{"--debounce", "1h", "--debounce-max", "1h"}
	backend := okBackend(t)
	v1 := httpConfig(p.ip, backend, 1, newCert(t), "")
	p.write(v1)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	p.waitServed("/proxy", "backend")
	p.waitApplied(v1.hash())

	validations, reloads := p.metric("validations_total"), p.metric("reloads_total")
	cert2 := newCert(t)
	v2 := httpConfig(p.ip, backend, 2, cert2, `    location = /new { return 200 "new route"; }`)
	p.write(v2) // ConfigMap, then Secret: two kubelet updates, one burst
	p.waitServed("/new", "new route")
	p.waitServed("/", "v=2")
	serial, err := p.servedCertSerial()
	if err != nil {
		t.Fatal(err)
	}
	if want := cert2.serial(t); serial.Cmp(want) != 0 {
		t.Errorf("https serves certificate %v, want the new one %v", serial, want)
	}
	// Later events of the same update (the kubelet removing the old
	// version) must not cause more work.
	time.Sleep(500 * time.Millisecond)
	p.checkStepOrder()
	// One parse per change: the reload's own (no nginx -t while nginx runs).
	if got := p.metric("validations_total") - validations; got != 0 {
		t.Errorf("nginx -t runs for one update: %v, want 0", got)
	}
	if got := p.metric("reloads_total") - reloads; got != 1 {
		t.Errorf("reloads for one update: %v, want 1", got)
	}
	if got := p.metric("reload_failures_total") + p.metric("validation_failures_total"); got != 0 {
		t.Errorf("failures: %v, want 0", got)
	}
	if got, _ := p.appliedHash(); got != v2.hash() {
		t.Errorf("applied hash %q, want %q", got, v2.hash())
	}
	// Only the live and the previous staging folders are kept.
	entries, err := os.ReadDir(filepath.Join(p.run, "configs"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	want := []string{v1.hash(), v2.hash()}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("staging folders %v, want %v", names, want)
	}
	live, err := os.Readlink(filepath.Join(p.run, "live"))
	if err != nil || filepath.Base(live) != v2.hash() {
		t.Errorf("live -> %q (%v), want the folder of %s", live, err, v2.hash())
	}
}

// TestHalfSwappedConfigMapWaits: a ConfigMap whose Secret has not been
// swapped in yet (its dataplane.SecretsHashKey names other Secret files)
// is not applied, nor refused, and does not move the steps of the change
// nginx serves; once the Secret follows, it is applied.
func TestHalfSwappedConfigMapWaits(t *testing.T) {
	p := newPod(t)
	backend := okBackend(t)
	p.serve(httpConfig(p.ip, backend, 0, newCert(t), ""), "v=0")
	v1 := httpConfig(p.ip, backend, 1, newCert(t), "")
	p.write(v1) // a change nginx serves, whose steps the half-swapped one must not move
	p.waitApplied(v1.hash())
	p.checkStepOrder()
	reloads := p.metric("reloads_total")

	v2 := httpConfig(p.ip, backend, 2, newCert(t), "")
	configMap := maps.Clone(v2.configFiles)
	configMap[dataplane.SecretsHashKey] = []byte(dataplane.Hash(v2.secretFiles))
	if err := kubeletvolume.WriteKeys(p.configDir, configMap, 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // time to (wrongly) apply it
	if got, _ := p.appliedHash(); got != v1.hash() {
		t.Fatalf("applied %q while the Secret was not swapped in, want v1 %q still", got, v1.hash())
	}
	if got := p.metric("reloads_total") - reloads; got != 0 || p.metric("config_rejected") != 0 {
		t.Errorf("half-swapped mounts: %v reloads, config_rejected %v; want none", got, p.metric("config_rejected"))
	}
	p.checkStepOrder()
	if err := kubeletvolume.WriteKeys(p.secretDir, v2.secretFiles, 0o600); err != nil {
		t.Fatal(err)
	}
	p.waitApplied(v2.hash())
	p.waitServed("/", "v=2")
	p.checkStepOrder()
}

// TestNginxRestartServesLastGoodConfig: after nginx is killed outright
// (master and workers), a new exec-nginx starts from the last config that
// nginx accepted, not from a later refused one, and the sidecar keeps
// reloading the new master.
func TestNginxRestartServesLastGoodConfig(t *testing.T) {
	p := newPod(t)
	backend := okBackend(t)
	cert := newCert(t)
	p.write(httpConfig(p.ip, backend, 1, cert, ""))
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	p.write(httpConfig(p.ip, backend, 2, cert, ""))
	p.waitServed("/", "v=2")
	bad := httpConfig(p.ip, backend, 3, cert, "    retrun 200;")
	p.write(bad)
	testenv.Eventually(t, 20*time.Second, "bad config refused", func() error {
		if p.metric("validation_failures_total")+p.metric("reload_failures_total") != 1 {
			return fmt.Errorf("bad config not refused yet")
		}
		return nil
	})

	master, workers := p.nginxPids()
	// The master first: killed after its workers, it would respawn one
	// that outlives it.
	for _, pid := range append([]int{master}, workers...) {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-p.nginx.done:
	case <-time.After(10 * time.Second):
		t.Fatal("exec-nginx did not exit after its nginx was killed")
	}
	if code := p.nginx.cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("exec-nginx exit code %d after nginx was killed, want non-zero", code)
	}
	testenv.Eventually(t, 10*time.Second, "nothing answers", func() error {
		if _, _, err := p.get("http", "/"); err == nil {
			return fmt.Errorf("something still answers after nginx was killed")
		}
		return nil
	})
	p.startNginx() // the container restart
	p.waitServed("/", "v=2")
	newMaster, _ := p.nginxPids()
	if newMaster == master {
		t.Fatalf("nginx master pid %d unchanged", master)
	}
	p.write(httpConfig(p.ip, backend, 4, cert, ""))
	p.waitServed("/", "v=4")
}

// TestRapidUpdatesCoalesce: a burst of updates is applied as few times, and
// the final state is the last update.
func TestRapidUpdatesCoalesce(t *testing.T) {
	const updates = 20
	p := newPod(t)
	backend := okBackend(t)
	cert := newCert(t)
	p.write(httpConfig(p.ip, backend, 0, cert, ""))
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=0")
	reloads := p.metric("reloads_total")
	var last config
	for v := 1; v <= updates; v++ {
		last = httpConfig(p.ip, backend, v, cert, "")
		p.write(last)
	}
	p.waitApplied(last.hash())
	p.waitServed("/", fmt.Sprintf("v=%d", updates))
	time.Sleep(300 * time.Millisecond)
	p.checkStepOrder() // the burst's trailing notification came after its leading change
	got := p.metric("reloads_total") - reloads
	t.Logf("%d updates → %v reloads", updates, got)
	if got > 2 {
		t.Errorf("%d rapid updates caused %v reloads, want them coalesced (≤ 2: the first at once, the rest once settled)", updates, got)
	}
}

// TestReloadsAreSpaced: updates that each settle on their own (further
// apart than the debounce) but come faster than --min-reload-interval are
// applied together, at most one reload per interval, and the last one wins.
func TestReloadsAreSpaced(t *testing.T) {
	const (
		updates  = 16
		every    = 120 * time.Millisecond // > the 50 ms debounce
		interval = 600 * time.Millisecond
	)
	p := newPod(t)
	p.extraSidecarArgs = []string{"--min-reload-interval", interval.String()}
	backend := okBackend(t)
	cert := newCert(t)
	p.serve(httpConfig(p.ip, backend, 0, cert, ""), "v=0")
	reloads := p.metric("reloads_total")
	began := time.Now()
	var last config
	for v := 1; v <= updates; v++ {
		last = httpConfig(p.ip, backend, v, cert, "")
		p.write(last)
		time.Sleep(every)
	}
	p.waitApplied(last.hash())
	p.waitServed("/", fmt.Sprintf("v=%d", updates))
	got := p.metric("reloads_total") - reloads
	// One at the first update, one per interval after it, and the last.
	most := float64(time.Since(began)/interval) + 2
	t.Logf("%d updates %v apart → %v reloads (at most %v)", updates, every, got, most)
	if got > most {
		t.Errorf("%d updates over %v caused %v reloads, want at most %v (one per %v)", updates, time.Since(began), got, most, interval)
	}
}

// TestGenerationsBoundReloads: with --max-worker-generations 2, a reload
// while an old generation still drains a request waits until it is done;
// the change is then applied.
func TestGenerationsBoundReloads(t *testing.T) {
	p := newPod(t)
	p.extraSidecarArgs = []string{"--max-worker-generations", "2", "--min-reload-interval", "0s"}
	release := make(chan struct{})
	slow := startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/proxy/slow" {
			<-release
		}
		_, _ = w.Write([]byte("backend"))
	})
	cert := newCert(t)
	p.serve(httpConfig(p.ip, slow, 1, cert, ""), "v=1")
	inFlight := make(chan error, 1)
	go func() {
		_, _, err := p.get("http", "/proxy/slow")
		inFlight <- err
	}()
	time.Sleep(300 * time.Millisecond) // the request reaches a v1 worker
	v2 := httpConfig(p.ip, slow, 2, cert, "")
	p.write(v2)
	p.waitApplied(v2.hash()) // 2 generations now: v1 draining, v2
	testenv.Eventually(t, 5*time.Second, "2 generations seen", func() error {
		if got := p.metric("worker_generations"); got != 2 {
			return fmt.Errorf("worker_generations %v", got)
		}
		return nil
	})
	v3 := httpConfig(p.ip, slow, 3, cert, "")
	p.write(v3)
	time.Sleep(time.Second)
	if code, body, err := p.get("http", "/"); err != nil || body != "v=2" {
		t.Errorf("with 2 generations alive nginx answers %d %q (%v), want v=2 (reload held back)", code, body, err)
	}
	close(release)
	if err := <-inFlight; err != nil {
		t.Fatalf("the request in flight across the reload: %v", err)
	}
	p.waitServed("/", "v=3")
	if got := p.metric("worker_generations_peak"); got != 2 {
		t.Errorf("worker_generations_peak %v, want 2", got)
	}
}

// TestNoDroppedRequestsDuringReloads: under a steady request loop, 50
// successive config changes drop no request and answer no 5xx.
func TestNoDroppedRequestsDuringReloads(t *testing.T) {
	const (
		changes     = 50
		maxRequests = 200000
		maxDuration = 3 * time.Minute
	)
	p := newPod(t)
	backend := okBackend(t)
	cert := newCert(t)
	p.write(httpConfig(p.ip, backend, 0, cert, ""))
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=0")
	p.waitServed("/proxy", "backend")

	type result struct {
		requests, failures, serverErrors int
		firstError                       string
	}
	stop := make(chan struct{})
	done := make(chan result)
	go func() {
		var r result
		deadline := time.Now().Add(maxDuration)
		paths := []string{"/", "/proxy"}
		for r.requests < maxRequests && time.Now().Before(deadline) {
			select {
			case <-stop:
				done <- r
				return
			default:
			}
			code, _, err := p.get("http", paths[r.requests%2])
			r.requests++
			switch {
			case err != nil:
				r.failures++
				if r.firstError == "" {
					r.firstError = err.Error()
				}
			case code >= 500:
				r.serverErrors++
				if r.firstError == "" {
					r.firstError = fmt.Sprintf("status %d", code)
				}
			}
		}
		<-stop
		done <- r
	}()

	reloads := p.metric("reloads_total")
	for v := 1; v <= changes; v++ {
		c := httpConfig(p.ip, backend, v, cert, fmt.Sprintf("    location = /v%d { return 200 \"route %d\"; }", v, v))
		p.write(c)
		p.waitApplied(c.hash())
	}
	close(stop)
	r := <-done
	gotReloads := p.metric("reloads_total") - reloads
	t.Logf("%d requests during %v reloads: %d failed, %d 5xx", r.requests, gotReloads, r.failures, r.serverErrors)
	if gotReloads != changes {
		t.Errorf("reloads: %v, want %d", gotReloads, changes)
	}
	if r.requests < changes {
		t.Errorf("only %d requests ran: the loop did not overlap the reloads", r.requests)
	}
	if r.failures+r.serverErrors > 0 {
		t.Errorf("%d requests failed and %d answered 5xx (first: %s)", r.failures, r.serverErrors, r.firstError)
	}
	p.waitServed(fmt.Sprintf("/v%d", changes), fmt.Sprintf("route %d", changes))
}

// TestSidecarRestartKeepsServing: a restarted sidecar takes the live tree
// as applied (no validation or reload when the mounts still match) and
// applies what changed while it was down. /readyz follows nginx.
func TestSidecarRestartKeepsServing(t *testing.T) {
	p := newPod(t)
	backend := okBackend(t)
	cert := newCert(t)
	v1 := httpConfig(p.ip, backend, 1, cert, "")
	p.write(v1)
	p.startSidecar()
	testenv.Eventually(t, 10*time.Second, "readyz 503", func() error { return p.ready(http.StatusServiceUnavailable) })
	p.startNginx()
	p.waitServed("/", "v=1")
	testenv.Eventually(t, 10*time.Second, "readyz 200", func() error { return p.ready(http.StatusOK) })

	p.sidecar.stop(10 * time.Second)
	p.startSidecar()
	p.waitApplied(v1.hash())
	if v, r := p.metric("validations_total"), p.metric("reloads_total"); v != 0 || r != 0 {
		t.Errorf("restarted sidecar validated %v and reloaded %v times for an unchanged config, want 0", v, r)
	}

	p.sidecar.stop(10 * time.Second)
	p.write(httpConfig(p.ip, backend, 2, cert, ""))
	p.startSidecar()
	p.waitServed("/", "v=2")
	if r := p.metric("reloads_total"); r != 1 {
		t.Errorf("reloads after a change made while the sidecar was down: %v, want 1", r)
	}
	testenv.Eventually(t, 10*time.Second, "readyz 200", func() error { return p.ready(http.StatusOK) })
}

// TestWorkerGenerationsMetric: a request in flight keeps the old workers
// alive after a reload (they drain), which the worker_generations gauge
// counts until the request ends; the peak gauge keeps the most seen.
func TestWorkerGenerationsMetric(t *testing.T) {
	p := newPod(t)
	release := make(chan struct{})
	slow := startBackend(t, func(w http.ResponseWriter, _ *http.Request) {
		<-release
		_, _ = w.Write([]byte("backend"))
	})
	p.serve(httpConfig(p.ip, slow, 1, newCert(t), ""), "v=1")
	waitGenerations := func(want float64) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%v worker generations", want), func() error {
			if got := p.metric("worker_generations"); got != want {
				return fmt.Errorf("worker_generations %v", got)
			}
			return nil
		})
	}
	waitGenerations(1)

	inFlight := make(chan error, 1)
	go func() {
		_, _, err := p.get("http", "/proxy")
		inFlight <- err
	}()
	time.Sleep(300 * time.Millisecond) // the request reaches a v1 worker
	v2 := httpConfig(p.ip, slow, 2, newCert(t), "")
	p.write(v2)
	p.waitApplied(v2.hash())
	waitGenerations(2)
	close(release)
	if err := <-inFlight; err != nil {
		t.Fatalf("the request in flight across the reload: %v", err)
	}
	waitGenerations(1)
	if got := p.metric("worker_generations_peak"); got != 2 {
		t.Errorf("worker_generations_peak %v, want 2", got)
	}
}
