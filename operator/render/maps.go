package render

import (
	"fmt"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Variables and maps. nginx evaluates maps lazily, only when a directive
// reads their variable, so a map costs nothing for requests that never
// reach the location using it.

// Fixed variables defined in http.conf.
const (
	varURI        = "ngo_uri"        // the request's $uri before any rewrite of ours (set per server)
	varHost       = "ngo_host"       // Host to pass upstream: $http_host, or $host when absent
	varConnection = "ngo_connection" // Connection to pass upstream for WebSocket backends
	varRoute      = "ngo_route"      // access log: namespace/name of the route
	varRule       = "ngo_rule"       // access log: the rule's name or index
	varBackend    = "ngo_backend"    // access log: upstream name or "invalid"
	varPath       = "ngo_path"       // the path of a ReplaceFullPath rewrite
	// "", once it has read the access log fields (accesslog.go)
	varLogKept = "ngo_log_kept"
)

// ownErrorPages send a location's 502 and 504 to the server's @ngo_502 and
// @ngo_504 after reading the access log fields in the location
// (accesslog.go), without sending the request again (http.conf's
// $ngo_retry_502 does that).
var ownErrorPages = []kv{{"error_page", "502 @ngo_502$" + varLogKept}, {"error_page", "504 @ngo_504$" + varLogKept}}

// addMap registers a map under a content key and returns its variable.
// Equal maps (same key) are emitted once.
// A map whose Var is a kind ("cond") gets a numbered variable.
func (r *renderer) addMap(key string, m *nginxMap) string {
	if v, ok := r.mapByKey[key]; ok {
		return v
	}
	if !strings.HasPrefix(m.Var, "ngo_") {
		m.Var = r.newVar(m.Var)
	}
	r.mapByKey[key] = m.Var
	if m.Src == nil {
		m.Src = r.owner
	}
	r.maps = append(r.maps, m)
	return m.Var
}

func (r *renderer) newVar(kind string) string {
	r.counter++
	return fmt.Sprintf("ngo_%s_%d", kind, r.counter)
}

// conditionVar returns a variable that is "1" when c holds and "0"
// otherwise, and false when c can never hold in nginx.
func (r *renderer) conditionVar(c model.Condition) (string, bool) {
	var source string
	switch c.Kind {
	case model.ConditionHeader:
		hv, ok := headerVar(c.Name)
		if !ok {
			return "", false
		}
		source = "${" + hv + "}"
	case model.ConditionQueryParam:
		source = "${" + r.queryParamVar(c.Name) + "}"
	case model.ConditionMethod:
		source = "${request_method}"
	case model.ConditionPathRegex:
		source = "${uri}"
	default:
		return "", false
	}
	pattern, _ := conditionPattern(c) // checked by conditionsFit
	key := fmt.Sprintf("cond\x00%s\x00%s", source, pattern)
	if v, ok := r.mapByKey[key]; ok {
		return v, true
	}
	m := &nginxMap{
		Comment: comment(fmt.Sprintf("%s %s %s", c.Kind, c.Name, truncate(c.Value, 60))),
		Source:  quote(source),
		Var:     "cond",
		// An absent (or empty) header or parameter never matches, even a
		// regex that accepts the empty string: exact keys win over regexes.
		Entries: []kv{{Key: `""`, Value: `"0"`}, {Key: quote("~" + pattern), Value: `"1"`}},
		Default: `"0"`,
	}
	if c.Kind == model.ConditionMethod || c.Kind == model.ConditionPathRegex {
		m.Entries = m.Entries[1:]
	}
	return r.addMap(key, m), true
}

// conditionPattern is the regex a condition's map matches its source with
// (\z, not $: PCRE's $ also matches before a final newline). A user
// regex nginx cannot run gives an error; conditionsFit refuses the route.
func conditionPattern(c model.Condition) (string, error) {
	if c.Regex {
		return userRegex(c.Value)
	}
	return "^" + regexLiteral(c.Value) + `\z`, nil
}

// conditionsFit checks the tokens conditionVar writes from the values of
// rule's conditions (limits.go); false when the route is refused.
func (r *renderer) conditionsFit(rule *model.Rule, conds []model.Condition) bool {
	ok := true
	for _, c := range conds {
		pattern, err := conditionPattern(c)
		if err != nil {
			r.refuse(routeOf(rule), c.Field+": "+err.Error())
			ok = false
			continue
		}
		if len(r.value(rule, c.Field, quote("~"+pattern))) > MaxToken {
			ok = false
		}
		if c.Kind == model.ConditionQueryParam {
			name := strings.TrimSuffix(c.Field, ".value") + ".name"
			if len(r.value(rule, name, quote("~(?:^|&)"+regexLiteral(c.Name)+"=([^&]*)"))) > MaxToken {
				ok = false
			}
		}
	}
	return ok
}

// queryParamVar returns a variable holding the raw value of the first
// query parameter called name. nginx's $arg_NAME compares names without
// case; Gateway API names are case-sensitive, hence a regex on $args.
func (r *renderer) queryParamVar(name string) string {
	key := "arg\x00" + name
	if v, ok := r.mapByKey[key]; ok {
		return v
	}
	return r.addMap(key, &nginxMap{
		Comment: comment("query parameter " + name),
		Source:  quote("${args}"),
		Var:     "arg",
		Entries: []kv{{Key: quote("~(?:^|&)" + regexLiteral(name) + "=([^&]*)"), Value: `"$1"`}},
		Default: `""`,
	})
}

// candidateVar returns a variable that is "1" when every condition holds,
// and false when the candidate can never match.
func (r *renderer) candidateVar(conds []model.Condition) (string, bool) {
	vars := make([]string, 0, len(conds))
	for _, c := range conds {
		v, ok := r.conditionVar(c)
		if !ok {
			return "", false
		}
		vars = append(vars, v)
	}
	if len(vars) == 1 {
		return vars[0], true
	}
	var src strings.Builder
	for _, v := range vars {
		src.WriteString("${" + v + "}")
	}
	key := "cand\x00" + src.String()
	return r.addMap(key, &nginxMap{
		Comment: "all of " + strings.Join(vars, " "),
		Source:  quote(src.String()),
		Var:     "cand",
		Entries: []kv{{Key: quote(strings.Repeat("1", len(vars))), Value: `"1"`}},
		Default: `"0"`,
	}), true
}

// addHeaderVar returns a variable with the request header name's value
// followed by ",value", or value alone when the header is absent (Gateway
// API "add" semantics).
func (r *renderer) addHeaderVar(rule *model.Rule, h model.Header) string {
	hv, ok := headerVar(h.Name)
	if !ok {
		return ""
	}
	key := "add\x00" + hv + "\x00" + h.Value
	var withValue valueBuilder
	withValue.variable(hv).lit("," + h.Value)
	return r.addMap(key, &nginxMap{
		Comment: comment("add request header " + h.Name),
		Source:  quote("${" + hv + "}"),
		Var:     "add",
		Entries: []kv{{Key: `""`, Value: r.value(rule, h.Field+".value", quoteValue(h.Value))}},
		Default: r.value(rule, h.Field+".value", withValue.String()),
	})
}

// split registers a split_clients block on $request_id that yields each
// value for its share (basis points out of 10000, summing to 10000).
func (r *renderer) split(varName, cmt string, shares []int, values []string) {
	s := &splitClients{Comment: comment(cmt), Var: varName, Src: r.owner}
	for i, bp := range shares {
		if bp == 0 {
			continue
		}
		key := fmt.Sprintf("%d.%02d%%", bp/100, bp%100)
		if i == len(shares)-1 {
			key = "*"
		}
		s.Entries = append(s.Entries, kv{Key: key, Value: quote(values[i])})
	}
	r.splits = append(r.splits, s)
}

// basisPoints divides 10000 among weights, proportionally, summing to
// exactly 10000 (cumulative rounding keeps the error below one point).
func basisPoints(weights []int64) []int {
	var total int64
	for _, w := range weights {
		total += w
	}
	out := make([]int, len(weights))
	var cum int64
	prev := 0
	for i, w := range weights {
		cum += w
		at := int(cum * 10000 / total)
		out[i] = at - prev
		prev = at
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
