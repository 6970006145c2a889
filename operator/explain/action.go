package explain

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// respond is what the selected rule does with the request, as the render
// step's ruleEntry and final write it.
func (ev *evaluation) respond(rule *model.Rule) Response {
	resp := ev.httpResponse(rule)
	if rule.GRPC {
		grpcAnswers(&resp, rule)
	}
	return resp
}

// grpcUnavailable is gRPC's UNAVAILABLE status code.
const grpcUnavailable = 14

// grpcAnswers turns the fixed statuses of a GRPCRoute's rule into what
// the render step's grpcFinal answers instead: HTTP 200, trailers-only,
// grpc-status 14 (UNAVAILABLE) with a message.
func grpcAnswers(resp *Response, rule *model.Rule) {
	message := func(status int) string {
		switch {
		case rule.Return != nil:
			return "no backend for this method"
		case status == 503:
			return "no endpoints for this method"
		}
		return "invalid backend for this method"
	}
	for i := range resp.Backends {
		if b := &resp.Backends[i]; b.Status != 0 {
			b.Why = fmt.Sprintf("grpc-status %d (UNAVAILABLE) %q: %s", grpcUnavailable, message(b.Status), b.Why)
			b.Status = 200
		}
	}
	if resp.Status != 0 {
		resp.Why = fmt.Sprintf("grpc-status %d (UNAVAILABLE) %q: %s", grpcUnavailable, message(resp.Status), resp.Why)
		resp.Status, resp.Outcome = 200, OutcomeGRPCStatus
	}
}

func (ev *evaluation) httpResponse(rule *model.Rule) Response {
	ref := ruleRef(rule)
	log := &AccessLog{Route: ref.Route, Rule: ref.Rule}
	if rule.CORS != nil && ev.res.Request.Method == "OPTIONS" {
		if v, _ := ev.req.headerValue("Access-Control-Request-Method"); v != "" {
			return Response{Status: 204, Outcome: OutcomeCORSPreflight, Why: "an OPTIONS request with Access-Control-Request-Method: the rule's CORS filter answers it", AccessLog: log}
		}
	}
	filters := ruleFilters(rule, ev)
	switch {
	case rule.Redirect != nil:
		return Response{Status: statusOr(rule.Redirect.StatusCode, 302), Outcome: OutcomeRedirect, Redirect: ev.redirectLocation(rule.Redirect), AccessLog: log, Filters: filters}
	case rule.Return != nil:
		return Response{Status: statusOr(rule.Return.StatusCode, 500), Outcome: OutcomeFixedStatus, Why: "the rule has no valid backend", AccessLog: log, Filters: filters}
	}
	upstreams := map[string]*model.Upstream{}
	for i := range ev.m.Upstreams {
		upstreams[ev.m.Upstreams[i].Name] = &ev.m.Upstreams[i]
	}
	backends, weights := weighted(rule.Backends)
	if len(backends) == 0 {
		log.Backend = "invalid"
		why := "the rule has no backendRef with a weight above 0"
		if len(rule.Backends) == 0 {
			why = "the rule has no backendRefs"
		}
		return Response{Status: 500, Outcome: OutcomeFixedStatus, Why: why, AccessLog: log, Filters: filters}
	}
	resp := Response{Outcome: OutcomeProxied, AccessLog: log, Filters: filters}
	shares := basisPoints(weights)
	statuses := map[int]bool{}
	for i, b := range backends {
		bo := BackendOutcome{Upstream: b.Upstream, Weight: b.Weight, Share: formatShare(shares[i])}
		u := upstreams[b.Upstream]
		switch {
		case b.Invalid || u == nil:
			bo.Upstream, bo.Status, bo.Log = "", 500, "invalid"
			bo.Why = "invalid backendRef (see the route's ResolvedRefs condition)"
		default:
			bo.Service = fmt.Sprintf("%s/%s:%d", u.ServiceNamespace, u.ServiceName, u.ServicePort)
			for _, e := range ev.endpoints[u.Name] {
				bo.Endpoints = append(bo.Endpoints, net.JoinHostPort(e.Address, strconv.Itoa(int(e.Port))))
			}
			bo.Log = u.Name
			if len(bo.Endpoints) == 0 {
				// The sidecar's DNS resolves the upstream to nginx's local
				// no-endpoints server, which answers 503 (gRPC: UNAVAILABLE).
				bo.Status = 503
				bo.Why = "the Service has no ready endpoints"
			}
		}
		bo.Filters = append(HeaderFilters("request", b.RequestHeaders), HeaderFilters("response", b.ResponseHeaders)...)
		statuses[bo.Status] = true
		resp.Backends = append(resp.Backends, bo)
	}
	if len(resp.Backends) == 1 {
		log.Backend = resp.Backends[0].Log
	}
	if b := resp.Backends[0]; len(statuses) == 1 && b.Status != 0 {
		resp.Status, resp.Outcome, resp.Why = b.Status, OutcomeFixedStatus, b.Why
	}
	return resp
}

// weighted are the backends with a weight above 0, which share the
// traffic (render leaves the others out), and their weights.
func weighted(all []model.Backend) ([]*model.Backend, []int64) {
	var backends []*model.Backend
	var weights []int64
	for i := range all {
		if b := &all[i]; b.Weight > 0 {
			backends = append(backends, b)
			weights = append(weights, int64(b.Weight))
		}
	}
	return backends, weights
}

// basisPoints divides 10000 among weights as the render step's
// split_clients does (cumulative rounding).
func basisPoints(weights []int64) []int {
	var total, cum int64
	for _, w := range weights {
		total += w
	}
	out := make([]int, len(weights))
	prev := 0
	for i, w := range weights {
		cum += w
		at := int(cum * 10000 / total)
		out[i], prev = at-prev, at
	}
	return out
}

// formatShare writes basis points as a percentage: "75%", "33.33%".
func formatShare(bp int) string {
	share := fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
	return strings.TrimSuffix(strings.TrimSuffix(share, ".00%"), "%") + "%"
}

func statusOr(code, def int) int {
	if code == 0 {
		return def
	}
	return code
}

// redirectLocation is the Location header the render step's redirect
// writes for this request.
func (ev *evaluation) redirectLocation(rd *model.Redirect) string {
	scheme := strings.ToLower(rd.Scheme)
	port := ev.srv.Port
	switch {
	case rd.Port != nil:
		port = *rd.Port
	case scheme == "http":
		port = 80
	case scheme == "https":
		port = 443
	}
	if scheme == "" {
		scheme = ev.req.Scheme
	}
	host := rd.Hostname
	if host == "" {
		host = ev.host
	}
	var b strings.Builder
	b.WriteString(scheme + "://" + host)
	if !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
		b.WriteString(":" + strconv.Itoa(int(port)))
	}
	query := ""
	if ev.args != "" {
		query = "?" + ev.args
	}
	switch p := rd.Path; {
	case p == nil:
		b.WriteString(ev.req.Target)
	case p.Kind == model.RewritePrefix:
		b.WriteString(redirectPrefixPath(ev.req.Target, p))
	default:
		b.WriteString(escapePath(withSlash(p.Value)) + query)
	}
	return b.String()
}

// redirectPrefixPath is the path and query of a ReplacePrefixMatch
// redirect, as the render step's redirect map computes it from the raw
// request URI: the matched prefix (each byte other than a letter, digit
// or "/" literal or %-escaped) is replaced, the rest kept as sent; a URI
// that does not spell the prefix so gets the replacement and the query.
func redirectPrefixPath(target string, p *model.PathRewrite) string {
	trimmed, whole := prefixReplacement(escapePath(p.Value))
	rest, ok := rawPrefixRest(target, strings.TrimRight(p.MatchedPrefix, "/"))
	switch {
	case ok && (rest == "" || strings.HasPrefix(rest, "?")):
		return whole + rest
	case ok && strings.HasPrefix(rest, "/"):
		return trimmed + rest
	}
	_, args, hasArgs := strings.Cut(target, "?")
	if hasArgs {
		return whole + "?" + args
	}
	return whole
}

// rawPrefixRest matches the decoded prefix at the start of the raw target
// as the render step's rawURIRegex does and returns the rest.
func rawPrefixRest(target, prefix string) (string, bool) {
	i := 0
	for j := 0; j < len(prefix); j++ {
		c := prefix[j]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		literalOK := c != '%' && c >= 0x20 && c != 0x7f
		switch {
		case i < len(target) && target[i] == c && (alnum || c == '/' || literalOK):
			i++
		case !alnum && c != '/' && i+2 < len(target) && target[i] == '%' && unhex(target[i+1]) >= 0 && unhex(target[i+2]) >= 0 &&
			byte(unhex(target[i+1])<<4|unhex(target[i+2])) == c:
			i += 3
		default:
			return "", false
		}
	}
	return target[i:], true
}

// prefixReplacement is the replacement without its trailing slash and
// the path for a request equal to the prefix (render's prefixReplacement).
func prefixReplacement(value string) (trimmed, whole string) {
	trimmed = strings.TrimRight(value, "/")
	if trimmed != "" && !strings.HasPrefix(trimmed, "/") {
		trimmed = "/" + trimmed
	}
	whole = trimmed
	if whole == "" {
		whole = "/"
	}
	return trimmed, whole
}

// escapePath percent-encodes what may not appear in a URL path, keeping
// existing escapes (render's escapePath, for the Location header).
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~!$&'()*+,;=:@/%", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// replacePrefix is the path a ReplacePrefixMatch gives (Gateway API
// table: prefix /foo, replacement "" or "/": /foo → /, /foo/bar → /bar).
func replacePrefix(uri string, p *model.PathRewrite) string {
	prefix := strings.TrimRight(p.MatchedPrefix, "/")
	trimmed, whole := prefixReplacement(p.Value)
	if rest, ok := strings.CutPrefix(uri, prefix); ok && strings.HasPrefix(rest, "/") {
		return trimmed + rest
	}
	return whole
}

func withSlash(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// ruleFilters describes the rule's changes to request and response.
func ruleFilters(rule *model.Rule, ev *evaluation) []string {
	var out []string
	if rw := rule.Rewrite; rw != nil {
		if rw.Hostname != "" {
			out = append(out, "rewrite Host to "+rw.Hostname)
		}
		if p := rw.Path; p != nil {
			path := withSlash(p.Value)
			if p.Kind == model.RewritePrefix {
				path = replacePrefix(ev.uri, p)
			}
			out = append(out, fmt.Sprintf("rewrite path %s to %s", ev.uri, path))
		}
	}
	return append(out, RuleChanges(rule)...)
}

// RuleChanges describes what a rule changes beyond its rewrite: header
// filters, mirrors, CORS, timeouts (also kubectl nginx-gateway config's
// routes table).
func RuleChanges(rule *model.Rule) []string {
	out := HeaderFilters("request", rule.RequestHeaders)
	out = append(out, HeaderFilters("response", rule.ResponseHeaders)...)
	for _, m := range rule.Mirrors {
		share := ""
		if m.Denominator > 0 && m.Numerator != m.Denominator {
			share = fmt.Sprintf(" (%d/%d of requests)", m.Numerator, m.Denominator)
		}
		out = append(out, "mirror to "+m.Upstream+share)
	}
	if rule.CORS != nil {
		out = append(out, "CORS for origins "+strings.Join(rule.CORS.AllowOrigins, ", "))
	}
	if t := rule.Timeouts; t.RequestMillis > 0 || t.BackendRequestMillis > 0 {
		out = append(out, fmt.Sprintf("timeouts: request %dms, backend request %dms", t.RequestMillis, t.BackendRequestMillis))
	}
	return out
}

// HeaderFilters describes a header modifier's changes, which being
// "request" or "response" (also kubectl nginx-gateway config's routes).
func HeaderFilters(which string, h model.HeaderModifier) []string {
	var out []string
	for _, s := range h.Set {
		out = append(out, fmt.Sprintf("%s header set %s: %s", which, s.Name, s.Value))
	}
	for _, a := range h.Add {
		out = append(out, fmt.Sprintf("%s header add %s: %s", which, a.Name, a.Value))
	}
	for _, r := range h.Remove {
		out = append(out, fmt.Sprintf("%s header remove %s", which, r))
	}
	return out
}
