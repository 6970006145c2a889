package render

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// ruleEntry fills lv with what a request selected for rule goes through:
// the CORS preflight answer, then the split between weighted backends (a
// jump to one internal location per backend) or the final handling.
// inPlace says the request's URI is still the client's (lv is the
// user-facing location), so proxy_pass can pass it on without naming it.
func (r *renderer) ruleEntry(sc *serverCtx, lv *locationView, rule *model.Rule, inPlace bool) error {
	if lv.Comment == "" {
		lv.Comment = r.ruleComment(rule)
	}
	r.owner = &rule.Route
	defer func() { r.owner = nil }()
	lv.Src = r.owner
	if rule.CORS != nil {
		uri := internalPrefix + rule.ID + "/cors"
		lv.Script = append(lv.Script, fmt.Sprintf("if ($%s) { rewrite ^ %s last; }", r.corsPreflightVar(), quote(uri)))
		in := &locationView{Comment: "CORS preflight, " + r.ruleComment(rule), Path: quote(uri), Src: r.owner}
		if sc.addInternal(in) {
			r.corsPreflight(in, rule)
		}
	}
	if rule.Redirect != nil || rule.Return != nil {
		return r.final(sc, lv, rule, nil, inPlace)
	}
	var backends []*model.Backend
	var weights []int64
	for i := range rule.Backends {
		if b := &rule.Backends[i]; b.Weight > 0 {
			backends = append(backends, b)
			weights = append(weights, int64(b.Weight))
		}
	}
	switch len(backends) {
	case 0: // no backend at all, or all weights 0: nothing may be served
		return r.final(sc, lv, rule, nil, inPlace)
	case 1:
		return r.final(sc, lv, rule, backends[0], inPlace)
	}
	splitVar := "ngo_split_" + rule.ID
	if !r.splitFor[splitVar] {
		r.splitFor[splitVar] = true
		values := make([]string, len(backends))
		for i := range values {
			values[i] = strconv.Itoa(i)
		}
		r.split(splitVar, "weighted backends of "+r.ruleComment(rule), basisPoints(weights), values)
	}
	var target valueBuilder
	target.lit(internalPrefix + rule.ID + "/b").variable(splitVar)
	lv.Script = append(lv.Script, fmt.Sprintf("rewrite ^ %s last;", target.String()))
	for i, b := range backends {
		in := &locationView{
			Comment: comment(fmt.Sprintf("backend %d (%s, weight %d) of %s", i, b.Upstream, b.Weight, r.ruleComment(rule))),
			Path:    quote(fmt.Sprintf("%s%s/b%d", internalPrefix, rule.ID, i)),
			Src:     r.owner,
		}
		if sc.addInternal(in) {
			if err := r.final(sc, in, rule, b, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// final fills the location where a request of rule is answered: by a
// redirect, a fixed status, or by proxying to backend (nil: no valid
// backend, 500).
func (r *renderer) final(sc *serverCtx, lv *locationView, rule *model.Rule, backend *model.Backend, inPlace bool) error {
	logBackend := ""
	var upstream *model.Upstream
	if backend != nil && !backend.Invalid {
		upstream = r.upstreams[backend.Upstream]
		if upstream == nil {
			return fmt.Errorf("render: rule %s uses unknown upstream %q", rule.ID, backend.Upstream)
		}
		logBackend = upstream.Name
	} else if rule.Redirect == nil && rule.Return == nil {
		logBackend = "invalid"
	}
	ruleName := rule.Route.RuleName
	if ruleName == "" {
		ruleName = strconv.Itoa(rule.Route.RuleIndex)
	}
	lv.LogRoot = logRoot(rule.Route.Namespace+"/"+rule.Route.Name, ruleName, logBackend)
	if raw := testDirectiveFor(rule.Route); raw != "" {
		lv.Script = append(lv.Script, raw)
	}

	resp := &responseHeaders{}
	resp.apply(r, rule, rule.ResponseHeaders)
	if backend != nil {
		resp.apply(r, rule, backend.ResponseHeaders)
	}
	if rule.CORS != nil {
		r.corsResponse(resp, rule)
	}
	lv.HideHeaders, lv.AddHeaders = resp.render()

	if rule.GRPC {
		return r.grpcFinal(sc, lv, rule, backend, upstream, inPlace)
	}
	switch {
	case rule.Redirect != nil:
		lv.Script = append(lv.Script, r.redirect(sc, rule))
		return nil
	case rule.Return != nil:
		lv.Script = append(lv.Script, fmt.Sprintf("return %d;", statusOr(rule.Return.StatusCode, 500)))
		return nil
	case upstream == nil:
		lv.Script = append(lv.Script, "return 500;")
		return nil
	}

	pass := upstreamScheme("http", upstream) + "://" + r.httpUpstream(upstream.Name)
	if rw := rule.Rewrite; rw != nil && rw.Path != nil {
		lv.Script = append(lv.Script, r.proxyPathRewrite(rule)...)
	} else if !inPlace {
		// Our own rewrites changed $uri: pass the client's URI explicitly.
		pass += "$request_uri"
	}
	lv.Proxy = &proxyView{Pass: pass, Headers: r.requestHeaders(rule, backend, upstream.Protocol), TLS: r.upstreamTLSDirectives("proxy", upstream)}
	if upstream.Protocol == model.ProtocolH2C {
		// appProtocol kubernetes.io/h2c: HTTP/2 with prior knowledge over
		// cleartext, which nginx >= 1.29 speaks to upstreams.
		lv.Proxy.HTTPVersion = "2"
	}
	if err := r.addMirrors(sc, lv, rule); err != nil {
		return err
	}
	lv.Timeouts = timeouts(rule.Timeouts)
	if upstream.Protocol == model.ProtocolWebSocket && len(lv.Timeouts) == 0 {
		// nginx closes a connection idle for proxy_read_timeout (60s by
		// default), which would cut quiet WebSockets.
		lv.Timeouts = []kv{{"proxy_read_timeout", "3600s"}, {"proxy_send_timeout", "3600s"}}
	}
	r.addRetries(sc, lv, rule, upstream)
	return nil
}

func statusOr(code, def int) int {
	if code < 100 || code > 599 {
		return def
	}
	return code
}

// timeouts maps Gateway API timeouts to nginx. backendRequest bounds each
// read from and write to the backend. nginx has no deadline for a whole
// request, so request bounds the connect and each read and write as well:
// a backend that stays silent longer than the timeout gets a 504, a slow
// trickle of data does not.
func timeouts(t model.Timeouts) []kv {
	rw := t.BackendRequestMillis
	if t.RequestMillis > 0 && (rw <= 0 || t.RequestMillis < rw) {
		rw = t.RequestMillis
	}
	var out []kv
	if t.RequestMillis > 0 {
		out = append(out, kv{"proxy_connect_timeout", ms(t.RequestMillis)})
	}
	if rw > 0 {
		out = append(out, kv{"proxy_read_timeout", ms(rw)}, kv{"proxy_send_timeout", ms(rw)})
		// A timed-out answer is the route's 504, not a retry on another
		// endpoint that would stretch the request past its timeout.
		out = append(out, kv{"proxy_next_upstream", "error"})
	}
	if len(out) > 0 {
		// Nor is it sent again through the server after an endpoint
		// change (http.conf's error_page): its timeout bounds the request.
		out = append(out, ownErrorPages...)
	}
	return out
}

func ms(n int64) string { return strconv.FormatInt(n, 10) + "ms" }

// requestHeaders lists the proxy_set_header directives of a proxied
// request, or nil when the defaults of http.conf apply. nginx drops the
// inherited proxy_set_header directives once a location has its own, so a
// location that changes one header lists them all.
func (r *renderer) requestHeaders(rule *model.Rule, backend *model.Backend, proto model.AppProtocol) []kv {
	hostname := rule.Rewrite != nil && rule.Rewrite.Hostname != ""
	if !hostname && proto != model.ProtocolWebSocket && rule.RequestHeaders.IsZero() &&
		(backend == nil || backend.RequestHeaders.IsZero()) {
		return nil
	}
	h := &requestHeaderList{index: map[string]int{}}
	for _, d := range defaultRequestHeaders {
		h.put(d.Key, d.Value, "", false)
	}
	if hostname {
		h.put("Host", r.value(rule, rule.Rewrite.Field+".hostname", quoteValue(rule.Rewrite.Hostname)), "", false)
	}
	if proto == model.ProtocolWebSocket {
		h.put("Upgrade", "$http_upgrade", "", false)
		h.put("Connection", "$"+varConnection, "", false)
	}
	return h.withFilters(r, rule, backend)
}

// withFilters applies the rule's and the backend's request header
// modifiers and returns the headers, names quoted.
func (h *requestHeaderList) withFilters(r *renderer, rule *model.Rule, backend *model.Backend) []kv {
	h.apply(r, rule, rule.RequestHeaders)
	if backend != nil {
		h.apply(r, rule, backend.RequestHeaders)
	}
	for i := range h.list {
		h.list[i].Key = quote(h.list[i].Key)
	}
	return h.list
}

// defaultRequestHeaders are set in http.conf and repeated by locations
// that change any request header. Connection "" keeps upstream
// connections alive.
var defaultRequestHeaders = []kv{
	{"Host", "$" + varHost},
	{"X-Forwarded-For", "$proxy_add_x_forwarded_for"},
	{"X-Forwarded-Proto", "$scheme"},
	{"X-Forwarded-Host", "$host"},
	{"Connection", `""`},
}

type requestHeaderList struct {
	list  []kv
	raw   []string // the plain value of a header set by a filter
	field []string // the field(s) raw comes from
	fixed []bool   // raw is meaningful
	index map[string]int
}

func (h *requestHeaderList) put(name, value, raw string, fixed bool) {
	h.putField(name, value, raw, "", fixed)
}

func (h *requestHeaderList) putField(name, value, raw, field string, fixed bool) {
	key := strings.ToLower(name)
	if i, ok := h.index[key]; ok {
		h.list[i], h.raw[i], h.field[i], h.fixed[i] = kv{name, value}, raw, field, fixed
		return
	}
	h.index[key] = len(h.list)
	h.list = append(h.list, kv{name, value})
	h.raw = append(h.raw, raw)
	h.field = append(h.field, field)
	h.fixed = append(h.fixed, fixed)
}

func (h *requestHeaderList) apply(r *renderer, rule *model.Rule, m model.HeaderModifier) {
	for _, s := range m.Set {
		f := s.Field + ".value"
		h.putField(s.Name, r.value(rule, f, quoteValue(s.Value)), s.Value, f, true)
	}
	for _, a := range m.Add {
		f := a.Field + ".value"
		if i, ok := h.index[strings.ToLower(a.Name)]; ok && h.fixed[i] {
			// One header line, one token: the values joined.
			combined := h.raw[i] + "," + a.Value
			if h.field[i] != "" {
				f = h.field[i] + " joined with " + f
			}
			h.putField(a.Name, r.value(rule, f, quoteValue(combined)), combined, f, true)
			continue
		}
		if v := r.addHeaderVar(rule, a); v != "" {
			h.put(a.Name, "$"+v, "", false)
		} else { // nginx drops such request headers: nothing to append to
			h.putField(a.Name, r.value(rule, f, quoteValue(a.Value)), a.Value, f, true)
		}
	}
	for _, name := range m.Remove {
		h.put(name, `""`, "", true) // an empty value makes nginx omit the header
	}
}

// responseHeaders is the net effect of response header modifiers per name.
type responseHeaders struct {
	names []string
	state map[string]*responseHeader
}

type responseHeader struct {
	name   string
	hide   bool     // hide the backend's header of that name
	values []string // quoted values to add
}

func (h *responseHeaders) get(name string) *responseHeader {
	if h.state == nil {
		h.state = map[string]*responseHeader{}
	}
	key := strings.ToLower(name)
	s := h.state[key]
	if s == nil {
		s = &responseHeader{name: name}
		h.state[key] = s
		h.names = append(h.names, key)
	}
	return s
}

func (h *responseHeaders) apply(r *renderer, rule *model.Rule, m model.HeaderModifier) {
	for _, s := range m.Set {
		st := h.get(s.Name)
		st.hide, st.values = true, []string{r.value(rule, s.Field+".value", quoteValue(s.Value))}
	}
	for _, a := range m.Add {
		st := h.get(a.Name)
		st.values = append(st.values, r.value(rule, a.Field+".value", quoteValue(a.Value)))
	}
	for _, name := range m.Remove {
		st := h.get(name)
		st.hide, st.values = true, nil
	}
}

// setVar replaces the header with the value of a variable; an empty value
// sends no header.
func (h *responseHeaders) setVar(name, variable string) {
	st := h.get(name)
	st.hide, st.values = true, []string{"$" + variable}
}

func (h *responseHeaders) render() (hide []string, add []kv) {
	for _, key := range h.names {
		st := h.state[key]
		if st.hide {
			hide = append(hide, quote(st.name))
		}
		for _, v := range st.values {
			add = append(add, kv{quote(st.name), v})
		}
	}
	return hide, add
}

// redirect returns the `return` directive of a RequestRedirect, following
// the Gateway API rules for the port: an explicit port wins; otherwise the
// well-known port of an explicit scheme; otherwise the listener's port. The
// port is left out when it is the scheme's default.
func (r *renderer) redirect(sc *serverCtx, rule *model.Rule) string {
	rd := rule.Redirect
	scheme := strings.ToLower(rd.Scheme)
	listenerScheme := "http"
	if sc.tls {
		listenerScheme = "https"
	}
	port := sc.srv.Port
	switch {
	case rd.Port != nil:
		port = *rd.Port
	case scheme == "http":
		port = 80
	case scheme == "https":
		port = 443
	}
	if scheme == "" {
		scheme = listenerScheme
	}
	var v valueBuilder
	v.lit(scheme + "://")
	if rd.Hostname != "" {
		v.lit(rd.Hostname)
	} else {
		v.variable("host")
	}
	if !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
		v.lit(":" + itoa(port))
	}
	switch p := rd.Path; {
	case p == nil:
		v.variable("request_uri")
	case p.Kind == model.RewritePrefix:
		v.variable(r.redirectPrefixVar(rule))
	default:
		v.lit(escapePath(withSlash(p.Value))).variable("is_args").variable("args")
	}
	field := rd.Field + ".hostname"
	if rd.Path != nil && rd.Path.Kind != model.RewritePrefix {
		field = rd.Path.Field + ".replaceFullPath"
	}
	return fmt.Sprintf("return %d %s;", statusOr(rd.StatusCode, 302), r.value(rule, field, v.String()))
}

func withSlash(p string) string {
	if !strings.HasPrefix(p, "/") {
		return "/" + p
	}
	return p
}

// prefixReplacement returns the replacement without its trailing slash
// and the value for a path equal to the prefix, per the Gateway API table
// (prefix /foo, replacement "" or "/": /foo → /, /foo/bar → /bar).
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

// redirectPrefixVar returns a variable with the redirect's path and query:
// the client's raw request URI with the matched prefix replaced. The raw
// URI (never the decoded $uri) goes into the Location header, so a decoded
// %0D%0A cannot split the response.
func (r *renderer) redirectPrefixVar(rule *model.Rule) string {
	p := rule.Redirect.Path
	prefix := rawURIRegex(strings.TrimRight(p.MatchedPrefix, "/"))
	trimmed, whole := prefixReplacement(escapePath(p.Value))
	var exact, below, fallback valueBuilder
	exact.lit(whole).capture(1)
	below.lit(trimmed).capture(1)
	fallback.lit(whole).variable("is_args").variable("args")
	pf, vf := p.Field+" (with the matched path prefix)", p.Field+".replacePrefixMatch"
	return r.addMap("redirect\x00"+rule.ID, &nginxMap{
		Comment: "redirect path of " + r.ruleComment(rule),
		Source:  quote("${request_uri}"),
		Var:     "ngo_redirect_" + rule.ID,
		Entries: []kv{
			{r.value(rule, pf, quote(`~^`+prefix+`(\?.*|)$`)), r.value(rule, vf, exact.String())},
			{r.value(rule, pf, quote(`~^`+prefix+`(/.*)$`)), r.value(rule, vf, below.String())},
		},
		Default: r.value(rule, vf, fallback.String()),
	})
}

// proxyPathRewrite returns the directives that set the path passed to the
// backend. The new path is a decoded path: nginx escapes it when it builds
// the upstream request line, and keeps the query string.
func (r *renderer) proxyPathRewrite(rule *model.Rule) []string {
	p := rule.Rewrite.Path
	if p.Kind != model.RewritePrefix {
		return []string{
			fmt.Sprintf("set $%s %s;", varPath, r.value(rule, p.Field+".replaceFullPath", quoteValue(withSlash(unescapePath(p.Value))))),
			fmt.Sprintf("rewrite ^ \"${%s}\" break;", varPath),
		}
	}
	prefix := regexLiteral(strings.TrimRight(p.MatchedPrefix, "/"))
	trimmed, whole := prefixReplacement(unescapePath(p.Value))
	var below valueBuilder
	below.lit(trimmed).capture(1)
	pf, vf := p.Field+" (with the matched path prefix)", p.Field+".replacePrefixMatch"
	v := r.addMap("rewrite\x00"+rule.ID, &nginxMap{
		Comment: "rewritten path of " + r.ruleComment(rule),
		Source:  quote("${" + varURI + "}"),
		Var:     "ngo_rewrite_" + rule.ID,
		Entries: []kv{
			{r.value(rule, pf, quote(`~(?s)^`+prefix+`\z`)), r.value(rule, vf, quoteValue(whole))},
			{r.value(rule, pf, quote(`~(?s)^`+prefix+`(/.*)\z`)), r.value(rule, vf, below.String())},
		},
		Default: r.value(rule, vf, quoteValue(whole)),
	})
	return []string{fmt.Sprintf("rewrite ^ \"${%s}\" break;", v)}
}

// addMirrors mirrors the requests of lv to each of rule's mirrors.
func (r *renderer) addMirrors(sc *serverCtx, lv *locationView, rule *model.Rule) error {
	for i := range rule.Mirrors {
		uri, err := r.mirror(sc, rule, i)
		if err != nil {
			return err
		}
		if uri != "" {
			lv.Mirrors = append(lv.Mirrors, uri)
		}
	}
	return nil
}

// mirror returns the internal URI that mirrors rule's requests to its
// i-th mirror, or "" when it mirrors nothing (a zero fraction).
func (r *renderer) mirror(sc *serverCtx, rule *model.Rule, i int) (string, error) {
	m := rule.Mirrors[i]
	up := r.upstreams[m.Upstream]
	if up == nil {
		return "", fmt.Errorf("render: rule %s mirrors to unknown upstream %q", rule.ID, m.Upstream)
	}
	bp := 10000
	if m.Denominator > 0 {
		bp = int(int64(m.Numerator) * 10000 / int64(m.Denominator))
	}
	if bp <= 0 {
		return "", nil
	}
	uri := fmt.Sprintf("%s%s/m%d", internalPrefix, rule.ID, i)
	in := &locationView{
		Comment: comment(fmt.Sprintf("mirror %d (%s) of %s", i, up.Name, r.ruleComment(rule))),
		Path:    quote(uri),
		Src:     &rule.Route,
	}
	if !sc.addInternal(in) {
		return quote(uri), nil
	}
	if bp < 10000 {
		skip := fmt.Sprintf("ngo_mirror_%s_%d", rule.ID, i)
		if !r.splitFor[skip] {
			r.splitFor[skip] = true
			r.split(skip, "mirrored share of "+r.ruleComment(rule), []int{bp, 10000 - bp}, []string{"0", "1"})
		}
		in.Script = append(in.Script, fmt.Sprintf("if ($%s) { return 204; }", skip))
	}
	if rule.GRPC {
		r.grpcMirror(in, rule, up)
		return quote(uri), nil
	}
	in.Proxy = &proxyView{
		Pass:    upstreamScheme("http", up) + "://" + r.httpUpstream(up.Name) + "$request_uri",
		Headers: r.requestHeaders(rule, nil, up.Protocol),
		TLS:     r.upstreamTLSDirectives("proxy", up),
	}
	return quote(uri), nil
}
