package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Retries (model.Retry). nginx's proxy_next_upstream moves a failed
// request to another endpoint but never back to one it tried, so a
// Service with one endpoint would get no retry at all. Instead each retry
// is a named location: the rule's location hands the tries that failed to
// the next one (error_page), which proxies the request again to the same
// upstream (any endpoint, the same one included); the last try's answer,
// whatever it is, goes to the client.
//
// A try fails when the backend answers one of the retry codes (which
// proxy_intercept_errors hands to error_page), and also, whatever the
// codes, when nginx gets no answer: the connection fails or is reset
// (nginx's own 502) or the try times out (its own 504, after
// timeouts.backendRequest): the spec's HTTPRouteRetryConnectionError and
// HTTPRouteRetryBackendTimeout. While errors are intercepted, a backend's
// own 502 or 504 reaches error_page too; when that code is not a retry
// code, the backend answered ($upstream_header_time of the last try is
// not "-") and the client gets the code (our page, not the backend's
// body), not a retry.

// ownErrors are the statuses nginx answers itself when a try gets no
// answer: 502 (connection refused, reset, closed early) and 504 (timeout).
var ownErrors = []int{502, 504}

// addRetries chains the retry locations of a proxied rule after lv.
func (r *renderer) addRetries(sc *serverCtx, lv *locationView, rule *model.Rule, upstream *model.Upstream) {
	rt := rule.Retry
	if rt == nil || rt.Attempts < 1 || lv.Proxy == nil {
		return
	}
	codes := make([]string, len(rt.Codes))
	for i, c := range rt.Codes {
		codes[i] = strconv.Itoa(c)
	}
	var own []int // nginx's own errors that are not retry codes
	for _, c := range ownErrors {
		if !slices.Contains(rt.Codes, c) {
			own = append(own, c)
		}
	}
	r.counter++
	chain := r.counter
	pass := lv.Proxy.Pass
	if rule.Rewrite == nil || rule.Rewrite.Path == nil {
		// The client's URI, whatever location the request is in now.
		pass = upstreamScheme("http", upstream) + "://" + r.httpUpstream(upstream.Name) + "$request_uri"
	}
	// The tries before the last hand every failure to the next try; the
	// last one answers its 502 and 504 itself, never sent again through
	// the server (http.conf's error_page for endpoint changes): each try
	// already proxies afresh, and attempts bounds them.
	tryTimeouts := slices.DeleteFunc(slices.Clone(lv.Timeouts), func(d kv) bool { return d.Key == "error_page" })
	lastTimeouts := append(slices.Clone(tryTimeouts), ownErrorPages...)
	prev := lv
	for k := 1; k <= rt.Attempts; k++ {
		name := fmt.Sprintf("@ngo_retry_%s_%d_%d", rule.ID, chain, k)
		prev.Timeouts = tryTimeouts
		prev.ErrorPages = r.retryErrorPages(codes, own, name)
		prev.InterceptErrors = len(codes) > 0
		proxy := *lv.Proxy
		proxy.Pass = pass
		next := &locationView{
			Comment:     comment(fmt.Sprintf("retry %d of %d of %s", k, rt.Attempts, r.ruleComment(rule))),
			Path:        quote(name),
			LogRoot:     lv.LogRoot,
			HideHeaders: lv.HideHeaders,
			AddHeaders:  lv.AddHeaders,
			Timeouts:    lastTimeouts,
			Proxy:       &proxy,
			Src:         lv.Src,
		}
		sc.internals = append(sc.internals, next)
		prev = next
	}
}

// retryErrorPages are the error_page arguments of a try whose next try is
// the location next: its retry codes go there ("=": the client gets the
// next try's status), and so do nginx's own errors own; while errors are
// intercepted (codes), a map tells those from the backend's answers.
func (r *renderer) retryErrorPages(codes []string, own []int, next string) []string {
	var pages []string
	if len(codes) > 0 {
		pages = append(pages, strings.Join(codes, " ")+" = "+next)
	}
	if len(own) == 0 {
		return pages
	}
	ownCodes := make([]string, len(own))
	for i, c := range own {
		ownCodes[i] = strconv.Itoa(c)
	}
	if len(codes) == 0 {
		// Nothing intercepted: a 502 or 504 here is nginx's own.
		return append(pages, strings.Join(ownCodes, " ")+" = "+next)
	}
	// $status cannot tell the code: error_page's "=" has reset it. The
	// last try is the last entry of both lists ("502, 502 : 504").
	m := &nginxMap{
		Comment: comment(fmt.Sprintf("%s: retry nginx's own %s (no answer from the backend), not a backend's", next, strings.Join(ownCodes, ", "))),
		Source:  quote("$upstream_status|$upstream_header_time"),
		Var:     "retry_own",
		Default: quote(next),
	}
	for _, c := range own {
		// The last try's header time is "-": no answer came.
		m.Entries = append(m.Entries,
			kv{quote(fmt.Sprintf(`~(?:^|\s)%d\|(?:.*\s)?-$`, c)), quote(next)},
			kv{quote(fmt.Sprintf(`~(?:^|\s)%d\|`, c)), quote(fmt.Sprintf("@ngo_%d$%s", c, varLogKept))})
	}
	v := r.addMap("retry_own\x00"+next+"\x00"+strings.Join(ownCodes, " "), m)
	return append(pages, strings.Join(ownCodes, " ")+" = $"+v)
}
