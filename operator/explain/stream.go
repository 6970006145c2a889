package explain

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// Connection is one connection (or UDP session) to a Gateway's TCP, UDP
// or TLS listener port, as nginx's stream servers see it.
type Connection struct {
	// Transport is "TCP" or "UDP".
	Transport string
	Port      int32
	// TLS: the client starts a TLS handshake, with server name SNI ("" for
	// none).
	TLS bool
	SNI string
}

// Stream outcomes of a Response.
const (
	// OutcomeClosed: nginx closes the connection at once (no route, an
	// invalid backend, no endpoints); UDP datagrams go unanswered.
	OutcomeClosed = "connection closed"
	// OutcomeHTTPS: a TLS port shared with HTTPS listeners hands the
	// connection to the port's HTTP servers.
	OutcomeHTTPS = "handed to HTTPS"
)

// StreamChoice is the stream server that takes a connection and why.
type StreamChoice struct {
	Port int32 `json:"port"`
	// Protocol is the listeners' protocol: TCP, UDP or TLS.
	Protocol  string   `json:"protocol"`
	Listeners []string `json:"listeners,omitempty"`
	// Mode, on a TLS port, is where the server name sends the connection:
	// "passthrough", "terminate" or "https".
	Mode string `json:"mode,omitempty"`
	// Hostname is the route (or HTTPS listener) hostname the server name
	// matched; empty for the port's catch-all.
	Hostname string `json:"hostname,omitempty"`
	Why      string `json:"why"`
}

// IsConnectionURL reports whether rawURL names a connection
// (tcp://, udp:// or tls://) rather than an HTTP request.
func IsConnectionURL(rawURL string) bool {
	scheme, _, ok := strings.Cut(rawURL, "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "tcp" || scheme == "udp" || scheme == "tls")
}

// NewConnection parses tcp://HOST:PORT, udp://HOST:PORT or tls://HOST:PORT
// (a TCP connection starting a TLS handshake whose server name is HOST,
// none when HOST is an IP address).
func NewConnection(rawURL string) (Connection, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "tcp" && scheme != "udp" && scheme != "tls") {
		return Connection{}, fmt.Errorf("URL %q: want tcp://HOST:PORT, udp://HOST:PORT or tls://SERVERNAME:PORT", rawURL)
	}
	host, port, err := net.SplitHostPort(strings.TrimSuffix(rest, "/"))
	if err != nil {
		return Connection{}, fmt.Errorf("URL %q: want HOST:PORT after %s:// (%v)", rawURL, scheme, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return Connection{}, fmt.Errorf("URL %q: bad port %q", rawURL, port)
	}
	c := Connection{Transport: "TCP", Port: int32(p)}
	switch scheme {
	case "udp":
		c.Transport = "UDP"
	case "tls":
		c.TLS = true
		if host != "" && net.ParseIP(host) == nil {
			c.SNI = host
		}
	}
	return c, nil
}

// ExplainConnection evaluates c against m, whose stream upstreams have
// endpoints, as nginx's stream servers, configured from m by the render
// step (render/stream.go), would: the server of the port and transport;
// on a TLS port the server name's route (exact names before the longest
// wildcard, then the route without hostname); the route's backends by
// weight, or a closed connection.
func ExplainConnection(m *model.Gateway, endpoints Endpoints, c Connection) Result {
	scheme := strings.ToLower(c.Transport)
	if c.TLS {
		scheme = "tls"
	}
	res := Result{Request: RequestSeen{Scheme: scheme, Port: c.Port, SNI: c.SNI}}
	se := streamEvaluation{m: m, endpoints: endpoints, conn: c, res: &res}
	se.run()
	se.routeVerdicts()
	if a := res.Response.AccessLog; a != nil {
		a.Format = accessLogFormat(m)
	}
	return res
}

type streamEvaluation struct {
	m         *model.Gateway
	endpoints Endpoints
	conn      Connection
	res       *Result
	srv       *model.StreamServer
	// selected is the route that takes the connection, nil for none.
	selected *model.StreamRoute
}

func transportOf(p model.StreamProtocol) string {
	if p == model.StreamUDP {
		return "UDP"
	}
	return "TCP"
}

func (se *streamEvaluation) run() {
	c, res := se.conn, se.res
	for i := range se.m.StreamServers {
		if s := &se.m.StreamServers[i]; s.Port == c.Port && transportOf(s.Protocol) == c.Transport {
			se.srv = s
		}
	}
	if se.srv == nil {
		why := fmt.Sprintf("no TCP, UDP or TLS listener of the Gateway on %s port %d", c.Transport, c.Port)
		switch {
		case c.Transport == "TCP" && se.hasHTTP(c.Port):
			why += fmt.Sprintf(": it serves HTTP there (explain a request with --url http://HOST:%d/PATH, or https://)", c.Port)
		case c.Transport == "TCP":
			why += ": the connection is refused"
		default:
			why += ": the datagrams go unanswered"
		}
		res.Response = Response{Outcome: OutcomeNoServer, Why: why}
		return
	}
	srv := se.srv
	choice := &StreamChoice{Port: srv.Port, Protocol: string(srv.Protocol), Listeners: srv.Listeners}
	res.Stream = choice
	if srv.Protocol != model.StreamTLS {
		what := "connection"
		if srv.Protocol == model.StreamUDP {
			what = "session (datagrams from one client address and port)"
		}
		choice.Why = fmt.Sprintf("the %s listener's server takes every %s to port %d", srv.Protocol, what, c.Port)
		if c.TLS {
			choice.Why += "; a TLS handshake passes through it as bytes"
		}
		if len(srv.Routes) == 0 {
			se.closed("no route is attached to the listener", &AccessLog{Backend: closedUpstream})
			return
		}
		se.respond(&srv.Routes[0])
		return
	}
	se.tls(choice)
}

// tls selects, on a TLS port, where the connection's server name sends it
// (render's tlsServer): one server when the port only passes through or
// only terminates; else a front server that hands each server name to the
// internal passthrough, terminate or HTTPS server, whose own map then
// picks the route.
func (se *streamEvaluation) tls(choice *StreamChoice) {
	srv := se.srv
	sni := strings.ToLower(se.conn.SNI)
	source := fmt.Sprintf("server name %q", sni)
	switch {
	case !se.conn.TLS:
		sni, source = "", "no TLS handshake, so no server name"
	case sni == "":
		source = "no server name (SNI)"
	}
	var passthrough, terminate []*model.StreamRoute
	for i := range srv.Routes {
		if srv.Routes[i].TLS != nil {
			terminate = append(terminate, &srv.Routes[i])
		} else {
			passthrough = append(passthrough, &srv.Routes[i])
		}
	}
	choice.Mode = "passthrough"
	if len(passthrough) == 0 {
		choice.Mode = "terminate"
	}
	if len(srv.HTTPS) > 0 || (len(passthrough) > 0 && len(terminate) > 0) {
		// The front: HTTPS listeners first, then terminated, then passed
		// through; the first without hostname takes the other names.
		var hosts, modes []string
		def := ""
		add := func(mode, host string) {
			if host == "" {
				if def == "" {
					def = mode
				}
				return
			}
			hosts, modes = append(hosts, host), append(modes, mode)
		}
		for _, h := range srv.HTTPS {
			add("https", h)
		}
		for _, rt := range terminate {
			add("terminate", rt.Hostname)
		}
		for _, rt := range passthrough {
			add("passthrough", rt.Hostname)
		}
		i, how := matchHostname(hosts, sni)
		switch {
		case i >= 0:
			choice.Mode, choice.Hostname = modes[i], hosts[i]
			choice.Why = fmt.Sprintf("the port's front server hands %s to be %s: %s", source, modeWord(modes[i]), how)
		case def != "":
			choice.Mode = def
			choice.Why = fmt.Sprintf("the port's front server hands %s to be %s: no listener hostname matches, and a listener without hostname takes the rest", source, modeWord(def))
		default:
			choice.Mode = ""
			choice.Why = fmt.Sprintf("the port's front server has nowhere to hand %s: no listener hostname matches", source)
			se.closed("no listener of the port takes this server name", &AccessLog{Backend: closedUpstream})
			return
		}
		if choice.Mode == "https" {
			se.res.Response = Response{Outcome: OutcomeHTTPS, Why: fmt.Sprintf("the port's HTTPS listeners serve it: explain a request with --url https://%s:%d/PATH", orAny(sni), srv.Port)}
			return
		}
	}
	routes := passthrough
	if choice.Mode == "terminate" {
		routes = terminate
	}
	var hosts []string
	var def *model.StreamRoute
	for _, rt := range routes {
		if rt.Hostname == "" {
			def = rt
			continue
		}
		hosts = append(hosts, rt.Hostname)
	}
	i, how := matchHostname(hosts, sni)
	var rt *model.StreamRoute
	switch {
	case i >= 0:
		for _, r := range routes {
			if r.Hostname == hosts[i] {
				rt = r
				break
			}
		}
		if choice.Why != "" && choice.Hostname == hosts[i] {
			how = fmt.Sprintf("the %s server's route of %s takes it", modeWord(choice.Mode), hosts[i])
		} else {
			how = fmt.Sprintf("%s: %s", source, how)
		}
		choice.Hostname = hosts[i]
	case def != nil:
		rt, choice.Hostname = def, ""
		how = fmt.Sprintf("%s matches no route hostname: the route without hostname takes it", source)
		if def.Route.Name == "" {
			how = fmt.Sprintf("%s matches no route hostname: the listener without hostname takes it", source)
		}
	default:
		how = fmt.Sprintf("%s matches no route hostname, and no route takes every name", source)
	}
	if choice.Why == "" {
		choice.Why = fmt.Sprintf("the TLS listener's server (%s) routes by server name; %s", modeWord(choice.Mode), how)
	} else {
		choice.Why += "; then " + how
	}
	if rt == nil {
		se.closed("no route takes this server name", &AccessLog{Backend: closedUpstream})
		return
	}
	se.respond(rt)
}

func modeWord(mode string) string {
	switch mode {
	case "terminate":
		return "terminated"
	case "https":
		return "served as HTTPS"
	}
	return "passed through"
}

func orAny(s string) string {
	if s == "" {
		return "HOST"
	}
	return s
}

// matchHostname is nginx's map with `hostnames`: the exact name, else the
// longest wildcard ("*.example.com" matches names below example.com, at
// any depth); -1 for none.
func matchHostname(hosts []string, name string) (int, string) {
	best := -1
	for i, h := range hosts {
		if h == name && name != "" {
			return i, fmt.Sprintf("hostname %s equals it", h)
		}
		if strings.HasPrefix(h, "*.") && strings.HasSuffix(name, h[1:]) && len(name) > len(h)-1 {
			if best < 0 || len(h) > len(hosts[best]) {
				best = i
			}
		}
	}
	if best >= 0 {
		return best, fmt.Sprintf("the longest wildcard hostname matching it is %s; no exact one", hosts[best])
	}
	return -1, ""
}

// closed answers a connection nginx closes at once, logged with log (the
// front server of a shared TLS port logs the names it closes too).
func (se *streamEvaluation) closed(why string, log *AccessLog) {
	se.res.Response = Response{Outcome: OutcomeClosed, Why: why, AccessLog: log}
}

// closedUpstream is render's stream upstream of connections with nowhere
// to go (its one server is down): the access log's backend for them.
const closedUpstream = "ngo_closed"

// respond is what route rt does with the connection, as render's
// streamPass writes it: its backends with weights above 0 share the
// connections (split_clients); an invalid backend or an upstream without
// endpoints closes the connections it gets.
func (se *streamEvaluation) respond(rt *model.StreamRoute) {
	if rt.Route.Name == "" {
		// A listener hostname that no route takes keeps its connections
		// from the port's other routes (a wildcard one) and closes them.
		why := fmt.Sprintf("the listener of hostname %s takes it, and no route is attached for that hostname", rt.Hostname)
		if rt.Hostname == "" {
			why = "no route of the listener without hostname takes this name"
		}
		se.closed(why, &AccessLog{Backend: closedUpstream})
		return
	}
	rule := strconv.Itoa(rt.Route.RuleIndex)
	if rt.Route.RuleName != "" {
		rule = rt.Route.RuleName
	}
	se.selected = rt
	se.res.Selected = &RuleRef{Route: rt.Route.Namespace + "/" + rt.Route.Name, Kind: rt.Route.Kind, Rule: rule, RuleIndex: rt.Route.RuleIndex}
	log := &AccessLog{Route: rt.Route.Kind + " " + rt.Route.Namespace + "/" + rt.Route.Name}
	upstreams := map[string]*model.Upstream{}
	for i := range se.m.StreamUpstreams {
		upstreams[se.m.StreamUpstreams[i].Name] = &se.m.StreamUpstreams[i]
	}
	backends, weights := weighted(rt.Backends)
	if len(backends) == 0 {
		why := "the route has no backendRef with a weight above 0"
		if len(rt.Backends) == 0 {
			why = "the route has no backendRefs"
		}
		log.Backend = closedUpstream
		se.closed(why, log)
		return
	}
	resp := Response{Outcome: OutcomeProxied, AccessLog: log}
	logs := map[string]bool{}
	open := false
	for i, bp := range basisPoints(weights) {
		b := backends[i]
		bo := BackendOutcome{Upstream: b.Upstream, Weight: b.Weight, Share: formatShare(bp), Log: closedUpstream}
		u := upstreams[b.Upstream]
		switch {
		case b.Invalid || u == nil:
			bo.Upstream = ""
			bo.Why = "invalid backendRef (see the route's ResolvedRefs condition): the connection is closed"
		default:
			bo.Service = fmt.Sprintf("%s/%s:%d", u.ServiceNamespace, u.ServiceName, u.ServicePort)
			for _, e := range se.endpoints[u.Name] {
				bo.Endpoints = append(bo.Endpoints, net.JoinHostPort(e.Address, strconv.Itoa(int(e.Port))))
			}
			bo.Log = render.UpstreamRef(u.Name)
			if len(bo.Endpoints) == 0 {
				bo.Why = "the Service has no ready endpoints: the connection is closed"
			} else {
				open = true
			}
		}
		logs[bo.Log] = true
		resp.Backends = append(resp.Backends, bo)
	}
	if len(logs) == 1 {
		log.Backend = resp.Backends[0].Log
	}
	if !open {
		resp.Outcome, resp.Why = OutcomeClosed, resp.Backends[0].Why
		if len(resp.Backends) > 1 {
			resp.Why = "no backend of the route can take it: the connection is closed"
		}
	}
	se.res.Response = resp
}

// routeVerdicts says, for every stream route of the model, why it did or
// did not take the connection: one verdict per route, whose hostnames and
// listeners may make several model entries.
func (se *streamEvaluation) routeVerdicts() {
	index := map[string]int{}
	for i := range se.m.StreamServers {
		s := &se.m.StreamServers[i]
		for j := range s.Routes {
			rt := &s.Routes[j]
			if rt.Route.Name == "" {
				continue // a listener hostname without route: no route to judge
			}
			v := RouteVerdict{Route: rt.Route.Namespace + "/" + rt.Route.Name, Kind: rt.Route.Kind, Verdict: RouteNotMatched}
			switch {
			case rt == se.selected:
				v.Verdict, v.Why = RouteSelected, "rule "+se.res.Selected.Rule
			case s != se.srv:
				v.Why = fmt.Sprintf("port: it is served on %s port %d; the connection is %s to port %d", s.Protocol, s.Port, strings.ToUpper(se.res.Request.Scheme), se.conn.Port)
			default:
				v.Why = se.whyNotOnServer(rt)
			}
			key := v.Kind + " " + v.Route
			at, seen := index[key]
			switch {
			case !seen:
				index[key] = len(se.res.Routes)
				se.res.Routes = append(se.res.Routes, v)
			case v.Verdict == RouteSelected:
				se.res.Routes[at] = v
			case se.res.Routes[at].Verdict != RouteSelected && !strings.Contains(se.res.Routes[at].Why, v.Why):
				se.res.Routes[at].Why += "; " + v.Why
			}
		}
	}
}

// whyNotOnServer explains why a route of the TLS server that took the
// connection did not get it.
func (se *streamEvaluation) whyNotOnServer(rt *model.StreamRoute) string {
	name := strings.ToLower(se.conn.SNI)
	if !se.conn.TLS {
		name = ""
	}
	host := rt.Hostname
	if host == "" {
		host = "(any name)"
	}
	_, matches := matchHostname([]string{rt.Hostname}, name)
	if matches == "" && rt.Hostname != "" {
		return fmt.Sprintf("hostname: server name %q does not match %s", name, host)
	}
	if ch := se.res.Stream; ch != nil && ch.Mode != "" {
		took := ch.Hostname
		if took == "" {
			took = "(any name)"
		}
		return fmt.Sprintf("hostname %s matches too, but server name %q goes to the more specific %s (%s)", host, name, took, modeWord(ch.Mode))
	}
	return fmt.Sprintf("hostname %s matches, but the port's front server hands the connection nowhere", host)
}

// hasHTTP reports whether the Gateway serves HTTP or HTTPS on port.
func (se *streamEvaluation) hasHTTP(port int32) bool {
	for _, s := range se.m.HTTPServers {
		if s.Port == port {
			return true
		}
	}
	return false
}

// frontHandsElsewhere: on a TLS port shared by HTTPS and TLS listeners, a
// stream front server reads the server name first (render's tlsServer);
// it says whether it hands this request's handshake to something other
// than the port's HTTPS servers, and where.
func (ev *evaluation) frontHandsElsewhere() (string, bool) {
	c := Connection{Transport: "TCP", Port: ev.req.Port, TLS: true, SNI: ev.req.SNI}
	res := ExplainConnection(ev.m, ev.endpoints, c)
	st := res.Stream
	if st == nil || st.Protocol != string(model.StreamTLS) || st.Mode == "https" {
		return "", false
	}
	why := fmt.Sprintf("port %d's TLS front server does not hand this handshake to its HTTPS listeners: %s", ev.req.Port, st.Why)
	if res.Selected != nil {
		why += fmt.Sprintf(" (%s %s); explain it with --url tls://%s:%d", res.Selected.Kind, res.Selected.Route, orAny(strings.ToLower(ev.req.SNI)), ev.req.Port)
	}
	return why, true
}
