package explain

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Result is what nginx does with one request.
type Result struct {
	Request RequestSeen `json:"request"`
	// Server is the server block that takes the request; nil when none
	// does (no listener on the port, TLS handshake refused, 400).
	Server *ServerChoice `json:"server,omitempty"`
	// Stream is the stream server that takes a connection to a TCP, UDP
	// or TLS listener (ExplainConnection); nil for HTTP requests.
	Stream *StreamChoice `json:"stream,omitempty"`
	// Location is the location block nginx selects in Server.
	Location *LocationChoice `json:"location,omitempty"`
	// Candidates are the route matches of Location in precedence order,
	// each with its verdict.
	Candidates []CandidateVerdict `json:"candidates,omitempty"`
	// Selected is the rule that takes the request; nil for a 404.
	Selected *RuleRef `json:"selected,omitempty"`
	// Response is what the client gets.
	Response Response `json:"response"`
	// Routes has a verdict for every route of the Gateway's model.
	Routes []RouteVerdict `json:"routes,omitempty"`
}

// RequestSeen is the request as nginx sees it.
type RequestSeen struct {
	// Method is empty for a connection (ExplainConnection).
	Method string `json:"method,omitempty"`
	// Scheme is http or https; tcp, udp or tls for a connection.
	Scheme string `json:"scheme"`
	Port   int32  `json:"port"`
	SNI    string `json:"sni,omitempty"`
	// Target is the request target as sent.
	Target string `json:"target"`
	// Host is $host: the Host header lower-cased, without port.
	Host string `json:"host"`
	// Path is $uri: decoded and normalized.
	Path string `json:"path"`
	// Query is $args, raw.
	Query   string   `json:"query,omitempty"`
	Headers []Header `json:"headers,omitempty"`
}

// ServerChoice is the server block that takes the request and why.
type ServerChoice struct {
	Port      int32    `json:"port"`
	Hostname  string   `json:"hostname,omitempty"`
	Default   bool     `json:"default,omitempty"`
	Listeners []string `json:"listeners,omitempty"`
	TLS       bool     `json:"tls,omitempty"`
	Why       string   `json:"why"`
}

// LocationChoice is the location block nginx selects and why.
type LocationChoice struct {
	// Match is "=" (exact) or "prefix".
	Match string `json:"match"`
	Path  string `json:"path"`
	Why   string `json:"why"`
}

// RuleRef names a route rule, as the access log does.
type RuleRef struct {
	// Route is "namespace/name".
	Route string `json:"route"`
	Kind  string `json:"kind"`
	// Rule is the access log's rule: the rule's name, or its index.
	Rule      string `json:"rule"`
	RuleIndex int    `json:"ruleIndex"`
}

// CandidateVerdict is one route match of the selected location.
type CandidateVerdict struct {
	RuleRef
	// Match describes the match's conditions ("always" when none).
	Match string `json:"match"`
	// Verdict is "selected", "no match" or "not reached".
	Verdict string `json:"verdict"`
	Why     string `json:"why,omitempty"`
}

// Candidate verdicts.
const (
	VerdictSelected   = "selected"
	VerdictNoMatch    = "no match"
	VerdictNotReached = "not reached"
)

// Response is what the client gets.
type Response struct {
	// Status is the status nginx answers with, 0 when a backend answers.
	Status int `json:"status,omitempty"`
	// Outcome is one of the Outcome constants.
	Outcome string `json:"outcome"`
	Why     string `json:"why,omitempty"`
	// Redirect is the Location header of a redirect.
	Redirect string `json:"redirect,omitempty"`
	// AccessLog is what the access log names (route, rule, backend).
	AccessLog *AccessLog `json:"accessLog,omitempty"`
	// Backends share the request by weight.
	Backends []BackendOutcome `json:"backends,omitempty"`
	// Filters are the changes the rule makes to request and response.
	Filters []string `json:"filters,omitempty"`
}

// Outcomes of a Response.
const (
	OutcomeProxied     = "proxied"
	OutcomeRedirect    = "redirect"
	OutcomeFixedStatus = "fixed status"
	OutcomeNotFound    = "not found"
	OutcomeBadRequest  = "bad request"
	OutcomeNoServer    = "no server"
	OutcomeTLSRefused  = "TLS handshake refused"
	// OutcomeMisdirected: the Host selects another listener than the
	// connection's SNI did (421).
	OutcomeMisdirected   = "misdirected request"
	OutcomeCORSPreflight = "CORS preflight"
	// OutcomeGRPCStatus: nginx answers a GRPCRoute's request itself with
	// a gRPC status (HTTP 200, trailers only).
	OutcomeGRPCStatus = "gRPC status"
)

// AccessLog holds the route fields of the access log line.
type AccessLog struct {
	Route string `json:"route"`
	Rule  string `json:"rule"`
	// Backend is the upstream, "invalid", or empty for
	// redirects and fixed statuses; with several backends, each one's.
	Backend string `json:"backend,omitempty"`
	// Format is the Gateway's access log format ("json", "text" or
	// "off"), so that the fields can be shown as its lines write them.
	Format string `json:"format,omitempty"`
}

// accessLogFormat is m's access log format; "" is render's default, JSON.
func accessLogFormat(m *model.Gateway) string {
	if m.Settings.AccessLogFormat == "" {
		return "json"
	}
	return m.Settings.AccessLogFormat
}

// BackendOutcome is one weighted backend of the selected rule.
type BackendOutcome struct {
	// Service is "namespace/name:port"; empty for an invalid backendRef.
	Service  string `json:"service,omitempty"`
	Upstream string `json:"upstream,omitempty"`
	Weight   int32  `json:"weight"`
	// Share is the backend's part of the requests ("75%").
	Share string `json:"share"`
	// Status is 500 or 503 when nginx answers instead of the backend.
	Status    int      `json:"status,omitempty"`
	Why       string   `json:"why,omitempty"`
	Endpoints []string `json:"endpoints,omitempty"`
	// Log is the access log's backend field for this share.
	Log     string   `json:"log"`
	Filters []string `json:"filters,omitempty"`
}

// RouteVerdict says whether a route took the request and, if not, why.
type RouteVerdict struct {
	Route string `json:"route"`
	Kind  string `json:"kind"`
	// Verdict is "selected", "not matched" or "not attached".
	Verdict string `json:"verdict"`
	Why     string `json:"why,omitempty"`
}

// Route verdicts.
const (
	RouteSelected    = "selected"
	RouteNotMatched  = "not matched"
	RouteNotAttached = "not attached"
)

// Endpoints are the ready addresses of each upstream, by upstream name.
type Endpoints map[string][]model.Endpoint

// Explain evaluates req against m, whose upstreams have endpoints, as
// nginx, configured from m by the render step, would.
func Explain(m *model.Gateway, endpoints Endpoints, req Request) Result {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	res := Result{Request: RequestSeen{Method: method, Scheme: req.Scheme, Port: req.Port, SNI: req.SNI, Target: req.Target, Headers: req.Headers}}
	ev := evaluation{m: m, endpoints: endpoints, req: &req, res: &res}
	ev.run()
	ev.routeVerdicts()
	if a := res.Response.AccessLog; a != nil {
		a.Format = accessLogFormat(m)
	}
	return res
}

type evaluation struct {
	m         *model.Gateway
	endpoints Endpoints
	req       *Request
	res       *Result
	srv       *model.HTTPServer
	loc       *block
	// winner is the index of the selected candidate in loc.candidates.
	winner int
	uri    string
	args   string
	host   string
}

func (ev *evaluation) fail(status int, outcome, why string) {
	ev.res.Response = Response{Status: status, Outcome: outcome, Why: why}
}

func (ev *evaluation) run() {
	req, res := ev.req, ev.res
	hostHeader, hasHost := req.headerValue("Host")
	host, badHost := hostName(hostHeader)
	uri, args, badTarget := normalizeTarget(req.Target)
	ev.host, ev.uri, ev.args = host, uri, args
	res.Request.Host, res.Request.Path, res.Request.Query = host, uri, args

	var onPort []*model.HTTPServer
	tls := false
	for i := range ev.m.HTTPServers {
		if s := &ev.m.HTTPServers[i]; s.Port == req.Port {
			onPort = append(onPort, s)
			tls = tls || s.TLS != nil
		}
	}
	if len(onPort) == 0 {
		ev.fail(0, OutcomeNoServer, fmt.Sprintf("no listener of the Gateway serves HTTP on port %d: the connection is refused", req.Port))
		return
	}
	switch {
	case tls && req.Scheme != "https":
		ev.fail(400, OutcomeBadRequest, fmt.Sprintf("port %d takes HTTPS; nginx answers a plain HTTP request with 400", req.Port))
		return
	case !tls && req.Scheme == "https":
		ev.fail(0, OutcomeTLSRefused, fmt.Sprintf("port %d takes plain HTTP; a TLS handshake fails", req.Port))
		return
	}
	if tls {
		if why, elsewhere := ev.frontHandsElsewhere(); elsewhere {
			ev.fail(0, OutcomeNoServer, why)
			return
		}
		hs, why := pickServer(onPort, strings.ToLower(req.SNI))
		if hs.TLS == nil || len(hs.TLS.CertificateNames) == 0 {
			sni := "without SNI"
			if req.SNI != "" {
				sni = fmt.Sprintf("for SNI %q", req.SNI)
			}
			ev.fail(0, OutcomeTLSRefused, fmt.Sprintf("the handshake %s reaches server %s (%s), which has no certificate (ssl_reject_handshake)", sni, serverName(hs), why))
			return
		}
	}

	if !hasHost {
		badHost = "HTTP/1.1 requires a Host header"
	}
	for _, bad := range []string{badTarget, badHost} {
		if bad != "" {
			ev.fail(400, OutcomeBadRequest, bad)
			return
		}
	}

	srv, why := pickServer(onPort, host)
	ev.srv = srv
	res.Server = &ServerChoice{Port: srv.Port, Hostname: srv.Hostname, Default: srv.Default, Listeners: srv.Listeners, TLS: tls, Why: why}
	if tls && req.SNI != "" {
		if why := misdirected(onPort, req.SNI, srv); why != "" {
			ev.fail(421, OutcomeMisdirected, why)
			return
		}
	}

	blocks := locationBlocks(srv)
	loc, lwhy := pickBlock(blocks, uri)
	ev.loc = loc
	res.Location = &LocationChoice{Match: loc.kind, Path: loc.path, Why: lwhy}

	ev.winner = -1
	for i, c := range loc.candidates {
		ref := ruleRef(c.Rule)
		v := CandidateVerdict{RuleRef: ref, Match: DescribeConditions(c.Conditions)}
		switch {
		case ev.winner >= 0:
			v.Verdict, v.Why = VerdictNotReached, "an earlier match was selected"
		default:
			if ok, why := ev.holds(c.Conditions); ok {
				ev.winner = i
				v.Verdict = VerdictSelected
			} else {
				v.Verdict, v.Why = VerdictNoMatch, why
			}
		}
		res.Candidates = append(res.Candidates, v)
	}
	if ev.winner < 0 {
		why := fmt.Sprintf("no route match of location %s %s holds", loc.kind, loc.path)
		if len(loc.candidates) == 0 {
			why = fmt.Sprintf("no route has a path covering %s on this server", uri)
		}
		ev.fail(404, OutcomeNotFound, why)
		return
	}
	rule := loc.candidates[ev.winner].Rule
	ref := ruleRef(rule)
	res.Selected = &ref
	res.Response = ev.respond(rule)
}

// misdirected says why a request on a connection whose SNI is sni, for
// server srv (chosen by its Host), answers 421, or "" when it does not:
// on a port whose servers belong to more than one listener, a server of a
// listener answers 421 when the server the SNI chose belongs to another
// one (render/misdirected.go).
func misdirected(onPort []*model.HTTPServer, sni string, srv *model.HTTPServer) string {
	listeners := map[string]bool{}
	for _, s := range onPort {
		if l := strings.Join(s.Listeners, ","); l != "" {
			listeners[l] = true
		}
	}
	own := strings.Join(srv.Listeners, ",")
	if len(listeners) < 2 || own == "" {
		return ""
	}
	bySNI, _ := pickServer(onPort, strings.TrimSuffix(strings.ToLower(sni), "."))
	if chose := strings.Join(bySNI.Listeners, ","); chose != own {
		return fmt.Sprintf("the connection's SNI %q chose server %s of listener %q, the Host chose listener %q: nginx answers 421 Misdirected Request", sni, serverName(bySNI), chose, own)
	}
	return ""
}

// pickServer is nginx's virtual server selection by name: the exact
// name, then the longest matching leading wildcard, then the port's
// default server.
func pickServer(servers []*model.HTTPServer, host string) (*model.HTTPServer, string) {
	var wildcard, def *model.HTTPServer
	for _, s := range servers {
		switch {
		case s.Hostname != "" && s.Hostname == host:
			return s, fmt.Sprintf("server name %s equals the host", s.Hostname)
		case strings.HasPrefix(s.Hostname, "*.") && strings.HasSuffix(host, s.Hostname[1:]) && len(host) > len(s.Hostname)-1:
			if wildcard == nil || len(s.Hostname) > len(wildcard.Hostname) {
				wildcard = s
			}
		case s.Default:
			def = s
		}
	}
	if wildcard != nil {
		return wildcard, fmt.Sprintf("the longest wildcard server name matching %q; no exact name", host)
	}
	if def == nil {
		def = servers[0] // nginx's default is the port's first server; the model always has one
	}
	if host == "" {
		return def, "no host name: the port's default server"
	}
	return def, fmt.Sprintf("no server name matches %q: the port's default server", host)
}

func serverName(s *model.HTTPServer) string {
	name := s.Hostname
	if name == "" {
		name = "(any host)"
	}
	if s.Default {
		name += " (default)"
	}
	return name
}

// block is one user-facing nginx location, as operator/render writes it
// for a model.Location.
type block struct {
	kind       string // "=" or "prefix"
	path       string
	candidates []model.Candidate
	// from is the model location's path and match, for messages.
	from *model.Location
}

// locationBlocks lists the user-facing location blocks render writes for
// srv (render's server and location): an Exact location is `= path`; a
// PathPrefix "/p" is `= /p` (unless an Exact /p exists) and `/p/`; "/" is
// `/`; without one, a `/` that answers 404. The first of two equal blocks
// stays.
func locationBlocks(srv *model.HTTPServer) []*block {
	exact := map[string]bool{}
	for _, l := range srv.Locations {
		if l.Match == model.PathExact {
			exact[l.Path] = true
		}
	}
	var out []*block
	seen := map[string]bool{}
	add := func(b *block) {
		if id := b.kind + " " + b.path; !seen[id] {
			seen[id] = true
			out = append(out, b)
		}
	}
	for i := range srv.Locations {
		l := &srv.Locations[i]
		path := l.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		switch l.Match {
		case model.PathExact:
			add(&block{kind: "=", path: path, candidates: l.Candidates, from: l})
		case model.PathPrefix:
			trimmed := strings.TrimRight(path, "/")
			if trimmed == "" {
				add(&block{kind: "prefix", path: "/", candidates: l.Candidates, from: l})
				continue
			}
			if !exact[trimmed] {
				add(&block{kind: "=", path: trimmed, candidates: l.Candidates, from: l})
			}
			add(&block{kind: "prefix", path: trimmed + "/", candidates: l.Candidates, from: l})
		}
	}
	if !seen["prefix /"] {
		add(&block{kind: "prefix", path: "/"})
	}
	return out
}

// pickBlock is nginx's location selection without regex locations: an
// exact location equal to uri, else the longest prefix location.
func pickBlock(blocks []*block, uri string) (*block, string) {
	var best *block
	for _, b := range blocks {
		switch b.kind {
		case "=":
			if b.path == uri {
				return b, "exact location equals the path"
			}
		default:
			if strings.HasPrefix(uri, b.path) && (best == nil || len(b.path) > len(best.path)) {
				best = b
			}
		}
	}
	if best.path == "/" && len(best.candidates) == 0 {
		return best, "no route path covers the path: the server's catch-all location answers 404"
	}
	return best, "longest prefix location covering the path"
}

func ruleRef(r *model.Rule) RuleRef {
	rule := r.Route.RuleName
	if rule == "" {
		rule = strconv.Itoa(r.Route.RuleIndex)
	}
	return RuleRef{Route: r.Route.Namespace + "/" + r.Route.Name, Kind: r.Route.Kind, Rule: rule, RuleIndex: r.Route.RuleIndex}
}

// holds evaluates conditions on the request as the render step's maps do;
// on failure it says which condition failed.
func (ev *evaluation) holds(conds []model.Condition) (bool, string) {
	for _, c := range conds {
		if ok, why := ev.condition(c); !ok {
			return false, why
		}
	}
	return true, ""
}

func (ev *evaluation) condition(c model.Condition) (bool, string) {
	var subject, what string
	switch c.Kind {
	case model.ConditionHeader:
		if !validHeaderName(c.Name) {
			return false, fmt.Sprintf("nginx never sees a header named %q", c.Name)
		}
		v, ok := ev.req.headerValue(c.Name)
		if !ok || v == "" {
			return false, fmt.Sprintf("header %s is absent", c.Name)
		}
		subject, what = v, "header "+c.Name
	case model.ConditionQueryParam:
		v := queryParam(ev.args, c.Name)
		if v == "" {
			return false, fmt.Sprintf("query parameter %s is absent", c.Name)
		}
		subject, what = v, "query parameter "+c.Name
	case model.ConditionMethod:
		subject, what = ev.res.Request.Method, "method"
	case model.ConditionPathRegex:
		subject, what = ev.uri, "path"
	default:
		return false, fmt.Sprintf("unknown condition %q", c.Kind)
	}
	if !c.Regex {
		if subject == c.Value {
			return true, ""
		}
		return false, fmt.Sprintf("%s is %q, not %q", what, subject, c.Value)
	}
	re, err := regexp.Compile(`^(?:` + c.Value + `)$`)
	if err != nil {
		return false, fmt.Sprintf("regular expression %q does not compile: %v", c.Value, err)
	}
	if re.MatchString(subject) {
		return true, ""
	}
	if lit, ok := exactLiteral(c); ok {
		return false, fmt.Sprintf("%s is %q, not %q", what, subject, lit)
	}
	return false, fmt.Sprintf("%s %q does not match %q", what, subject, c.Value)
}

// queryParam is the render step's query parameter variable: the raw
// value of the first "name=" in args (case-sensitive name).
func queryParam(args, name string) string {
	for _, kv := range strings.Split(args, "&") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// exactLiteral recognizes the anchored literal path regex the translation
// step gives exact matches in prefix locations ("^/p$").
func exactLiteral(c model.Condition) (string, bool) {
	if c.Kind != model.ConditionPathRegex || !strings.HasPrefix(c.Value, "^") || !strings.HasSuffix(c.Value, "$") {
		return "", false
	}
	re, err := syntax.Parse(c.Value[1:len(c.Value)-1], syntax.Perl)
	if err != nil || re.Op != syntax.OpLiteral || re.Flags&syntax.FoldCase != 0 {
		return "", false
	}
	return string(re.Rune), true
}

// DescribeConditions is a short text for a candidate's conditions (also
// kubectl nginx-gateway config's routes table).
func DescribeConditions(conds []model.Condition) string {
	if len(conds) == 0 {
		return "always"
	}
	parts := make([]string, 0, len(conds))
	for _, c := range conds {
		op := "="
		if c.Regex {
			op = "~"
		}
		switch c.Kind {
		case model.ConditionHeader:
			parts = append(parts, fmt.Sprintf("header %s %s %q", c.Name, op, c.Value))
		case model.ConditionQueryParam:
			parts = append(parts, fmt.Sprintf("query %s %s %q", c.Name, op, c.Value))
		case model.ConditionMethod:
			parts = append(parts, "method "+c.Value)
		case model.ConditionPathRegex:
			if lit, ok := exactLiteral(c); ok {
				parts = append(parts, "path = "+lit)
			} else {
				parts = append(parts, fmt.Sprintf("path ~ %q", c.Value))
			}
		}
	}
	return strings.Join(parts, ", ")
}
