package translate

import (
	"sort"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// entry is one route match that can serve requests of one server: the
// unit that Gateway API precedence orders.
type entry struct {
	// host is the route hostname it came through ("" = all hostnames),
	// which ranks it against routes with more specific hostnames.
	host  string
	route *routeState
	rule  *ruleState
	match *matchState
	// target is the model rule the match selects.
	target *model.Rule
}

// hostRank orders hostnames by the spec's rule: more characters of
// non-wildcard hostname first, then more characters of hostname.
func hostRank(h string) (nonWildcard, chars int) {
	if strings.HasPrefix(h, "*.") {
		return 0, len(h)
	}
	return len(h), len(h)
}

// hostLess ranks two route hostnames by hostRank; decided is false when
// they rank the same.
func hostLess(a, b string) (less, decided bool) {
	an, ac := hostRank(a)
	bn, bc := hostRank(b)
	if an != bn {
		return an > bn, true
	}
	if ac != bc {
		return ac > bc, true
	}
	return false, false
}

// entryLess is Gateway API precedence between two matches that both could
// serve a request: hostname specificity; then exact path, regular
// expression, then the longest prefix; a method; the most header matches;
// the most query parameter matches; the oldest route; the route's
// namespace/name; the rule's order; the match's order.
func entryLess(a, b *entry) bool {
	if a.route.key.Kind == kindGRPCRoute && b.route.key.Kind == kindGRPCRoute {
		return grpcEntryLess(a, b)
	}
	if less, decided := hostLess(a.host, b.host); decided {
		return less
	}
	ma, mb := a.match, b.match
	if ma.kind != mb.kind {
		return ma.kind < mb.kind
	}
	if ma.kind == pathPrefix && len(ma.path) != len(mb.path) {
		return len(ma.path) > len(mb.path)
	}
	if ma.hasMethod != mb.hasMethod {
		return ma.hasMethod
	}
	if ma.numHeaders != mb.numHeaders {
		return ma.numHeaders > mb.numHeaders
	}
	if ma.numQuery != mb.numQuery {
		return ma.numQuery > mb.numQuery
	}
	return routeOrderLess(a, b)
}

// routeOrderLess breaks the ties of both kinds' precedence: the oldest
// route, the route's namespace/name, the rule's order, the match's order.
func routeOrderLess(a, b *entry) bool {
	ma, mb := a.match, b.match
	if a.route != b.route {
		ta, tb := a.route.created, b.route.created
		if !ta.Equal(&tb) {
			return ta.Before(&tb)
		}
		if a.route.key.Namespace != b.route.key.Namespace {
			return a.route.key.Namespace < b.route.key.Namespace
		}
		if a.route.key.Name != b.route.key.Name {
			return a.route.key.Name < b.route.key.Name
		}
	}
	if a.rule.index != b.rule.index {
		return a.rule.index < b.rule.index
	}
	if ma.index != mb.index {
		return ma.index < mb.index
	}
	// Same match through two hostnames: keep a total order anyway.
	return a.host < b.host
}

// buildLocations turns the entries of one server into its locations.
//
// Exact and prefix paths get their own location; a request path falls into
// exactly one of them (nginx picks exact, then the longest element-wise
// prefix). Each location lists, in precedence order, every entry that can
// match a path falling into it: exact matches of that path, every regular
// expression match of the server (as a PathRegex condition), and every
// prefix match covering the path. When there is a regular expression match,
// a "/" location exists so that every path can reach it. An exact match
// whose path is also a prefix location is expressed inside that location
// by an anchored PathRegex condition, since nginx cannot hold both.
func buildLocations(entries []*entry) []model.Location {
	exact := map[string][]*entry{}
	prefix := map[string][]*entry{}
	var regex []*entry
	for _, e := range entries {
		switch e.match.kind {
		case pathExact:
			exact[e.match.path] = append(exact[e.match.path], e)
		case pathPrefix:
			prefix[e.match.path] = append(prefix[e.match.path], e)
		case pathRegex:
			regex = append(regex, e)
		}
	}
	if len(regex) > 0 {
		if _, ok := prefix["/"]; !ok {
			prefix["/"] = nil
		}
	}
	locations := make([]model.Location, 0, len(exact)+len(prefix))
	collect := func(path string) []*entry {
		var c []*entry
		c = append(c, exact[path]...)
		c = append(c, regex...)
		for _, anc := range prefixAncestors(path) {
			c = append(c, prefix[anc]...)
		}
		sort.SliceStable(c, func(i, j int) bool { return entryLess(c[i], c[j]) })
		return c
	}
	for path := range exact {
		if _, shared := prefix[path]; shared {
			continue
		}
		locations = append(locations, model.Location{Path: path, Match: model.PathExact, Candidates: candidates(collect(path), path, false)})
	}
	for path := range prefix {
		locations = append(locations, model.Location{Path: path, Match: model.PathPrefix, Candidates: candidates(collect(path), path, true)})
	}
	sort.Slice(locations, func(i, j int) bool {
		if locations[i].Path != locations[j].Path {
			return locations[i].Path < locations[j].Path
		}
		return locations[i].Match < locations[j].Match
	})
	return locations
}

// candidates converts ordered entries. In a prefix location, exact
// matches get an anchored path condition (see buildLocations).
func candidates(es []*entry, path string, inPrefixLocation bool) []model.Candidate {
	out := make([]model.Candidate, 0, len(es))
	seen := map[*entry]bool{}
	for _, e := range es {
		if seen[e] {
			continue
		}
		seen[e] = true
		var conds []model.Condition
		switch {
		case e.match.kind == pathRegex:
			conds = make([]model.Condition, 0, 1+len(e.match.conditions))
			conds = append(conds, model.Condition{Kind: model.ConditionPathRegex, Value: e.match.path, Regex: true, Field: e.match.pathField})
			conds = append(conds, e.match.conditions...)
		case e.match.kind == pathExact && inPrefixLocation:
			conds = make([]model.Condition, 0, 1+len(e.match.conditions))
			conds = append(conds, exactPathCondition(e.match.path, e.match.pathField))
			conds = append(conds, e.match.conditions...)
		case len(e.match.conditions) > 0:
			conds = append([]model.Condition(nil), e.match.conditions...)
		}
		c := model.Candidate{Conditions: conds, Rule: e.target}
		if e.match.kind != pathRegex && e.match.path == path {
			c.PathField = e.match.pathField
		}
		out = append(out, c)
	}
	return out
}

// prefixAncestors lists the element-wise prefixes that cover path, most
// specific first: "/a/b/" → "/a/b", "/a", "/".
func prefixAncestors(path string) []string {
	q := strings.TrimRight(path, "/")
	if q == "" {
		return []string{"/"}
	}
	out := []string{q}
	for {
		i := strings.LastIndexByte(q, '/')
		if i <= 0 {
			break
		}
		q = q[:i]
		out = append(out, q)
	}
	return append(out, "/")
}
