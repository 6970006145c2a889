package logs

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Filter selects entries; zero fields select everything.
type Filter struct {
	// Route is "namespace/name"; it selects a TCP/UDP/TLS session's
	// "KIND namespace/name" too.
	Route string
	// Rule is the rule's name or index, as the access log writes it.
	Rule string
	// Statuses are exact codes ("404") or classes ("5xx"), any of which
	// selects an entry.
	Statuses []string
}

// ParseStatuses checks a --status value: comma-separated codes or classes.
func ParseStatuses(s string) ([]string, error) {
	if s == "" {
		return nil, nil
	}
	var out []string
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		ok := len(part) == 3 && part[0] >= '1' && part[0] <= '5'
		if ok && part[1:] != "xx" {
			_, err := strconv.Atoi(part)
			ok = err == nil
		}
		if !ok {
			return nil, fmt.Errorf("status %q: want a code (404) or a class (5xx)", part)
		}
		out = append(out, part)
	}
	return out, nil
}

// Match reports whether e is selected.
func (f Filter) Match(e Entry) bool {
	if f.Route != "" && e.Route != f.Route && !strings.HasSuffix(e.Route, " "+f.Route) {
		return false
	}
	if f.Rule != "" && e.Rule != f.Rule {
		return false
	}
	if len(f.Statuses) == 0 {
		return true
	}
	code := strconv.Itoa(e.Status)
	for _, s := range f.Statuses {
		if s == code || (strings.HasSuffix(s, "xx") && len(code) == 3 && code[0] == s[0]) {
			return true
		}
	}
	return false
}

// Summary is the traffic of one route and backend.
type Summary struct {
	Route    string `json:"route"`
	Backend  string `json:"backend"`
	Requests int    `json:"requests"`
	// Errors counts 5xx answers; ErrorRate is Errors/Requests.
	Errors    int     `json:"errors"`
	ErrorRate float64 `json:"errorRate"`
	// P50 and P99 are request_time percentiles in seconds (nearest rank).
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

// Summarize groups entries per route and backend, sorted.
func Summarize(entries []Entry) []Summary {
	type key struct{ route, backend string }
	times := map[key][]float64{}
	errs := map[key]int{}
	for _, e := range entries {
		k := key{e.Route, e.Backend}
		times[k] = append(times[k], e.RequestTime)
		if e.Status >= 500 {
			errs[k]++
		}
	}
	out := make([]Summary, 0, len(times))
	for k, ts := range times {
		slices.Sort(ts)
		out = append(out, Summary{Route: k.route, Backend: k.backend, Requests: len(ts), Errors: errs[k],
			ErrorRate: float64(errs[k]) / float64(len(ts)), P50: percentile(ts, 50), P99: percentile(ts, 99)})
	}
	slices.SortFunc(out, func(a, b Summary) int {
		return cmp.Or(cmp.Compare(a.Route, b.Route), cmp.Compare(a.Backend, b.Backend))
	})
	return out
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[max(rank, 1)-1]
}
