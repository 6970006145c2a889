package config

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"
)

// Views of the command.
const (
	ViewListeners = "listeners"
	ViewRoutes    = "routes"
	ViewUpstreams = "upstreams"
	ViewRaw       = "raw"
)

// Document is what Print writes as YAML or JSON: the pod, its config's
// hash and one view.
type Document struct {
	Pod       string     `json:"pod"`
	Hash      string     `json:"hash"`
	Listeners []Listener `json:"listeners,omitempty"`
	Routes    []Route    `json:"routes,omitempty"`
	Upstreams []Upstream `json:"upstreams,omitempty"`
	// Files is raw's view in YAML and JSON: the tree's files.
	Files map[string]string `json:"files,omitempty"`
}

// Print writes view of l in format (-o table|yaml|json). raw as a table
// is the annotated files (Raw). now dates the certificates' expiry.
func Print(w io.Writer, format, view string, l *Live, now time.Time) error {
	doc := Document{Pod: l.Pod, Hash: l.Hash}
	var table func(io.Writer) error
	switch view {
	case ViewListeners:
		doc.Listeners = Listeners(l, now)
		table = func(w io.Writer) error { return listenersTable(w, doc) }
	case ViewRoutes:
		doc.Routes = Routes(l)
		table = func(w io.Writer) error { return routesTable(w, doc) }
	case ViewUpstreams:
		doc.Upstreams = Upstreams(l)
		table = func(w io.Writer) error { return upstreamsTable(w, doc) }
	case ViewRaw:
		doc.Files = l.Files
		table = func(w io.Writer) error { return Raw(w, l) }
	default:
		return fmt.Errorf("unknown view %q: use listeners, routes, upstreams or raw", view)
	}
	return output.Write(w, format, doc, table)
}

func header(w io.Writer, doc Document) {
	fmt.Fprintf(w, "POD %s  CONFIG %s\n\n", doc.Pod, short(doc.Hash))
}

func listenersTable(w io.Writer, doc Document) error {
	header(w, doc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tPROTOCOL\tHOSTNAME\tLISTENERS\tCERTIFICATE\tSUBJECT\tNOT AFTER\tEXPIRES")
	for _, l := range doc.Listeners {
		proto := l.Protocol
		if l.ClientValidation != "" {
			proto += " (client cert " + l.ClientValidation + ")"
		}
		first := fmt.Sprintf("%d\t%s\t%s\t%s", l.Port, proto, l.Hostname, orNone(strings.Join(l.Listeners, ",")))
		if len(l.Certificates) == 0 {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\n", first)
			continue
		}
		for i, c := range l.Certificates {
			if i > 0 {
				first = "\t\t\t"
			}
			if c.Error != "" {
				fmt.Fprintf(tw, "%s\t%s\t%s\t-\t-\n", first, c.Name, c.Error)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", first, c.Name, c.Subject, c.NotAfter.Format(time.DateOnly), c.Expires)
		}
	}
	return tw.Flush()
}

func routesTable(w io.Writer, doc Document) error {
	header(w, doc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PORT\tHOST\tLOCATION\t#\tMATCH\tROUTE\tRULE\tFILTERS\tBACKENDS")
	for _, r := range doc.Routes {
		loc, order, match := orNone(r.Location), "-", orNone(r.Match)
		if r.Order > 0 {
			order = fmt.Sprint(r.Order)
		}
		if r.Inherited {
			match += " (inherited)"
		}
		fmt.Fprintf(tw, "%d/%s\t%s\t%s\t%s\t%s\t%s %s\t%s\t%s\t%s\n", r.Port, r.Protocol, r.Host, loc, order, match,
			r.Kind, r.Route, r.Rule, orNone(strings.Join(r.Filters, "; ")), action(r))
	}
	return tw.Flush()
}

// action is a rule's redirect or status, or its backends and weights.
func action(r Route) string {
	if r.Action != "" {
		return r.Action
	}
	parts := make([]string, 0, len(r.Backends))
	for _, b := range r.Backends {
		s := fmt.Sprintf("%s w=%d", b.Service, b.Weight)
		if len(b.Filters) > 0 {
			s += " [" + strings.Join(b.Filters, "; ") + "]"
		}
		parts = append(parts, s)
	}
	return orNone(strings.Join(parts, ", "))
}

func upstreamsTable(w io.Writer, doc Document) error {
	header(w, doc)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPSTREAM\tSERVICE\tPROTOCOL\tTLS\tENDPOINTS")
	for _, u := range doc.Upstreams {
		eps := strings.Join(u.Endpoints, ",")
		if u.EndpointsNote != "" {
			eps = strings.TrimPrefix(eps+" ("+u.EndpointsNote+")", " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Service, u.Protocol, orNone(u.TLS), orNone(eps))
	}
	return tw.Flush()
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
