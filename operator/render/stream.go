package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// closedUpstream is the stream upstream of connections that have nowhere to
// go (no route, an invalid backend, a Service without endpoints): its one
// server is down, so nginx closes the connection at once ("no live
// upstreams") and logs it.
const closedUpstream = "ngo_closed"

// streamView is what stream.conf.tmpl sees: the Gateway's `stream` context.
type streamView struct {
	// AccessLog is "json", "text" or "off", as for HTTP.
	AccessLog string
	// Upstreams are written by the same template as HTTP's ("ngo.upstreams"):
	// resolved at run time from the sidecar's DNS, never listing addresses.
	Upstreams upstreamsView
	// Splits share a route's connections among its backends.
	Splits []*streamSplit
	// SNIMaps map a TLS passthrough server's client server name to a
	// route ID.
	SNIMaps []*streamMap
	// RouteIDs maps "$protocol:$server_port" to the route ID (or, for
	// TLS passthrough, the SNI map's variable); Passes and Routes map the
	// route ID to what proxy_pass takes and to the route's name.
	RouteIDs *streamMap
	// InternalIDs maps an internal server's unix socket ($server_addr)
	// to its route ID; RouteIDs falls back to it.
	InternalIDs *streamMap
	Passes      *streamMap
	Routes      *streamMap
	// Ports gives the access log the listener port of a session, also on
	// an internal server (a unix socket has no $server_port); Reasons
	// says why a session was closed; Rejected are the shared TLS fronts'
	// "closed: log it" variables (a front logs only the sessions it
	// closes, its internal servers log the others).
	Ports    *streamMap
	Reasons  *streamMap
	Rejected []*streamMap
	// Hops are the upstreams of internal servers: name → unix socket.
	Hops []kv
	// TLS: some server terminates TLS.
	TLS     bool
	Servers []streamServerView
	// MapHashBucketSize and MapHashMaxSize fit the maps' keys.
	MapHashBucketSize, MapHashMaxSize int
}

// streamMap is one `map SOURCE $VAR { [hostnames;] KEY VALUE; … default VALUE; }`.
type streamMap struct {
	Comment string
	Source  string
	Var     string
	// Hostnames makes keys hostnames: exact names win over
	// "*.example.com", which matches any name below example.com.
	Hostnames bool
	Entries   []kv
	Default   string
}

// streamSplit is one `split_clients SOURCE $VAR { P% VALUE; … }`.
type streamSplit struct {
	Comment string
	Source  string // quoted complex value
	Var     string
	Entries []kv // Key "12.34%" or "*", Value an upstream name
	Src     *model.RouteRef
}

type streamServerView struct {
	Comment string
	Listen  string // "443", "53 udp", "unix:/… ssl proxy_protocol"
	Preread bool   // ssl_preread on: read the TLS server name
	// Certs are ssl_certificate (Key) and ssl_certificate_key (Value)
	// pairs, quoted or variables.
	Certs []kv
	// ProxyProtocol sends the PROXY protocol header to what it proxies to
	// (an internal server); RealIP takes the client's address from it.
	ProxyProtocol bool
	RealIP        bool
	// AccessLogIf, on a shared TLS front, logs only the sessions whose
	// variable is set (the ones it closes); the internal server a session
	// is handed to logs it.
	AccessLogIf string
	// Pass is what proxy_pass takes.
	Pass string
	// Timeout is proxy_timeout: how long a session may be idle.
	Timeout string
}

// Idle timeouts of stream sessions. A TCP connection (a database, a
// broker) may stay quiet for long; a UDP "session" is the datagrams
// exchanged with one client address and port, ended only by this timeout
// (responses are not counted, so streaming protocols keep flowing and a
// DNS client's next query from the same port reuses the session).
const (
	streamTCPTimeout = "1h"
	streamUDPTimeout = "60s"
)

// stream builds the stream context of the Gateway, nil when it has no
// stream servers (then nginx.conf has no `stream` block and does not load
// the module).
func (r *renderer) stream() (*streamView, error) {
	gw := r.gw
	if len(gw.StreamServers) == 0 {
		return nil, nil
	}
	sv := &streamView{
		AccessLog: orDefault(gw.Settings.AccessLogFormat, "json"),
		RouteIDs:  &streamMap{Comment: "The route of a session: by listener port and transport, and for TLS passthrough by server name.", Source: `"$protocol:$server_port"`, Var: "ngo_stream_route_id", Default: `""`},
		Passes:    &streamMap{Comment: "What each route proxies to: an upstream, a split among its backends, or ngo_closed.", Source: "$ngo_stream_route_id", Var: "ngo_stream_pass", Default: closedUpstream},
		Routes:    &streamMap{Comment: "Access log: the route of each route ID.", Source: "$ngo_stream_route_id", Var: "ngo_stream_route", Default: `""`},
		InternalIDs: &streamMap{Comment: "The route of a session on an internal server, by its unix socket.", Source: "$server_addr",
			Var: "ngo_stream_internal_route_id", Default: `""`},
		Ports: &streamMap{Comment: "Access log: the listener port of a session, also on an internal server (by its unix socket).",
			Source: "$server_addr", Var: "ngo_stream_port", Default: "$server_port"},
		// An upstream without ready endpoints resolves to the closed port
		// (dataplane.ClosedPort), which refuses its connections; before
		// its first answer it has no live peer, and nginx logs it under
		// its own name.
		Reasons: &streamMap{Comment: "Access log: why a session was closed at once.", Source: `"$ngo_stream_pass:$ngo_stream_route:$upstream_addr"`,
			Var: "ngo_stream_reason", Default: `""`, Entries: []kv{
				{quote("~^" + closedUpstream + "::"), quote("no listener or route takes this port and server name")},
				{quote("~^" + closedUpstream + ":"), quote("no valid backend")},
				{quote(`~:` + regexp.QuoteMeta(dataplane.ClosedAddr) + `$`), quote("no ready endpoints")},
				{quote(`~^([^:]+):[^:]*:\1$`), quote("no ready endpoints")},
			}},
	}
	upstreams := map[string]*model.Upstream{}
	// Every upstream is live: one whose Service port has no endpoints
	// resolves to the closed port at run time, which refuses its
	// connections.
	live := map[string]bool{}
	for i := range gw.StreamUpstreams {
		u := &gw.StreamUpstreams[i]
		if !isSafeIdent(u.Name) || u.Name == closedUpstream {
			return nil, fmt.Errorf("render: stream upstream name %q is not [A-Za-z0-9_]+ or is reserved", u.Name)
		}
		if _, dup := upstreams[u.Name]; dup {
			return nil, fmt.Errorf("render: duplicate stream upstream %q", u.Name)
		}
		upstreams[u.Name] = u
		live[u.Name] = true
	}
	sv.Upstreams = upstreamBlock("ngo_stream_upstreams", 0, dataplane.EndpointsStreamSRVService, gw.StreamUpstreams, upstreamRef)

	sb := &streamBuilder{r: r, sv: sv, upstreams: upstreams, live: live, seenID: map[string]bool{}}
	seenServer := map[string]bool{}
	for i := range gw.StreamServers {
		s := &gw.StreamServers[i]
		if s.Port < 1 || s.Port > 65535 {
			return nil, fmt.Errorf("render: stream server port %d", s.Port)
		}
		key := fmt.Sprintf("TCP:%d", s.Port)
		view := streamServerView{Listen: itoa(s.Port), Timeout: streamTCPTimeout, Pass: "$ngo_stream_pass"}
		switch s.Protocol {
		case model.StreamTCP:
		case model.StreamUDP:
			key = fmt.Sprintf("UDP:%d", s.Port)
			view.Listen += " udp"
			view.Timeout = streamUDPTimeout
		case model.StreamTLS:
		default:
			return nil, fmt.Errorf("render: stream server protocol %q", s.Protocol)
		}
		if seenServer[key] {
			return nil, fmt.Errorf("render: two stream servers on %s", key)
		}
		seenServer[key] = true
		view.Comment = comment(fmt.Sprintf("%s listeners %s", s.Protocol, strings.Join(s.Listeners, ",")))
		if s.Protocol == model.StreamTLS {
			if err := sb.tlsServer(s, key, view); err != nil {
				return nil, err
			}
			continue
		}
		sv.Servers = append(sv.Servers, view)
		for j := range s.Routes {
			rt := &s.Routes[j]
			if j > 0 || rt.Hostname != "" {
				return nil, fmt.Errorf("render: %s server on port %d has more than one route", s.Protocol, s.Port)
			}
			if err := sb.route(rt, nil); err != nil {
				return nil, err
			}
			sv.RouteIDs.Entries = append(sv.RouteIDs.Entries, kv{quote(key), rt.ID})
		}
	}
	if len(sv.InternalIDs.Entries) > 0 {
		sv.RouteIDs.Default = "$" + sv.InternalIDs.Var
	}
	// Hash sizes that always fit: a bucket must hold the longest key (a
	// server name, a socket path), the table every key of one map.
	longest, most := 0, 0
	for _, m := range append(slices.Clone(sv.SNIMaps), sv.RouteIDs, sv.InternalIDs, sv.Passes, sv.Routes, sv.Ports) {
		most = max(most, len(m.Entries))
		for _, e := range m.Entries {
			longest = max(longest, len(e.Key))
		}
	}
	sv.MapHashBucketSize = roundUp(2*(longest+16), 64, 128)
	sv.MapHashMaxSize = roundUp(4*most, 1024, 2048)
	return sv, nil
}

// streamBuilder collects the stream context's maps while its servers are
// built.
type streamBuilder struct {
	r         *renderer
	sv        *streamView
	upstreams map[string]*model.Upstream
	live      map[string]bool
	seenID    map[string]bool
}

// route registers a route: its entry in the server-name map sni (TLS),
// its name for the access log and what it proxies to.
func (sb *streamBuilder) route(rt *model.StreamRoute, sni *streamMap) error {
	if !isSafeIdent(rt.ID) || sb.seenID[rt.ID] {
		return fmt.Errorf("render: stream route ID %q is not [A-Za-z0-9_]+ or is used twice", rt.ID)
	}
	sb.seenID[rt.ID] = true
	switch {
	case sni != nil && rt.Hostname == "":
		sni.Default = rt.ID
	case sni != nil:
		if !serverHostname.MatchString(rt.Hostname) {
			return fmt.Errorf("render: TLS server name %q", rt.Hostname)
		}
		sni.Entries = append(sni.Entries, kv{quote(rt.Hostname), rt.ID})
	}
	if rt.Route.Name != "" {
		sb.sv.Routes.Entries = append(sb.sv.Routes.Entries, kv{rt.ID, quoteValue(rt.Route.Kind + " " + rt.Route.Namespace + "/" + rt.Route.Name)})
	}
	pass, err := sb.r.streamPass(sb.sv, rt, sb.upstreams, sb.live)
	if err != nil {
		return err
	}
	if pass != closedUpstream {
		sb.sv.Passes.Entries = append(sb.sv.Passes.Entries, kv{rt.ID, pass})
	}
	return nil
}

// sniMap is the map of a TLS server's routes by server name: read from the
// ClientHello without terminating ($ssl_preread_server_name) or from the
// handshake nginx terminated ($ssl_server_name).
func (sb *streamBuilder) sniMap(port int32, what, source, suffix string) *streamMap {
	m := &streamMap{
		Comment:   comment(fmt.Sprintf("TLS on port %d, %s: the route of each server name (exact names before wildcards)", port, what)),
		Source:    source,
		Var:       fmt.Sprintf("ngo_sni_%d%s", port, suffix),
		Hostnames: true,
		Default:   `""`,
	}
	sb.sv.SNIMaps = append(sb.sv.SNIMaps, m)
	return m
}

// tlsServer writes a TLS port. Passed-through routes only: one server
// reading the server name (ssl_preread). Terminated routes only: one
// server terminating TLS with the certificates of each name. Both: the
// port's server reads the server name and hands the connection, with the
// PROXY protocol (so the client's address stays in the logs), to an
// internal server on a unix socket that passes it through or terminates
// it.
func (sb *streamBuilder) tlsServer(s *model.StreamServer, key string, view streamServerView) error {
	var passthrough, terminate []*model.StreamRoute
	for i := range s.Routes {
		if s.Routes[i].TLS != nil {
			terminate = append(terminate, &s.Routes[i])
		} else {
			passthrough = append(passthrough, &s.Routes[i])
		}
	}
	passthroughServer := func(v streamServerView, routeKey string) error {
		v.Preread = true
		sni := sb.sniMap(s.Port, "passed through", "$ssl_preread_server_name", "")
		sb.addRouteID(routeKey, "$"+sni.Var)
		sb.sv.Servers = append(sb.sv.Servers, v)
		for _, rt := range passthrough {
			if err := sb.route(rt, sni); err != nil {
				return err
			}
		}
		return nil
	}
	terminateServer := func(v streamServerView, routeKey string) error {
		v.Listen += " ssl"
		sni := sb.sniMap(s.Port, "terminated", "$ssl_server_name", "_terminated")
		sb.addRouteID(routeKey, "$"+sni.Var)
		certs, err := sb.certificates(s.Port, terminate)
		if err != nil {
			return err
		}
		v.Certs = certs
		sb.sv.Servers = append(sb.sv.Servers, v)
		sb.sv.TLS = true
		for _, rt := range terminate {
			if err := sb.route(rt, sni); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.HTTPS) == 0 {
		switch {
		case len(terminate) == 0:
			return passthroughServer(view, key)
		case len(passthrough) == 0:
			return terminateServer(view, key)
		}
	}
	// Shared: the front hands each connection on by server name, with the
	// PROXY protocol, to an internal server that passes it through,
	// terminates it or serves HTTPS (the port's HTTP servers).
	hop := &streamMap{
		Comment:   comment(fmt.Sprintf("TLS on port %d: which internal server takes each server name", s.Port)),
		Source:    "$ssl_preread_server_name",
		Var:       fmt.Sprintf("ngo_tls_hop_%d", s.Port),
		Hostnames: true,
		Default:   closedUpstream,
	}
	kinds := map[string]bool{"passthrough": len(passthrough) > 0, "terminate": len(terminate) > 0, "https": len(s.HTTPS) > 0}
	hopTo := func(kind, hostname string) {
		name := fmt.Sprintf("ngo_tls_%d_%s", s.Port, kind)
		if hostname == "" {
			// A listener without hostname takes the names no other takes;
			// HTTPS first, as an HTTPS listener's requests are the usual.
			if hop.Default == closedUpstream {
				hop.Default = name
			}
			return
		}
		if serverHostname.MatchString(hostname) {
			hop.Entries = append(hop.Entries, kv{quote(hostname), name})
		}
	}
	for _, h := range s.HTTPS {
		hopTo("https", h)
	}
	for _, rt := range terminate {
		hopTo("terminate", rt.Hostname)
	}
	for _, rt := range passthrough {
		hopTo("passthrough", rt.Hostname)
	}
	for _, kind := range []string{"passthrough", "terminate", "https"} {
		if kinds[kind] {
			sb.sv.Hops = append(sb.sv.Hops, kv{fmt.Sprintf("ngo_tls_%d_%s", s.Port, kind), tlsSocket(s.Port, kind)})
			if kind != "https" { // an HTTP server's, which logs in the HTTP format
				sb.sv.Ports.Entries = append(sb.sv.Ports.Entries, kv{quote(tlsSocket(s.Port, kind)), itoa(s.Port)})
			}
		}
	}
	sb.sv.SNIMaps = append(sb.sv.SNIMaps, hop)
	rejected := &streamMap{
		Comment: comment(fmt.Sprintf("TLS on port %d: the front logs the sessions it closes (no listener takes the server name)", s.Port)),
		Source:  "$" + hop.Var,
		Var:     fmt.Sprintf("ngo_tls_rejected_%d", s.Port),
		Entries: []kv{{closedUpstream, "1"}},
		Default: `""`,
	}
	sb.sv.Rejected = append(sb.sv.Rejected, rejected)
	front := view
	front.Preread, front.ProxyProtocol, front.AccessLogIf, front.Pass = true, true, "$"+rejected.Var, "$"+hop.Var
	sb.sv.Servers = append(sb.sv.Servers, front)
	internal := func(kind string) streamServerView {
		v := view
		v.Comment = comment(fmt.Sprintf("TLS port %d, the server names it hands on to be %s (with the PROXY protocol)", s.Port, kind))
		v.Listen = tlsSocket(s.Port, kind) + " proxy_protocol"
		v.RealIP = true
		return v
	}
	if kinds["passthrough"] {
		if err := passthroughServer(internal("passthrough"), quote(tlsSocket(s.Port, "passthrough"))); err != nil {
			return err
		}
	}
	if kinds["terminate"] {
		return terminateServer(internal("terminate"), quote(tlsSocket(s.Port, "terminate")))
	}
	return nil
}

// tlsSocket is the unix socket of an internal server of a TLS port:
// "passthrough", "terminate" or "https" (the port's HTTP servers).
func tlsSocket(port int32, kind string) string {
	return fmt.Sprintf("unix:%s/tls-%d-%s.sock", dataplane.SocketPath, port, kind)
}

// httpsBehindStream returns the ports whose HTTPS servers listen behind a
// TLS stream server (on its "https" unix socket).
func httpsBehindStream(gw *model.Gateway) map[int32]bool {
	out := map[int32]bool{}
	for _, s := range gw.StreamServers {
		if s.Protocol == model.StreamTLS && len(s.HTTPS) > 0 {
			out[s.Port] = true
		}
	}
	return out
}

// addRouteID maps a server (by "$protocol:$server_port", or by the unix
// socket of an internal server) to its route ID.
func (sb *streamBuilder) addRouteID(key, value string) {
	if strings.HasPrefix(key, `"unix:`) {
		sb.sv.InternalIDs.Entries = append(sb.sv.InternalIDs.Entries, kv{key, value})
		return
	}
	sb.sv.RouteIDs.Entries = append(sb.sv.RouteIDs.Entries, kv{quote(key), value})
}

// certificates are the ssl_certificate and ssl_certificate_key of a
// terminating server: the files themselves when every name uses the same
// certificates, else variables mapping the server name to the first
// certificate of its route.
func (sb *streamBuilder) certificates(port int32, routes []*model.StreamRoute) ([]kv, error) {
	for _, rt := range routes {
		if len(rt.TLS.CertificateNames) == 0 {
			return nil, fmt.Errorf("render: TLS route %s terminates without certificates", rt.ID)
		}
		for _, c := range rt.TLS.CertificateNames {
			if !sb.r.certs[c] {
				return nil, fmt.Errorf("render: TLS route %s uses unknown certificate %q", rt.ID, c)
			}
		}
	}
	same := true
	for _, rt := range routes[1:] {
		same = same && slices.Equal(rt.TLS.CertificateNames, routes[0].TLS.CertificateNames)
	}
	if same {
		var out []kv
		for _, c := range routes[0].TLS.CertificateNames {
			out = append(out, kv{quote(c + ".crt"), quote(c + ".key")})
		}
		return out, nil
	}
	crt := &streamMap{Comment: comment(fmt.Sprintf("TLS on port %d: the certificate of each server name", port)),
		Source: "$ssl_server_name", Var: fmt.Sprintf("ngo_tls_crt_%d", port), Hostnames: true}
	key := &streamMap{Comment: comment(fmt.Sprintf("TLS on port %d: the key of each server name", port)),
		Source: "$ssl_server_name", Var: fmt.Sprintf("ngo_tls_key_%d", port), Hostnames: true}
	for _, rt := range routes {
		c := rt.TLS.CertificateNames[0]
		if rt.Hostname == "" || crt.Default == "" {
			crt.Default, key.Default = quote(c+".crt"), quote(c+".key")
		}
		if rt.Hostname != "" && serverHostname.MatchString(rt.Hostname) {
			crt.Entries = append(crt.Entries, kv{quote(rt.Hostname), quote(c + ".crt")})
			key.Entries = append(key.Entries, kv{quote(rt.Hostname), quote(c + ".key")})
		}
	}
	sb.sv.SNIMaps = append(sb.sv.SNIMaps, crt, key)
	return []kv{{"$" + crt.Var, "$" + key.Var}}, nil
}

// UpstreamRef is the name upstream name has in nginx's files, and so in
// the stream access log's backend field (operator/explain).
func UpstreamRef(name string) string { return upstreamRef(name) }

// streamPass returns what proxy_pass takes for a route: the upstream of its
// one live backend, a split_clients variable sharing connections by weight,
// or ngo_closed.
func (r *renderer) streamPass(sv *streamView, rt *model.StreamRoute, upstreams map[string]*model.Upstream, live map[string]bool) (string, error) {
	var weights []int64
	var values []string
	for _, b := range rt.Backends {
		if b.Weight <= 0 {
			continue
		}
		target := closedUpstream
		if !b.Invalid {
			if upstreams[b.Upstream] == nil {
				return "", fmt.Errorf("render: stream route %s uses unknown upstream %q", rt.ID, b.Upstream)
			}
			if live[b.Upstream] {
				target = upstreamRef(b.Upstream)
			}
		}
		weights = append(weights, int64(b.Weight))
		values = append(values, target)
	}
	switch {
	case len(values) == 0:
		return closedUpstream, nil
	case len(values) == 1:
		return values[0], nil
	}
	same := true
	for _, v := range values {
		same = same && v == values[0]
	}
	if same {
		return values[0], nil
	}
	// A connection has no request ID: its client address, port, the
	// worker's connection number and the time make each one's hash
	// different.
	split := &streamSplit{
		Comment: comment(fmt.Sprintf("%s %s/%s: backends by weight", rt.Route.Kind, rt.Route.Namespace, rt.Route.Name)),
		Var:     "ngo_split_" + rt.ID,
		Source:  `"$remote_addr:$remote_port:$connection:$msec"`,
		Src:     &rt.Route,
	}
	for i, bp := range basisPoints(weights) {
		if bp > 0 {
			split.Entries = append(split.Entries, kv{Key: fmt.Sprintf("%d.%02d%%", bp/100, bp%100), Value: values[i]})
		}
	}
	// The last share takes the rest, so rounding never leaves a
	// connection without a value.
	split.Entries[len(split.Entries)-1].Key = "*"
	sv.Splits = append(sv.Splits, split)
	return "$" + split.Var, nil
}
