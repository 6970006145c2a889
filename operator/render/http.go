package render

import (
	"fmt"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// internalPrefix starts the URIs of our internal locations. nginx merges
// slashes in request paths before matching locations, so no client request
// can ever have a path starting with "//": internal locations never shadow
// a user's path, and `internal` keeps them unreachable anyway.
const internalPrefix = "//ngo/"

type renderer struct {
	gw        *model.Gateway
	upstreams map[string]*model.Upstream
	certs     map[string]bool
	// httpsBehindStream are the ports whose HTTPS servers a TLS stream
	// server hands connections to.
	httpsBehindStream map[int32]bool
	// tlsPorts are the ports of HTTPS servers.
	tlsPorts map[int32]bool
	// clientCAs are the client CA bundle files by name (frontendtls.go).
	clientCAs map[string][]byte
	// sniListener is, by HTTPS port, the variable naming the listener
	// the connection's SNI chose (misdirected.go).
	sniListener map[int32]string
	comments    map[*model.Rule]string

	maps     []*nginxMap
	mapByKey map[string]string
	splits   []*splitClients
	splitFor map[string]bool // rule or mirror variables already split
	counter  int
	// httpUpstreamNames are the nginx names of the HTTP upstreams
	// (httpUpstreamRefs).
	httpUpstreamNames map[string]string

	// refused holds the routes whose values cannot be written
	// (limits.go), routeBytes what each route's values take.
	refused    map[routeID]string
	routeBytes map[routeID]int
	// owner is the rule being rendered: the maps and splits added for it
	// are its lines in Files.Sources.
	owner *model.RouteRef
}

func newRenderer(gw *model.Gateway) (*renderer, error) {
	r := &renderer{
		gw:          gw,
		upstreams:   map[string]*model.Upstream{},
		certs:       map[string]bool{},
		clientCAs:   map[string][]byte{},
		sniListener: map[int32]string{},
		comments:    map[*model.Rule]string{},
		mapByKey:    map[string]string{},
		splitFor:    map[string]bool{},
		refused:     map[routeID]string{},
		routeBytes:  map[routeID]int{},

		httpsBehindStream: httpsBehindStream(gw),
		httpUpstreamNames: httpUpstreamRefs(gw.Upstreams),
	}
	for i := range gw.Upstreams {
		u := &gw.Upstreams[i]
		if !isSafeIdent(u.Name) {
			return nil, fmt.Errorf("render: upstream name %q is not [A-Za-z0-9_]+", u.Name)
		}
		if _, dup := r.upstreams[u.Name]; dup {
			return nil, fmt.Errorf("render: duplicate upstream %q", u.Name)
		}
		if err := checkUpstreamTLS(u); err != nil {
			return nil, err
		}
		r.upstreams[u.Name] = u
	}
	for _, c := range gw.Certificates {
		if !isSafeFileName(c.Name) {
			return nil, fmt.Errorf("render: certificate name %q is not a safe file name", c.Name)
		}
		r.certs[c.Name] = true
	}
	if c := gw.BackendClientCertificate; c != nil && (!isSafeFileName(c.Name) || r.certs[c.Name]) {
		return nil, fmt.Errorf("render: backend client certificate name %q is not a safe, unique file name", c.Name)
	}
	return r, nil
}

// view is what the templates see, but for the servers' blocks: those are
// built one by one while servers.conf is written (server, serverLocations),
// which must come before the other files (finish).
func (r *renderer) view() (*view, error) {
	s := r.gw.Settings
	v := &view{
		Namespace: comment(r.gw.Namespace),
		Name:      comment(r.gw.Name),
		Main: mainView{
			WorkerConnections:        positiveOr(s.WorkerConnections, 1024),
			WorkerShutdownTimeoutSec: positiveOr(s.WorkerShutdownTimeoutSeconds, 30),
		},
		HTTP: httpView{AccessLog: orDefault(s.AccessLogFormat, "json")},
	}
	for _, h := range defaultRequestHeaders {
		v.HTTP.ProxyHeaders = append(v.HTTP.ProxyHeaders, kv{quote(h.Key), h.Value})
	}
	switch v.HTTP.AccessLog {
	case "json", "text", "off":
	default:
		return nil, fmt.Errorf("render: unknown access log format %q", s.AccessLogFormat)
	}

	r.tlsPorts = map[int32]bool{}
	for _, srv := range r.gw.HTTPServers {
		if srv.TLS != nil {
			r.tlsPorts[srv.Port] = true
		}
	}
	r.sniListenerMaps()
	for i := range r.gw.HTTPServers {
		v.Servers = append(v.Servers, &r.gw.HTTPServers[i])
	}
	v.NoEndpointsPort = dataplane.NoEndpointsPort
	v.StatusListen = "unix:" + dataplane.SocketPath + "/" + dataplane.NginxStatusSocket
	v.StatusURI = dataplane.NginxStatusURI
	return v, nil
}

// finish completes v once servers.conf is written: the maps and splits
// its locations added, the upstreams, the stream context (which comes
// after the servers, as its variables are numbered after theirs), and the
// hash sizes that must hold them.
func (r *renderer) finish(v *view) error {
	v.Upstreams = upstreamBlock("ngo_upstreams", 32, dataplane.EndpointsSRVService, r.gw.Upstreams, r.httpUpstream)
	v.Maps, v.Splits = r.maps, r.splits
	stream, err := r.stream()
	if err != nil {
		return err
	}
	v.Stream = stream

	// Hash sizes that always fit: nginx refuses to start when a hash cannot
	// be built, and a bucket must hold the longest name.
	longestName := 0
	for _, srv := range r.gw.HTTPServers {
		longestName = max(longestName, len(srv.Hostname))
	}
	v.HTTP.ServerNamesHashBucket = roundUp(4*(longestName+16), 64, 128)
	v.HTTP.ServerNamesHashMaxSize = roundUp(8*len(r.gw.HTTPServers), 1024, 1024)
	v.HTTP.VariablesHashMaxSize = roundUp(4*(len(r.maps)+len(r.splits)+64), 1024, 1024)
	v.HTTP.MapHashMaxSize = 2048
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func positiveOr(n, def int32) int32 {
	if n <= 0 {
		return def
	}
	return n
}

// roundUp returns n rounded up to a multiple of step, at least minimum.
func roundUp(n, step, minimum int) int {
	n = (n + step - 1) / step * step
	return max(n, minimum)
}

// serverCtx is the server block whose locations are being built: the
// internal locations of the model location being built, and the paths of
// all its internal locations so far.
type serverCtx struct {
	srv       *model.HTTPServer
	tls       bool
	internals []*locationView
	seen      map[string]bool
}

func (sc *serverCtx) addInternal(lv *locationView) bool {
	if sc.seen[lv.Path] {
		return false
	}
	sc.seen[lv.Path] = true
	lv.Match, lv.Internal = "= ", true
	sc.internals = append(sc.internals, lv)
	return true
}

// server is the view of srv's server block, without its locations: they
// are built and written one at a time (serverLocations).
func (r *renderer) server(srv *model.HTTPServer) (*serverView, error) {
	tlsPort := r.tlsPorts[srv.Port]
	listen := itoa(srv.Port)
	behindStream := tlsPort && r.httpsBehindStream[srv.Port]
	if behindStream {
		// The port is the stream server's, which hands HTTPS connections
		// on with the PROXY protocol (stream.go).
		listen = tlsSocket(srv.Port, "https") + " proxy_protocol"
	}
	if tlsPort {
		listen += " ssl"
	}
	if srv.Default {
		listen += " default_server"
	}
	sv := &serverView{
		Comment: comment(serverComment(srv)),
		Listen:  listen,
		RealIP:  behindStream,
		srv:     srv,
	}
	switch {
	case srv.Hostname == "" && !srv.Default:
		// `server_name ""` would clash with the default server ("conflicting
		// server name"): routes for every hostname belong on the default one.
		return nil, fmt.Errorf("render: server on port %d has no hostname but is not the default server", srv.Port)
	case srv.Hostname != "":
		if !serverHostname.MatchString(srv.Hostname) {
			return nil, fmt.Errorf("render: server hostname %q is not a DNS name", srv.Hostname)
		}
		sv.ServerName = quote(srv.Hostname)
	}
	if tlsPort {
		if srv.TLS == nil || len(srv.TLS.CertificateNames) == 0 {
			sv.RejectHandshake = true
		} else {
			for _, name := range srv.TLS.CertificateNames {
				if !r.certs[name] {
					return nil, fmt.Errorf("render: server %s:%d uses unknown certificate %q", srv.Hostname, srv.Port, name)
				}
				sv.Certs = append(sv.Certs, kv{Key: quote(name + ".crt"), Value: quote(name + ".key")})
			}
			if err := r.clientValidation(srv, sv); err != nil {
				return nil, err
			}
			if check := r.misdirectedCheck(srv); check != "" {
				sv.Script = append(sv.Script, check)
			}
		}
	}
	return sv, nil
}

// blockID tells nginx locations apart: an exact match and a prefix of the
// same quoted path are two.
type blockID struct {
	exact bool
	path  string
}

// mayRepeat says which of a server's locations may give an nginx location
// that another of them gives too, which must then be written once: those
// whose paths are the same without their slashes (each of a location's
// blocks has its path so, see location), and a few more whose paths share
// a hash. Only their blocks are checked against each other, so that a
// server of thousands of locations needs no set of all their blocks (its
// largest transient allocation while servers.conf is written).
func mayRepeat(locs []model.Location) []bool {
	bits := uint64(64)
	for bits < uint64(16*len(locs)) {
		bits *= 2
	}
	once, twice := make([]uint64, bits/64), make([]uint64, bits/64)
	bit := func(loc *model.Location) (int, uint64) {
		h := pathHash(strings.Trim(loc.Path, "/")) & (bits - 1)
		return int(h / 64), 1 << (h % 64)
	}
	for i := range locs {
		w, m := bit(&locs[i])
		if once[w]&m != 0 {
			twice[w] |= m
		}
		once[w] |= m
	}
	out := make([]bool, len(locs))
	for i := range locs {
		w, m := bit(&locs[i])
		out[i] = twice[w]&m != 0
	}
	return out
}

// pathHash is FNV-1a of s.
func pathHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * 1099511628211
	}
	return h
}

// serverLocations builds the location blocks of sv's server in the order
// they are written, and hands each to emit as soon as it is complete:
// sv's own blocks, those of each model location in turn, the 404 for "/"
// when no route has it, then the internal locations the others jump to
// (internal true: emitted once the model location that added them is
// complete, written after all others). No block is kept once emitted, so
// the views of a server's thousands of locations never exist at once.
func (r *renderer) serverLocations(sv *serverView, emit func(lv *locationView, internal bool) error) error {
	srv := sv.srv
	for _, lv := range sv.Locations {
		if err := emit(lv, false); err != nil {
			return err
		}
	}
	sc := &serverCtx{srv: srv, tls: r.tlsPorts[srv.Port], seen: map[string]bool{}}
	exact := map[string]bool{}
	for _, loc := range srv.Locations {
		if loc.Match == model.PathExact {
			exact[loc.Path] = true
		}
	}
	hasRoot := false
	repeated := mayRepeat(srv.Locations)
	seenBlock := map[blockID]bool{}
	for i := range srv.Locations {
		loc := &srv.Locations[i]
		blocks, err := r.location(sc, loc, exact)
		if err != nil {
			return err
		}
		for _, b := range blocks {
			if repeated[i] {
				id := blockID{exact: b.Match != "", path: b.Path}
				if seenBlock[id] {
					continue // the translation step gave the same nginx location twice
				}
				seenBlock[id] = true
			}
			if b.Match == "" && b.Path == `"/"` {
				hasRoot = true
			}
			if err := emit(b, false); err != nil {
				return err
			}
		}
		for _, in := range sc.internals {
			if err := emit(in, true); err != nil {
				return err
			}
		}
		clear(sc.internals)
		sc.internals = sc.internals[:0]
	}
	if !hasRoot {
		// Without it nginx would serve files from its html folder.
		if err := emit(&locationView{Comment: "no route matches", Path: `"/"`, Script: []string{"return 404;"}}, false); err != nil {
			return err
		}
	}
	return nil
}

func serverComment(srv *model.HTTPServer) string {
	c := fmt.Sprintf("port %d host %q", srv.Port, srv.Hostname)
	if srv.Default {
		c += " (default)"
	}
	if len(srv.Listeners) > 0 {
		c += " listeners " + strings.Join(srv.Listeners, ",")
	}
	return c
}

// location renders the nginx location blocks of one model.Location.
func (r *renderer) location(sc *serverCtx, loc *model.Location, exact map[string]bool) ([]*locationView, error) {
	path := loc.Path // decoded by the translation step, as nginx compares it
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	var blocks []*locationView
	switch loc.Match {
	case model.PathExact:
		blocks = append(blocks, &locationView{Match: "= ", Path: quote(path)})
	case model.PathPrefix:
		trimmed := strings.TrimRight(path, "/")
		if trimmed == "" {
			blocks = append(blocks, &locationView{Path: quote("/")})
			break
		}
		if !exact[trimmed] {
			blocks = append(blocks, &locationView{Match: "= ", Path: quote(trimmed)})
		}
		blocks = append(blocks, &locationView{Path: quote(trimmed + "/")})
	default:
		return nil, fmt.Errorf("render: location %q has unknown match %q", loc.Path, loc.Match)
	}
	for _, b := range blocks {
		if len(b.Path) > MaxToken {
			// Refuse the routes whose matches made this location; the
			// candidates inherited from shorter paths are not at fault.
			owners := 0
			for _, c := range loc.Candidates {
				if c.Rule != nil && c.PathField != "" {
					r.value(c.Rule, c.PathField, b.Path)
					owners++
				}
			}
			if owners == 0 {
				return nil, fmt.Errorf("render: location path of %d bytes has no route to refuse", len(b.Path))
			}
			return nil, nil
		}
	}
	for _, b := range blocks {
		b.Comment = comment(string(loc.Match) + " " + loc.Path)
		if err := r.dispatch(sc, b, loc.Candidates); err != nil {
			return nil, err
		}
	}
	return blocks, nil
}

// dispatch fills a user-facing location. Candidates with conditions
// come first: a map turns their variables into the internal URI of the
// first one that holds, and a single `if` jumps there (each `if` costs
// nginx as much memory as a location, so there is one per location, not
// one per candidate). The first candidate without conditions is served
// inline; without one, nothing matching answers 404.
func (r *renderer) dispatch(sc *serverCtx, lv *locationView, cands []model.Candidate) error {
	var vars, targets []string
	var fallback *model.Rule
	for _, c := range cands {
		if c.Rule == nil {
			return fmt.Errorf("render: candidate without rule")
		}
		if !isSafeIdent(c.Rule.ID) {
			return fmt.Errorf("render: rule id %q is not [A-Za-z0-9_]+", c.Rule.ID)
		}
		if len(c.Conditions) == 0 {
			fallback = c.Rule // later candidates are unreachable
			break
		}
		if !r.conditionsFit(c.Rule, c.Conditions) {
			continue // the route is refused
		}
		r.owner = &c.Rule.Route
		v, ok := r.candidateVar(c.Conditions)
		r.owner = nil
		if !ok {
			continue // a condition nginx can never see, e.g. a header it drops
		}
		entry := internalPrefix + c.Rule.ID
		vars, targets = append(vars, v), append(targets, entry)
		in := &locationView{Comment: r.ruleComment(c.Rule), Path: quote(entry)}
		if sc.addInternal(in) {
			if err := r.ruleEntry(sc, in, c.Rule, false); err != nil {
				return err
			}
		}
	}
	switch len(vars) {
	case 0:
	case 1:
		lv.Script = append(lv.Script, fmt.Sprintf("if ($%s) { rewrite ^ %s last; }", vars[0], quote(targets[0])))
	default:
		v := r.dispatchVar(vars, targets)
		lv.Script = append(lv.Script, fmt.Sprintf("if ($%s) { rewrite ^ \"${%s}\" last; }", v, v))
	}
	if fallback != nil {
		return r.ruleEntry(sc, lv, fallback, true)
	}
	lv.Script = append(lv.Script, "return 404;")
	return nil
}

// dispatchVar returns a variable holding the target of the first
// candidate variable that is "1", or "" when none is.
func (r *renderer) dispatchVar(vars, targets []string) string {
	var src strings.Builder
	for _, v := range vars {
		src.WriteString("${" + v + "}")
	}
	m := &nginxMap{Comment: "first matching candidate", Source: quote(src.String()), Var: "dispatch", Default: `""`}
	for i, t := range targets {
		m.Entries = append(m.Entries, kv{quote("~^" + strings.Repeat("0", i) + "1"), quote(t)})
	}
	return r.addMap("dispatch\x00"+src.String()+"\x00"+strings.Join(targets, "\x00"), m)
}

// ruleComment names a rule for comments (cached: every location of the
// rule repeats it).
func (r *renderer) ruleComment(rule *model.Rule) string {
	if c, ok := r.comments[rule]; ok {
		return c
	}
	name := fmt.Sprintf("%s %s/%s rule %d", rule.Route.Kind, rule.Route.Namespace, rule.Route.Name, rule.Route.RuleIndex)
	if rule.Route.RuleName != "" {
		name += " (" + rule.Route.RuleName + ")"
	}
	r.comments[rule] = comment(name)
	return r.comments[rule]
}
