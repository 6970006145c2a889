package render

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// CORS. A preflight (OPTIONS with Access-Control-Request-Method) is
// answered 204 by an internal location; other requests of the rule get the
// response headers. Every CORS header comes from a map on the origin map,
// so a request from an origin that is not allowed gets none of them.

// corsPreflightVar is "1" for a CORS preflight request.
func (r *renderer) corsPreflightVar() string {
	owner := r.owner // shared by every CORS rule: ours
	r.owner = nil
	defer func() { r.owner = owner }()
	return r.addMap("cors-preflight", &nginxMap{
		Comment: "CORS preflight request",
		Source:  quote("${request_method}:${http_access_control_request_method}"),
		Var:     "ngo_cors_preflight",
		Entries: []kv{{quote("~^OPTIONS:."), `"1"`}},
		Default: `"0"`,
	})
}

// corsOriginVar is the Access-Control-Allow-Origin value for the request's
// Origin, or "" when the origin is not allowed.
func (r *renderer) corsOriginVar(rule *model.Rule) string {
	c := rule.CORS
	m := &nginxMap{
		Comment: "CORS allowed origins of " + r.ruleComment(rule),
		Source:  quote("${http_origin}"),
		Var:     "ngo_cors_origin_" + rule.ID,
		Default: `""`,
	}
	for i, o := range c.AllowOrigins {
		if o == "*" {
			value := `"*"`
			if c.AllowCredentials { // "*" is not allowed with credentials
				value = `"${http_origin}"`
			}
			m.Entries = append(m.Entries, kv{quote("~."), value})
			continue
		}
		parts := strings.Split(o, "*")
		for i := range parts {
			parts[i] = regexLiteral(parts[i])
		}
		// A wildcard stands for host characters only, so it cannot swallow
		// a "/" or "@" and let another site's origin through.
		pattern := "~*^" + strings.Join(parts, "[A-Za-z0-9._-]*") + "$"
		m.Entries = append(m.Entries, kv{r.value(rule, fmt.Sprintf("%s.allowOrigins[%d]", c.Field, i), quote(pattern)), `"${http_origin}"`})
	}
	return r.addMap("cors-origin\x00"+rule.ID, m)
}

// corsValueVar is value when the origin is allowed, "" otherwise.
func (r *renderer) corsValueVar(rule *model.Rule, name, value string) string {
	origin := r.corsOriginVar(rule)
	return r.addMap("cors-"+name+"\x00"+rule.ID, &nginxMap{
		Comment: "CORS " + name + " of " + r.ruleComment(rule),
		Source:  quote("${" + origin + "}"),
		Var:     "ngo_cors_" + name + "_" + rule.ID,
		Entries: []kv{{`""`, `""`}},
		Default: value,
	})
}

// corsList joins a list for a header (one token, checked as the field
// list); "*" echoes the request's own value.
func (r *renderer) corsList(rule *model.Rule, field string, list []string, echo string) string {
	if slices.Contains(list, "*") {
		return `"${` + echo + `}"`
	}
	return r.value(rule, rule.CORS.Field+"."+field+" (joined)", quoteValue(strings.Join(list, ", ")))
}

func (r *renderer) corsPreflight(lv *locationView, rule *model.Rule) {
	c := rule.CORS
	h := &responseHeaders{}
	h.setVar("Access-Control-Allow-Origin", r.corsOriginVar(rule))
	if len(c.AllowMethods) > 0 {
		h.setVar("Access-Control-Allow-Methods", r.corsValueVar(rule, "methods", r.corsList(rule, "allowMethods", c.AllowMethods, "http_access_control_request_method")))
	}
	if len(c.AllowHeaders) > 0 {
		h.setVar("Access-Control-Allow-Headers", r.corsValueVar(rule, "headers", r.corsList(rule, "allowHeaders", c.AllowHeaders, "http_access_control_request_headers")))
	}
	if c.AllowCredentials {
		h.setVar("Access-Control-Allow-Credentials", r.corsValueVar(rule, "credentials", `"true"`))
	}
	r.corsExposeHeaders(h, rule) // the conformance suite expects them on preflights too
	maxAge := c.MaxAgeSeconds
	if maxAge <= 0 {
		maxAge = 5 // the Gateway API default
	}
	h.setVar("Access-Control-Max-Age", r.corsValueVar(rule, "maxage", quote(strconv.Itoa(int(maxAge)))))
	h.get("Vary").values = []string{`"Origin"`}
	_, lv.AddHeaders = h.render() // nothing to hide: nginx answers itself
	lv.Script = append(lv.Script, "return 204;")
}

// corsResponse adds the CORS headers of a non-preflight response.
func (r *renderer) corsResponse(h *responseHeaders, rule *model.Rule) {
	c := rule.CORS
	h.setVar("Access-Control-Allow-Origin", r.corsOriginVar(rule))
	if c.AllowCredentials {
		h.setVar("Access-Control-Allow-Credentials", r.corsValueVar(rule, "credentials", `"true"`))
	}
	r.corsExposeHeaders(h, rule)
	v := h.get("Vary")
	v.values = append(v.values, `"Origin"`)
}

// corsExposeHeaders adds Access-Control-Expose-Headers when the rule has any.
func (r *renderer) corsExposeHeaders(h *responseHeaders, rule *model.Rule) {
	if expose := rule.CORS.ExposeHeaders; len(expose) > 0 {
		h.setVar("Access-Control-Expose-Headers", r.corsValueVar(rule, "expose", r.value(rule, rule.CORS.Field+".exposeHeaders (joined)", quoteValue(strings.Join(expose, ", ")))))
	}
}
