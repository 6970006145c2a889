//go:build benche2e

package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// churnResult is route churn under traffic.
type churnResult struct {
	Routes, Changes     int
	Requests, Failed    int64
	FirstFailures       []string
	GenerationsPeak     int
	StoredToOKUnderLoad percentiles
}

// trafficLoops is how many clients send requests during churn, each on a
// fresh connection per request, never retrying.
const trafficLoops = 4

// churn makes changes route changes (one after the other, each until it
// serves) while clients request an existing route, and counts every
// request that did not answer 200, and the most nginx worker generations
// alive at once (the sidecar's gauge, read every 100 ms).
func (b *bench) churn(changes int) churnResult {
	res := churnResult{Routes: len(b.paths), Changes: changes}
	ctx, stop := context.WithCancel(b.ctx)
	var requests, failed atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	target := b.url + b.paths[0] + "/x"
	for range trafficLoops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
			for ctx.Err() == nil {
				resp, err := client.Get(target)
				msg := ""
				if err != nil {
					msg = err.Error()
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						msg = resp.Status
					}
				}
				if ctx.Err() != nil && err != nil {
					return // cancelled mid-request: not the gateway's failure
				}
				requests.Add(1)
				if msg != "" {
					failed.Add(1)
					mu.Lock()
					if len(res.FirstFailures) < 5 {
						res.FirstFailures = append(res.FirstFailures, msg)
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			if g, err := b.sidecarGauge("worker_generations"); err == nil && int(g) > res.GenerationsPeak {
				mu.Lock()
				res.GenerationsPeak = int(g)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	var under []time.Duration
	for i := range changes {
		ch := b.measureChange(fmt.Sprintf("churn-%d", i), fmt.Sprintf("/churn-%d", i))
		under = append(under, ch.storedToOK)
	}
	stop()
	wg.Wait()
	res.Requests, res.Failed = requests.Load(), failed.Load()
	res.StoredToOKUnderLoad = percentilesOf(under)
	return res
}

// throughputResult compares requests/s through the gateway with plain
// nginx's hand-written keepalive config, same backends, same client.
type throughputResult struct {
	Tool, Args             string
	Gateway, Plain         float64 // requests/s (best of the runs)
	GatewayErrs, PlainErrs string
}

// wrkArgs: two client threads (the machine's cores), 64 connections kept
// alive, like the baseline.
var wrkArgs = []string{"-t2", "-c64"}

// throughput runs wrk against one route of each, alternating, twice each.
func (b *bench) throughput(f *floor, d time.Duration) *throughputResult {
	if _, err := exec.LookPath("wrk"); err != nil {
		b.t.Logf("bench: wrk is not installed (apt-get install wrk): throughput not measured")
		return nil
	}
	res := &throughputResult{Tool: "wrk", Args: fmt.Sprintf("%v -d%s", wrkArgs, d)}
	path := b.paths[0] + "/x"
	for range 2 {
		for _, side := range []struct {
			url  string
			best *float64
			errs *string
		}{
			{fmt.Sprintf("http://%s:80%s", b.podIP, path), &res.Gateway, &res.GatewayErrs},
			{f.url + path, &res.Plain, &res.PlainErrs},
		} {
			rps, errs := runWrk(b.t.Context(), side.url, d)
			if rps > *side.best {
				*side.best = rps
			}
			if errs != "" {
				*side.errs = errs
			}
		}
	}
	b.t.Logf("bench: throughput gateway %.0f/s, plain nginx %.0f/s", res.Gateway, res.Plain)
	return res
}

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkErrors = regexp.MustCompile(`(Socket errors:.*|Non-2xx or 3xx responses:.*)`)
)

// runWrk returns the requests per second and wrk's error lines.
func runWrk(ctx context.Context, url string, d time.Duration) (float64, string) {
	args := append(append([]string{}, wrkArgs...), "-d"+d.String(), url)
	out, err := exec.CommandContext(ctx, "wrk", args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Sprintf("wrk: %v: %s", err, out)
	}
	m := wrkRate.FindSubmatch(out)
	if m == nil {
		return 0, "wrk: no rate in " + string(out)
	}
	rps, _ := strconv.ParseFloat(string(m[1]), 64)
	errs := ""
	for _, e := range wrkErrors.FindAll(out, -1) {
		errs += string(e) + " "
	}
	return rps, errs
}
