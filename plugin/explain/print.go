package explain

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
)

// Output formats of Print.
const (
	OutputTable = output.Table
	OutputYAML  = output.YAML
	OutputJSON  = output.JSON
)

// Print writes rep in format (OutputTable, OutputYAML or OutputJSON).
func Print(w io.Writer, format string, rep Report) error {
	return output.Write(w, format, rep, func(w io.Writer) error { printTable(w, rep); return nil })
}

func printTable(w io.Writer, rep Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	r := rep.Request
	fmt.Fprintf(tw, "Gateway:\t%s\n", rep.Gateway)
	if rep.Request.Method == "" {
		printConnection(tw, rep)
		return
	}
	req := fmt.Sprintf("%s %s://%s%s", r.Method, r.Scheme, orNone(r.Host), r.Path)
	if (r.Scheme == "http" && r.Port != 80) || (r.Scheme == "https" && r.Port != 443) {
		req = fmt.Sprintf("%s %s://%s:%d%s", r.Method, r.Scheme, orNone(r.Host), r.Port, r.Path)
	}
	if r.Query != "" {
		req += "?" + r.Query
	}
	fmt.Fprintf(tw, "Request:\t%s\n", req)
	sent := r.Path
	if r.Query != "" {
		sent += "?" + r.Query
	}
	if r.Path != "" && r.Target != sent {
		fmt.Fprintf(tw, "Sent as:\t%s (nginx decodes and normalizes the path)\n", r.Target)
	}
	if r.SNI != "" {
		fmt.Fprintf(tw, "SNI:\t%s\n", r.SNI)
	}
	for _, h := range r.Headers {
		if !strings.EqualFold(h.Name, "Host") {
			fmt.Fprintf(tw, "Header:\t%s: %s\n", h.Name, h.Value)
		}
	}
	if s := rep.Server; s != nil {
		host := s.Hostname
		if host == "" {
			host = "*"
		}
		def := ""
		if s.Default {
			def = " (default server)"
		}
		fmt.Fprintf(tw, "Server:\tport %d host %s%s, listener %s: %s\n", s.Port, host, def, orNone(strings.Join(s.Listeners, ",")), s.Why)
	}
	if l := rep.Location; l != nil {
		fmt.Fprintf(tw, "Location:\t%s %s: %s\n", l.Match, l.Path, l.Why)
	}
	if rep.Selected != nil {
		fmt.Fprintf(tw, "Route:\t%s %s rule %s\n", rep.Selected.Kind, rep.Selected.Route, rep.Selected.Rule)
	}
	resp := rep.Response
	status := "from the backend"
	if resp.Outcome != explain.OutcomeProxied {
		status = "none"
	}
	if resp.Status != 0 {
		status = fmt.Sprint(resp.Status)
	}
	line := fmt.Sprintf("%s, status %s", resp.Outcome, status)
	if resp.Why != "" {
		line += ": " + resp.Why
	}
	fmt.Fprintf(tw, "Response:\t%s\n", line)
	if resp.Redirect != "" {
		fmt.Fprintf(tw, "Location header:\t%s\n", resp.Redirect)
	}
	for _, f := range resp.Filters {
		fmt.Fprintf(tw, "Filter:\t%s\n", f)
	}
	if a := resp.AccessLog; a != nil {
		fmt.Fprintf(tw, "Access log:\t%s\n", accessLogFields(resp, true))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(tw, "Note:\t%s\n", n)
	}
	tw.Flush()

	printBackends(tw, resp)
	if len(rep.Candidates) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "MATCHES OF THE LOCATION, IN ORDER\tRULE\tMATCH\tVERDICT")
		for _, c := range rep.Candidates {
			v := c.Verdict
			if c.Why != "" {
				v += ": " + c.Why
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Route, c.Rule, c.Match, v)
		}
		tw.Flush()
	}
	printRouteVerdicts(tw, rep.Routes)
}

// accessLogFields are the route, rule (HTTP only) and backend fields as
// the Gateway's access log format writes them, so that the line can be
// searched for: `"route":"…","rule":"…","backend":"…"` in the JSON default
// (consecutive in log_format ngo_json and ngo_stream_json), `route="…"
// rule="…" backend="…"` in the text format. With several backends, each
// one's name and share.
func accessLogFields(resp explain.Response, rule bool) string {
	a := resp.AccessLog
	backends := []string{a.Backend}
	if a.Backend == "" && len(resp.Backends) > 0 {
		backends = backends[:0]
		for _, b := range resp.Backends {
			backends = append(backends, b.Log)
		}
	}
	field := func(name, value string) string { return fmt.Sprintf("%s=%q", name, value) }
	sep := " "
	switch a.Format {
	case "off":
		return "none (the Gateway's access log is off)"
	case "json", "":
		sep = ","
		field = func(name, value string) string {
			var b strings.Builder
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // nginx's escape=json leaves <>& as they are
			_ = enc.Encode(value)
			return fmt.Sprintf("%q:%s", name, strings.TrimSuffix(b.String(), "\n"))
		}
	}
	fields := []string{field("route", a.Route)}
	if rule {
		fields = append(fields, field("rule", a.Rule))
	}
	out := strings.Join(fields, sep) + sep
	for i, b := range backends {
		if i > 0 {
			out += " | "
		}
		out += field("backend", b)
		if len(backends) > 1 {
			out += " (" + resp.Backends[i].Share + ")"
		}
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printBackends is the table of the selected rule's backends.
func printBackends(tw *tabwriter.Writer, resp explain.Response) {
	if len(resp.Backends) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "BACKEND\tWEIGHT\tSHARE\tENDPOINTS\tANSWER")
	for _, b := range resp.Backends {
		answer := "proxied"
		switch {
		case b.Status != 0:
			answer = fmt.Sprintf("%d: %s", b.Status, b.Why)
		case b.Why != "":
			answer = b.Why
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", orNone(b.Service), b.Weight, b.Share, orNone(strings.Join(b.Endpoints, ",")), answer)
		for _, f := range b.Filters {
			fmt.Fprintf(tw, "  filter: %s\t\t\t\t\n", f)
		}
	}
	tw.Flush()
}

// printConnection is printTable for a connection to a TCP, UDP or TLS
// listener (explain.ExplainConnection).
func printConnection(tw *tabwriter.Writer, rep Report) {
	r := rep.Request
	fmt.Fprintf(tw, "Connection:\t%s to port %d\n", strings.ToUpper(r.Scheme), r.Port)
	if r.Scheme == "tls" {
		fmt.Fprintf(tw, "SNI:\t%s\n", orNone(r.SNI))
	}
	if s := rep.Stream; s != nil {
		mode := ""
		if s.Mode != "" {
			mode = ", " + s.Mode
			if s.Hostname != "" {
				mode += " " + s.Hostname
			}
		}
		fmt.Fprintf(tw, "Server:\t%s port %d, listener %s%s: %s\n", s.Protocol, s.Port, orNone(strings.Join(s.Listeners, ",")), mode, s.Why)
	}
	if rep.Selected != nil {
		fmt.Fprintf(tw, "Route:\t%s %s rule %s\n", rep.Selected.Kind, rep.Selected.Route, rep.Selected.Rule)
	}
	resp := rep.Response
	line := resp.Outcome
	if resp.Why != "" {
		line += ": " + resp.Why
	}
	fmt.Fprintf(tw, "Response:\t%s\n", line)
	if a := resp.AccessLog; a != nil {
		fmt.Fprintf(tw, "Access log:\t%s\n", accessLogFields(resp, false))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(tw, "Note:\t%s\n", n)
	}
	tw.Flush()
	printBackends(tw, resp)
	printRouteVerdicts(tw, rep.Routes)
}

// printRouteVerdicts is the table of every route's verdict.
func printRouteVerdicts(tw *tabwriter.Writer, routes []explain.RouteVerdict) {
	if len(routes) == 0 {
		return
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "ROUTE\tVERDICT\tWHY")
	for _, v := range routes {
		fmt.Fprintf(tw, "%s %s\t%s\t%s\n", v.Kind, v.Route, v.Verdict, v.Why)
	}
	tw.Flush()
}
