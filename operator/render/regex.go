package render

import "github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pcre"

// userRegex turns a user's regular expression (RE2 syntax, validated by the
// translation step) into the PCRE2 pattern nginx runs: operator/pcre
// translates it from Go's syntax tree with the same meaning, matching the
// whole value, or refuses it (the translation step refuses the route
// first; the render step refuses it again if a model carries one).
func userRegex(re string) (string, error) {
	return pcre.Translate(re)
}
