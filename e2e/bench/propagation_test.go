//go:build benche2e

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// pollEvery is how often a new route is asked for until it answers.
const pollEvery = 5 * time.Millisecond

// firstOK asks url on a fresh connection every pollEvery, without retries,
// until it answers 200, and returns when that answer arrived. Other
// answers (404 while the route is not live yet) are expected; errors are
// counted by the callers that care (traffic loops), not here.
func firstOK(ctx context.Context, url string, timeout time.Duration) (time.Time, error) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := time.Now().Add(timeout)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Now(), nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("GET %s: no 200 within %v (last: %s)", url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// The steps of a route change, in order; each is measured from the
// previous one (stored: the API server answered the create).
var stepNames = []string{"operator wrote ConfigMap", "pod annotated", "files visible in pod", "staged (debounce; nginx -t only before a first start)", "reloaded (new workers)", "first 200"}

// change is one measured route change.
type change struct {
	storedToOK time.Duration   // create answered → first 200
	createToOK time.Duration   // create sent → first 200 (what a user of kubectl sees, minus kubectl's start)
	steps      []time.Duration // per stepNames; -1 when unknown
}

// measureChange creates one route and measures it.
func (b *bench) measureChange(name, path string) change {
	sent := time.Now()
	if err := b.createRoute(name, path); err != nil {
		b.t.Fatalf("creating route %s: %v", name, err)
	}
	stored := time.Now()
	ok, err := firstOK(b.ctx, b.url+path+"/x", 2*time.Minute)
	if err != nil {
		b.t.Fatal(err)
	}
	ch := change{storedToOK: ok.Sub(stored), createToOK: ok.Sub(sent)}
	hash := b.settled()
	steps, err := b.sidecarSteps(hash)
	if err != nil {
		b.t.Fatalf("sidecar timings: %v", err)
	}
	cm, _ := b.stamps.first(&b.stamps.configMap, hash)
	pod, _ := b.stamps.first(&b.stamps.pod, hash)
	marks := []time.Time{stored, cm, pod, steps[dataplane.StepMountChanged], steps[dataplane.StepValidated], steps[dataplane.StepReloaded], ok}
	for i := 1; i < len(marks); i++ {
		d := time.Duration(-1)
		if !marks[i].IsZero() && !marks[i-1].IsZero() && marks[i].After(stored) {
			d = marks[i].Sub(marks[i-1])
		}
		ch.steps = append(ch.steps, d)
	}
	b.t.Logf("bench: %s stored → 200 %s; steps %v", name, ms(ch.storedToOK), ch.steps)
	return ch
}

// sizeResult is what was measured with n routes on the Gateway.
type sizeResult struct {
	Routes     int
	StoredToOK percentiles
	CreateToOK percentiles
	Floor      percentiles   // plain nginx: SIGHUP → first 200
	Steps      []percentiles // per stepNames (p50 of each)
	// OperatorRSS is the operator's resident memory right after the
	// changes, OperatorAnon the anonymous part of it (heap, stacks: without
	// the pages of its executable), OperatorPeak its peak so far (VmHWM);
	// the Settled pair once it stopped moving (settledOperatorRSS).
	OperatorRSS, OperatorAnon, OperatorPeak int64
	OperatorSettledRSS, OperatorSettledAnon int64
}

func (s sizeResult) summary() string {
	return fmt.Sprintf("%d routes: stored → 200 %s; plain nginx reload → 200 %s", s.Routes, s.StoredToOK, s.Floor)
}

// propagation measures changes route changes with n routes, each beside
// plain nginx reloading the same routes plus the new one.
func (b *bench) propagation(n, changes int, floor *floor) sizeResult {
	res := sizeResult{Routes: n}
	var stored, created, floors []time.Duration
	steps := make([][]time.Duration, len(stepNames))
	for i := range changes {
		name, path := fmt.Sprintf("new-%d-%d", n, i), fmt.Sprintf("/new-%d-%d", n, i)
		ch := b.measureChange(name, path)
		stored, created = append(stored, ch.storedToOK), append(created, ch.createToOK)
		for j, d := range ch.steps {
			if d >= 0 {
				steps[j] = append(steps[j], d)
			}
		}
		floors = append(floors, floor.addAndReload(path))
	}
	res.StoredToOK, res.CreateToOK, res.Floor = percentilesOf(stored), percentilesOf(created), percentilesOf(floors)
	for _, s := range steps {
		res.Steps = append(res.Steps, percentilesOf(s))
	}
	return res
}

// percentiles of a set of durations (nearest rank).
type percentiles struct {
	N             int
	P50, P90, Max time.Duration
}

func percentilesOf(d []time.Duration) percentiles {
	if len(d) == 0 {
		return percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p int) time.Duration { return s[(p*len(s)+99)/100-1] }
	return percentiles{N: len(s), P50: rank(50), P90: rank(90), Max: s[len(s)-1]}
}

func (p percentiles) String() string {
	if p.N == 0 {
		return "–"
	}
	return fmt.Sprintf("%s / %s / %s", ms(p.P50), ms(p.P90), ms(p.Max))
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%d ms", d.Round(time.Millisecond).Milliseconds())
}
