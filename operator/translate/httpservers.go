package translate

import (
	"cmp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// serverKey is one nginx server: a port and a hostname ("" = the port's
// default server).
type serverKey struct {
	port     int32
	hostname string
}

// ruleKey is one model rule: a route rule, split per matched prefix when
// a ReplacePrefixMatch needs it.
type ruleKey struct {
	route  types.NamespacedName
	index  int
	prefix string
}

// servedRules returns the rules of a route served by HTTP servers: an
// HTTPRoute's or a GRPCRoute's.
func servedRules(rs *routeState) ([]ruleState, bool) {
	switch spec := rs.spec.(type) {
	case *httpRoute:
		return spec.rules, true
	case *grpcRoute:
		return spec.rules, true
	}
	return nil, false
}

// contribute adds the HTTP servers of a Gateway's model: one per port and
// hostname of its programmed HTTP and HTTPS listeners and of the HTTPRoutes
// and GRPCRoutes attached to them, with their locations, rules and
// upstreams.
func (httpRoutes) contribute(b *translator, gs *gatewayState, m *model.Gateway, certNames certificateNames) {
	// Servers: every programmed listener's hostname, every hostname routes
	// serve, and a default server per port.
	servers := map[serverKey]bool{}
	byPort := map[int32][]*listenerState{}
	for _, l := range gs.listeners {
		if !l.programmed() || !slices.Contains(httpRoutes{}.protocols(), l.protocol) {
			continue
		}
		byPort[l.port] = append(byPort[l.port], l)
		servers[serverKey{l.port, ""}] = true
		servers[serverKey{l.port, l.hostname}] = true
	}
	// Entries indexed by (listener, route hostname): a server takes only
	// the routes of the listener its requests belong to.
	type hostKey struct {
		listener *listenerState
		host     string
	}
	// Sized for a rule per attachment, the common case, so that they do
	// not grow step by step with thousands of routes.
	entriesByHost := map[hostKey][]*entry{}
	rules := make(map[ruleKey]*model.Rule, len(gs.attachments))
	ruleOf := make(map[*model.Rule]*ruleState, len(gs.attachments))
	routeOf := make(map[*model.Rule]*routeState, len(gs.attachments))
	for _, a := range gs.attachments {
		if !a.listener.programmed() {
			continue
		}
		routeRules, ok := servedRules(a.route)
		if !ok {
			continue
		}
		for _, h := range a.hostnames {
			servers[serverKey{a.listener.port, h}] = true
			hk := hostKey{a.listener, h}
			for ri := range routeRules {
				rule := &routeRules[ri]
				for mi := range rule.matches {
					match := &rule.matches[mi]
					rk := ruleKey{route: a.route.key.NamespacedName, index: rule.index}
					if rule.filters.needsPrefix() {
						rk.prefix = match.path
					}
					target, ok := rules[rk]
					if !ok {
						target = &model.Rule{}
						rules[rk] = target
						ruleOf[target] = rule
						routeOf[target] = a.route
					}
					entriesByHost[hk] = append(entriesByHost[hk], &entry{host: h, route: a.route, rule: rule, match: match, target: target})
				}
			}
		}
	}

	// Rules get their IDs in (route, rule, prefix) order; upstreams are
	// named in key order, so neither depends on input order.
	ruleKeys := make([]ruleKey, 0, len(rules))
	for k := range rules {
		ruleKeys = append(ruleKeys, k)
	}
	slices.SortFunc(ruleKeys, func(a, c ruleKey) int {
		return cmp.Or(strings.Compare(a.route.Namespace, c.route.Namespace), strings.Compare(a.route.Name, c.route.Name),
			cmp.Compare(a.index, c.index), strings.Compare(a.prefix, c.prefix))
	})
	upstreamNames := b.nameUpstreams(ruleKeys, rules, ruleOf)
	m.Upstreams = slices.Grow(m.Upstreams, len(upstreamNames))
	for k, name := range upstreamNames {
		m.Upstreams = append(m.Upstreams, model.Upstream{
			Name: name, ServiceNamespace: k.Namespace, ServiceName: k.Name, ServicePort: k.Port,
			Protocol: b.upstreams[k].protocol, TLS: b.upstreams[k].tls,
		})
	}
	slices.SortFunc(m.Upstreams, func(a, b model.Upstream) int { return strings.Compare(a.Name, b.Name) })
	for i, k := range ruleKeys {
		target := rules[k]
		fillRule(target, "r"+strconv.Itoa(i), routeOf[target], ruleOf[target], k.prefix, upstreamNames)
	}

	keys := make([]serverKey, 0, len(servers))
	for k := range servers {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].port != keys[j].port {
			return keys[i].port < keys[j].port
		}
		return keys[i].hostname < keys[j].hostname
	})
	for _, k := range keys {
		srv := model.HTTPServer{Port: k.port, Hostname: k.hostname, Default: k.hostname == ""}
		// Listener isolation: the requests of this server belong to the most
		// specific listener whose hostname covers the server's (the spec
		// matches a request to the most specific listener), so only that
		// listener's routes serve here, through every route hostname that
		// covers the server's. The default server belongs to the listener
		// without hostname, when there is one.
		owner := owningListener(byPort[k.port], k.hostname)
		var es []*entry
		if owner != nil {
			for _, h := range coveringHostnames(k.hostname) {
				es = append(es, entriesByHost[hostKey{owner, h}]...)
			}
			srv.Listeners = []string{owner.id()}
		}
		srv.Locations = buildLocations(dedupEntries(es))
		var tlsFrom *listenerState
		for _, l := range byPort[k.port] {
			if listenerServes(l.hostname, k.hostname) && len(l.certs) > 0 && (tlsFrom == nil || moreSpecific(l.hostname, tlsFrom.hostname)) {
				tlsFrom = l
			}
		}
		if tlsFrom != nil {
			srv.TLS = &model.ServerTLS{ClientValidation: clientValidationModel(tlsFrom)}
			for _, s := range tlsFrom.certs {
				name := certNames[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}]
				if !slices.Contains(srv.TLS.CertificateNames, name) {
					srv.TLS.CertificateNames = append(srv.TLS.CertificateNames, name)
				}
			}
		}
		m.HTTPServers = append(m.HTTPServers, srv)
	}
}

// coveringHostnames lists the route hostnames whose requests include those
// of server hostname h: h itself, the wildcards above it, and "" (all). The
// default server ("") only takes routes without hostname.
func coveringHostnames(h string) []string {
	if h == "" {
		return []string{""}
	}
	out := []string{h}
	rest := strings.TrimPrefix(h, "*.")
	for {
		i := strings.IndexByte(rest, '.')
		if i < 0 {
			break
		}
		rest = rest[i+1:]
		out = append(out, "*."+rest)
	}
	return append(out, "")
}

// listenerServes reports whether a listener with hostname lh takes requests
// for server hostname sh. The default server belongs to listeners without
// hostname.
func listenerServes(lh, sh string) bool {
	if sh == "" {
		return lh == ""
	}
	return hostnameCovers(lh, sh)
}

// owningListener returns the most specific listener of a port that takes
// requests for server hostname sh, or nil.
func owningListener(ls []*listenerState, sh string) *listenerState {
	var owner *listenerState
	for _, l := range ls {
		if listenerServes(l.hostname, sh) && (owner == nil || moreSpecific(l.hostname, owner.hostname)) {
			owner = l
		}
	}
	return owner
}

// moreSpecific reports whether listener hostname a is more specific than b.
func moreSpecific(a, b string) bool {
	an, ac := hostRank(a)
	bn, bc := hostRank(b)
	if an != bn {
		return an > bn
	}
	return ac > bc
}

// dedupEntries keeps one entry per (match, rule): a route reaching a
// server through several hostnames ranks by its most specific one.
func dedupEntries(es []*entry) []*entry {
	type k struct {
		match  *matchState
		target *model.Rule
	}
	best := map[k]*entry{}
	order := make([]k, 0, len(es))
	for _, e := range es {
		key := k{e.match, e.target}
		cur, ok := best[key]
		if !ok {
			order = append(order, key)
			best[key] = e
			continue
		}
		if moreSpecific(e.host, cur.host) {
			best[key] = e
		}
	}
	out := make([]*entry, 0, len(order))
	for _, key := range order {
		out = append(out, best[key])
	}
	return out
}

// nameUpstreams names every upstream the rules use, in key order.
func (b *translator) nameUpstreams(keys []ruleKey, rules map[ruleKey]*model.Rule, ruleOf map[*model.Rule]*ruleState) map[upstreamKey]string {
	used := map[upstreamKey]bool{}
	for _, k := range keys {
		rule := ruleOf[rules[k]]
		if rule.filters.redirect == nil {
			for _, be := range rule.backends {
				if !be.invalid {
					used[be.key] = true
				}
			}
		}
		for _, mi := range rule.mirrors {
			used[mi.key] = true
		}
	}
	sorted := make([]upstreamKey, 0, len(used))
	for k := range used {
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].less(sorted[j]) })
	var namer uniqueNames
	names := make(map[upstreamKey]string, len(sorted))
	for _, k := range sorted {
		names[k] = namer.take(k.baseName())
	}
	return names
}

// fillRule writes a model rule: filters, then one action.
func fillRule(r *model.Rule, id string, route *routeState, rule *ruleState, prefix string, upstreams map[upstreamKey]string) {
	r.ID = id
	r.Route = model.RouteRef{Kind: string(route.key.Kind), Namespace: route.key.Namespace, Name: route.key.Name, RuleIndex: rule.index, RuleName: rule.name}
	f := &rule.filters
	r.RequestHeaders = f.requestHeaders
	r.ResponseHeaders = f.responseHeaders
	r.CORS = f.cors
	r.Timeouts = rule.timeouts
	r.Retry = rule.retry
	r.GRPC = route.key.Kind == kindGRPCRoute
	if f.rewrite != nil {
		rw := *f.rewrite
		rw.Path = withPrefix(rw.Path, prefix)
		r.Rewrite = &rw
	}
	for _, mi := range rule.mirrors {
		r.Mirrors = append(r.Mirrors, model.Mirror{Upstream: upstreams[mi.key], Numerator: mi.numerator, Denominator: mi.denominator})
	}
	switch {
	case f.redirect != nil:
		rd := *f.redirect
		rd.Path = withPrefix(rd.Path, prefix)
		r.Redirect = &rd
	case len(rule.backends) == 0:
		// No backendRefs, or all of weight 0: the spec asks for 500.
		r.Return = &model.Return{StatusCode: 500}
	default:
		for _, be := range rule.backends {
			mb := model.Backend{Weight: be.weight, Invalid: be.invalid, RequestHeaders: be.requestHeaders, ResponseHeaders: be.responseHeaders}
			if !be.invalid {
				mb.Upstream = upstreams[be.key]
			}
			r.Backends = append(r.Backends, mb)
		}
	}
}

func withPrefix(p *model.PathRewrite, prefix string) *model.PathRewrite {
	if p == nil {
		return nil
	}
	c := *p
	if c.Kind == model.RewritePrefix {
		c.MatchedPrefix = prefix
	}
	return &c
}
