package render

import (
	"fmt"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// closedUpstream is the stream upstream of connections that have nowhere to
// go (no route, an invalid backend, a Service without endpoints): its one
// server is down, so nginx closes the connection at once ("no live
// upstreams") and logs it.
const closedUpstream = "ngo_closed"

// streamView is what stream.conf.tmpl sees: the Gateway's `stream` context.
type streamView struct {
	// AccessLog is "default", "json" or "off", as for HTTP.
	AccessLog string
	Upstreams []streamUpstreamView
	// Splits share a route's connections among its backends.
	Splits []*streamSplit
	// SNIMaps map a TLS passthrough server's client server name to a
	// route ID.
	SNIMaps []*streamMap
	// RouteIDs maps "$protocol:$server_port" to the route ID (or, for
	// TLS passthrough, the SNI map's variable); Passes and Routes map the
	// route ID to what proxy_pass takes and to the route's name.
	RouteIDs *streamMap
	Passes   *streamMap
	Routes   *streamMap
	Servers  []streamServerView
}

// streamUpstreamView is one stream upstream: the template definition
// "stream-upstream" renders it from the model.Upstream, so how upstream
// servers are written is decided in one place.
type streamUpstreamView struct {
	Comment string
	U       *model.Upstream
	// Servers are "ADDRESS:PORT", IPv6 in brackets.
	Servers []string
	ZoneKB  int
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
	Listen  string // "443", "53 udp"
	Preread bool   // ssl_preread on: read the TLS server name
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
		AccessLog: orDefault(gw.Settings.AccessLogFormat, "default"),
		RouteIDs:  &streamMap{Comment: "The route of a session: by listener port and transport, and for TLS passthrough by server name.", Source: `"$protocol:$server_port"`, Var: "ngo_stream_route_id", Default: `""`},
		Passes:    &streamMap{Comment: "What each route proxies to: an upstream, a split among its backends, or ngo_closed.", Source: "$ngo_stream_route_id", Var: "ngo_stream_pass", Default: closedUpstream},
		Routes:    &streamMap{Comment: "Access log: the route of each route ID.", Source: "$ngo_stream_route_id", Var: "ngo_stream_route", Default: `""`},
	}
	upstreams := map[string]*model.Upstream{}
	live := map[string]bool{}
	peers := 0
	for i := range gw.StreamUpstreams {
		u := &gw.StreamUpstreams[i]
		if !safeIdent.MatchString(u.Name) || u.Name == closedUpstream {
			return nil, fmt.Errorf("render: stream upstream name %q is not [A-Za-z0-9_]+ or is reserved", u.Name)
		}
		if _, dup := upstreams[u.Name]; dup {
			return nil, fmt.Errorf("render: duplicate stream upstream %q", u.Name)
		}
		upstreams[u.Name] = u
		uv, ok := upstreamFor(u)
		if !ok {
			continue // its share of connections is closed
		}
		live[u.Name] = true
		sv.Upstreams = append(sv.Upstreams, streamUpstreamView{Comment: uv.Comment, U: u, Servers: uv.Servers})
		peers += 1 + len(uv.Servers)
	}
	zone := roundUp(2*peers, 64, 64)
	for i := range sv.Upstreams {
		sv.Upstreams[i].ZoneKB = zone
	}

	seenServer := map[string]bool{}
	seenID := map[string]bool{}
	for i := range gw.StreamServers {
		s := &gw.StreamServers[i]
		if s.Port < 1 || s.Port > 65535 {
			return nil, fmt.Errorf("render: stream server port %d", s.Port)
		}
		key := fmt.Sprintf("TCP:%d", s.Port)
		view := streamServerView{Listen: itoa(s.Port), Timeout: streamTCPTimeout}
		switch s.Protocol {
		case model.StreamTCP:
		case model.StreamUDP:
			key = fmt.Sprintf("UDP:%d", s.Port)
			view.Listen += " udp"
			view.Timeout = streamUDPTimeout
		case model.StreamTLSPassthrough:
			view.Preread = true
		default:
			return nil, fmt.Errorf("render: stream server protocol %q", s.Protocol)
		}
		if seenServer[key] {
			return nil, fmt.Errorf("render: two stream servers on %s", key)
		}
		seenServer[key] = true
		view.Comment = comment(fmt.Sprintf("%s listeners %s", s.Protocol, strings.Join(s.Listeners, ",")))
		sv.Servers = append(sv.Servers, view)

		var sni *streamMap
		if s.Protocol == model.StreamTLSPassthrough {
			sni = &streamMap{
				Comment:   comment(fmt.Sprintf("TLS passthrough on port %d: the route of each server name (exact names before wildcards)", s.Port)),
				Source:    "$ssl_preread_server_name",
				Var:       fmt.Sprintf("ngo_sni_%d", s.Port),
				Hostnames: true,
				Default:   `""`,
			}
			sv.SNIMaps = append(sv.SNIMaps, sni)
			sv.RouteIDs.Entries = append(sv.RouteIDs.Entries, kv{quote(key), "$" + sni.Var})
		}
		for j := range s.Routes {
			rt := &s.Routes[j]
			if !safeIdent.MatchString(rt.ID) || seenID[rt.ID] {
				return nil, fmt.Errorf("render: stream route ID %q is not [A-Za-z0-9_]+ or is used twice", rt.ID)
			}
			seenID[rt.ID] = true
			switch {
			case sni != nil && rt.Hostname == "":
				sni.Default = rt.ID
			case sni != nil:
				if !serverHostname.MatchString(rt.Hostname) {
					return nil, fmt.Errorf("render: TLS server name %q", rt.Hostname)
				}
				sni.Entries = append(sni.Entries, kv{quote(rt.Hostname), rt.ID})
			case j > 0 || rt.Hostname != "":
				return nil, fmt.Errorf("render: %s server on port %d has more than one route", s.Protocol, s.Port)
			default:
				sv.RouteIDs.Entries = append(sv.RouteIDs.Entries, kv{quote(key), rt.ID})
			}
			if rt.Route.Name != "" {
				sv.Routes.Entries = append(sv.Routes.Entries, kv{rt.ID, quoteValue(rt.Route.Kind + " " + rt.Route.Namespace + "/" + rt.Route.Name)})
			}
			pass, err := r.streamPass(sv, rt, upstreams, live)
			if err != nil {
				return nil, err
			}
			if pass != closedUpstream {
				sv.Passes.Entries = append(sv.Passes.Entries, kv{rt.ID, pass})
			}
		}
	}
	return sv, nil
}

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
				target = b.Upstream
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
