package config

import (
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// renderOrder is the order nginx.conf includes the config files in.
var renderOrder = []string{render.FileMain, render.FileHTTP, render.FileMaps, render.FileUpstreams, render.FileServers, render.FileStream}

// Raw writes the nginx config files of l with their line numbers (as
// nginx's errors name them), each block a route rule produced framed by
// comments naming the route, rule and matches (the source map); then the
// names of the tree's other files (certificates, CA bundles).
func Raw(w io.Writer, l *Live) error {
	matches := ruleMatches(l.model())
	names := slices.Sorted(maps.Keys(l.Files))
	var conf, other []string
	for _, name := range renderOrder {
		if _, ok := l.Files[name]; ok {
			conf = append(conf, name)
		}
	}
	for _, name := range names {
		switch {
		case slices.Contains(renderOrder, name):
		case strings.HasSuffix(name, ".conf"):
			conf = append(conf, name)
		default:
			other = append(other, name)
		}
	}
	fmt.Fprintf(w, "# pod %s, config %s\n", l.Pod, l.Hash)
	for _, name := range conf {
		fmt.Fprintf(w, "\n# ===== %s =====\n", name)
		ranges := l.Source.Sources[name]
		lines := strings.SplitAfter(l.Files[name], "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		next := 0
		for i, text := range lines {
			n := i + 1
			if next < len(ranges) && ranges[next].From == n {
				fmt.Fprintf(w, "      # ▼ %s\n", blockName(ranges[next].Route, matches))
			}
			fmt.Fprintf(w, "%5d %s", n, text)
			if !strings.HasSuffix(text, "\n") {
				fmt.Fprintln(w)
			}
			if next < len(ranges) && ranges[next].To == n {
				r := ranges[next].Route
				kind, route, rule := routeNames(r)
				fmt.Fprintf(w, "      # ▲ %s %s rule %s\n", kind, route, rule)
				next++
			}
		}
	}
	if len(other) > 0 {
		fmt.Fprintf(w, "\n# other files of the tree: %s\n", strings.Join(other, ", "))
	}
	_, err := fmt.Fprintln(w)
	return err
}

// blockName is a rule and the matches that select it.
func blockName(ref model.RouteRef, matches map[model.RouteRef][]string) string {
	kind, route, rule := routeNames(ref)
	s := fmt.Sprintf("%s %s rule %s", kind, route, rule)
	if m := matches[ref]; len(m) > 0 {
		s += ": " + strings.Join(m, "; ")
	}
	return s
}

// matchIndex finds "matches[N]" in a candidate's PathField.
var matchIndex = regexp.MustCompile(`matches\[[0-9]+\]`)

// ruleMatches lists, per route rule, its own matches as the model holds
// them ("matches[1] exact /a, header x = \"1\""), in the order met.
func ruleMatches(gw *model.Gateway) map[model.RouteRef][]string {
	out := map[model.RouteRef][]string{}
	for _, s := range gw.HTTPServers {
		for _, loc := range s.Locations {
			for _, c := range loc.Candidates {
				if c.Rule == nil || (c.PathField == "" && !hasPathRegex(c.Conditions)) {
					continue // inherited: listed where it is its own
				}
				m := string(loc.Match) + " " + loc.Path
				if hasPathRegex(c.Conditions) {
					m = ""
				}
				if conds := explain.DescribeConditions(c.Conditions); conds != "always" {
					m = strings.TrimPrefix(m+", "+conds, ", ")
				}
				if idx := matchIndex.FindString(c.PathField + conditionField(c.Conditions)); idx != "" {
					m = idx + " " + m
				}
				if !slices.Contains(out[c.Rule.Route], m) {
					out[c.Rule.Route] = append(out[c.Rule.Route], m)
				}
			}
		}
	}
	return out
}

// conditionField is the field path of a candidate's first condition (a
// regex path match has no PathField).
func conditionField(conds []model.Condition) string {
	if len(conds) == 0 {
		return ""
	}
	return conds[0].Field
}
