package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Retries (model.Retry). nginx's proxy_next_upstream moves a failed
// request to another endpoint but never back to one it tried, so a
// Service with one endpoint would get no retry at all. Instead each retry
// is a named location: the rule's location intercepts the answers with the
// retry codes (proxy_intercept_errors + error_page) and hands the request
// to the next one, which proxies it again to the same upstream (any
// endpoint, the same one included); the last try's answer, whatever it is,
// goes to the client. A connection that fails is nginx's own 502, retried
// when 502 is among the codes.

// addRetries chains the retry locations of a proxied rule after lv.
func (r *renderer) addRetries(sc *serverCtx, lv *locationView, rule *model.Rule, upstream *model.Upstream) {
	rt := rule.Retry
	if rt == nil || len(rt.Codes) == 0 || lv.Proxy == nil {
		return
	}
	codes := make([]string, len(rt.Codes))
	for i, c := range rt.Codes {
		codes[i] = strconv.Itoa(c)
	}
	r.counter++
	chain := r.counter
	pass := lv.Proxy.Pass
	if rule.Rewrite == nil || rule.Rewrite.Path == nil {
		// The client's URI, whatever location the request is in now.
		pass = upstreamScheme("http", upstream) + "://" + upstreamRef(upstream.Name) + "$request_uri"
	}
	prev := lv
	for k := 1; k <= rt.Attempts; k++ {
		name := fmt.Sprintf("@ngo_retry_%s_%d_%d", rule.ID, chain, k)
		// "=": the client gets the status of the next try, not this one.
		prev.ErrorPage = strings.Join(codes, " ") + " = " + name
		proxy := *lv.Proxy
		proxy.Pass = pass
		next := &locationView{
			Comment:     comment(fmt.Sprintf("retry %d of %d of %s", k, rt.Attempts, r.ruleComment(rule))),
			Path:        quote(name),
			HideHeaders: lv.HideHeaders,
			AddHeaders:  lv.AddHeaders,
			Timeouts:    lv.Timeouts,
			Proxy:       &proxy,
			Src:         lv.Src,
		}
		sc.internals = append(sc.internals, next)
		prev = next
	}
}
