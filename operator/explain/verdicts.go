package explain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// routeVerdicts says, for every route of the model, why it did or did not
// take the request.
func (ev *evaluation) routeVerdicts() {
	type place struct {
		srv  *model.HTTPServer
		loc  *model.Location
		cand int
	}
	places := map[string][]place{}
	kinds := map[string]string{}
	for i := range ev.m.HTTPServers {
		s := &ev.m.HTTPServers[i]
		for j := range s.Locations {
			l := &s.Locations[j]
			for k, c := range l.Candidates {
				ref := ruleRef(c.Rule)
				places[ref.Route] = append(places[ref.Route], place{s, l, k})
				kinds[ref.Route] = ref.Kind
			}
		}
	}
	routes := make([]string, 0, len(places))
	for r := range places {
		routes = append(routes, r)
	}
	slices.Sort(routes)
	for _, route := range routes {
		v := RouteVerdict{Route: route, Kind: kinds[route], Verdict: RouteNotMatched}
		v.Why = ev.whyNot(route, func(yield func(*model.HTTPServer, *model.Location) bool) {
			for _, p := range places[route] {
				if !yield(p.srv, p.loc) {
					return
				}
			}
		})
		if ev.res.Selected != nil && ev.res.Selected.Route == route {
			v.Verdict, v.Why = RouteSelected, "rule "+ev.res.Selected.Rule
		}
		ev.res.Routes = append(ev.res.Routes, v)
	}
}

// whyNot explains why route, found at the places listed, did not take
// the request.
func (ev *evaluation) whyNot(route string, places func(func(*model.HTTPServer, *model.Location) bool)) string {
	if ev.srv == nil {
		return "the request reaches no server: " + ev.res.Response.Why
	}
	if ev.loc == nil {
		return "the server answers before any location: " + ev.res.Response.Why
	}
	var ports []string
	var others []*model.HTTPServer
	var paths []string
	onServer := false
	for s, l := range places {
		switch {
		case s.Port != ev.req.Port:
			ports = appendNew(ports, strconv.Itoa(int(s.Port)))
		case s != ev.srv:
			if !slices.Contains(others, s) {
				others = append(others, s)
			}
		default:
			onServer = true
			if l.Match == model.PathExact {
				paths = appendNew(paths, "= "+l.Path)
			} else {
				paths = appendNew(paths, l.Path)
			}
		}
	}
	if onServer {
		// In the selected location: its matches failed, or held after the
		// winner's (precedence).
		var failed []string
		for i, c := range ev.loc.candidates {
			if ruleRef(c.Rule).Route != route {
				continue
			}
			cv := ev.res.Candidates[i]
			ok, why := ev.holds(c.Conditions)
			if ok && ev.winner >= 0 {
				w := ev.res.Candidates[ev.winner]
				return fmt.Sprintf("rule %s (%s) matches too, but loses on precedence to %s rule %s (%s)", cv.Rule, cv.Match, w.Route, w.Rule, w.Match)
			}
			failed = append(failed, fmt.Sprintf("rule %s (%s): %s", cv.Rule, cv.Match, why))
		}
		if len(failed) > 0 {
			return strings.Join(failed, "; ")
		}
		return fmt.Sprintf("path: %s is not under its paths %s", ev.uri, strings.Join(paths, ", "))
	}
	if len(others) > 0 {
		names := make([]string, 0, len(others))
		for _, s := range others {
			names = append(names, fmt.Sprintf("%s (listener %s)", serverName(s), strings.Join(s.Listeners, ",")))
		}
		for _, s := range others {
			if covers(s, ev.host) {
				return fmt.Sprintf("listener isolation: host %q goes to the more specific server %s (listener %s); this route is on %s",
					ev.host, serverName(ev.srv), strings.Join(ev.srv.Listeners, ","), strings.Join(names, "; "))
			}
		}
		return fmt.Sprintf("hostname: host %q is not served by its servers %s", ev.host, strings.Join(names, "; "))
	}
	return fmt.Sprintf("port: it serves port %s, the request comes to port %d", strings.Join(ports, ", "), ev.req.Port)
}

// covers reports whether server s could take host were no more specific
// server there.
func covers(s *model.HTTPServer, host string) bool {
	switch {
	case s.Hostname == "":
		return true
	case strings.HasPrefix(s.Hostname, "*."):
		return strings.HasSuffix(host, s.Hostname[1:]) && len(host) > len(s.Hostname)-1
	}
	return s.Hostname == host
}

func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
