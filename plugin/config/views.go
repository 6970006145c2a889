package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Listener is one server nginx listens with: an HTTP(S) server block (one
// port and hostname) or a stream server's route (TLS: one per server name).
type Listener struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	// Hostname is "*" for a port's default server and for a TCP or UDP
	// server (any name).
	Hostname string `json:"hostname"`
	// Listeners are the Gateway listeners (sectionName) served here.
	Listeners    []string      `json:"listeners,omitempty"`
	Certificates []Certificate `json:"certificates,omitempty"`
	// ClientValidation: clients must present a certificate (frontend TLS),
	// "insecure-fallback" when one is asked for but not required.
	ClientValidation string `json:"clientValidation,omitempty"`
}

// Certificate is a served certificate as the tree holds it.
type Certificate struct {
	Name     string    `json:"name"`
	Subject  string    `json:"subject,omitempty"`
	DNSNames []string  `json:"dnsNames,omitempty"`
	NotAfter time.Time `json:"notAfter,omitzero"`
	// Expires is NotAfter relative to the time of the command ("in 89d",
	// "EXPIRED 2d ago").
	Expires string `json:"expires,omitempty"`
	// Error says why the certificate could not be read.
	Error string `json:"error,omitempty"`
}

// Listeners lists the servers of l in the model's order (port, then
// hostname), HTTP first, then stream. now dates the certificates' expiry.
func Listeners(l *Live, now time.Time) []Listener {
	gw := l.model()
	out := []Listener{}
	tlsPorts := tlsPorts(gw)
	for _, s := range gw.HTTPServers {
		li := Listener{Port: s.Port, Protocol: "HTTP", Hostname: hostOrAny(s.Hostname), Listeners: s.Listeners}
		switch {
		case s.TLS != nil:
			li.Protocol = "HTTPS"
			li.Certificates = l.certificates(s.TLS.CertificateNames, now)
			li.ClientValidation = clientValidation(s.TLS.ClientValidation)
		case tlsPorts[s.Port]:
			// The default server of an HTTPS port: no certificate, nginx
			// refuses the TLS handshake of names no listener takes.
			li.Protocol = "HTTPS"
			li.Certificates = []Certificate{{Name: "-", Error: "none: TLS handshakes for other names are refused"}}
		}
		out = append(out, li)
	}
	for _, s := range gw.StreamServers {
		if s.Protocol != model.StreamTLS || len(s.Routes) == 0 {
			out = append(out, Listener{Port: s.Port, Protocol: string(s.Protocol), Hostname: "*", Listeners: s.Listeners})
			continue
		}
		for _, r := range s.Routes {
			li := Listener{Port: s.Port, Protocol: "TLS passthrough", Hostname: hostOrAny(r.Hostname), Listeners: s.Listeners}
			if r.TLS != nil {
				li.Protocol = "TLS terminate"
				li.Certificates = l.certificates(r.TLS.CertificateNames, now)
			}
			out = append(out, li)
		}
	}
	return out
}

// tlsPorts are the ports of HTTPS servers: render makes every server of
// such a port listen with ssl.
func tlsPorts(gw *model.Gateway) map[int32]bool {
	out := map[int32]bool{}
	for _, s := range gw.HTTPServers {
		if s.TLS != nil {
			out[s.Port] = true
		}
	}
	return out
}

func hostOrAny(h string) string {
	if h == "" {
		return "*"
	}
	return h
}

func clientValidation(v *model.ClientValidation) string {
	switch {
	case v == nil:
		return ""
	case v.InsecureFallback:
		return "insecure-fallback"
	}
	return "required"
}

func (l *Live) certificates(names []string, now time.Time) []Certificate {
	out := make([]Certificate, 0, len(names))
	for _, name := range names {
		c := Certificate{Name: name}
		cert, err := l.certificate(name)
		if err != nil {
			c.Error = err.Error()
		} else {
			c.Subject, c.DNSNames, c.NotAfter = cert.Subject.String(), cert.DNSNames, cert.NotAfter.UTC()
			c.Expires = expires(cert.NotAfter, now)
		}
		out = append(out, c)
	}
	return out
}

func expires(notAfter, now time.Time) string {
	d := notAfter.Sub(now)
	if d < 0 {
		return "EXPIRED " + days(-d) + " ago"
	}
	return "in " + days(d)
}

func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Minute).String()
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// Route is one candidate of a location (HTTP) or one stream route, in the
// order nginx tries them: per server, per location, the first candidate
// whose conditions hold takes the request.
type Route struct {
	Port     int32  `json:"port"`
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	// Location is the path block ("prefix /items", "exact /items/special");
	// empty for stream routes.
	Location string `json:"location,omitempty"`
	// Order is the candidate's place in its location, from 1.
	Order int `json:"order,omitempty"`
	// Match is the candidate's conditions beyond the location ("always").
	Match string `json:"match,omitempty"`
	// Inherited: the candidate's match is a shorter path prefix; it is
	// tried here after the location's own matches.
	Inherited bool     `json:"inherited,omitempty"`
	Kind      string   `json:"kind"`
	Route     string   `json:"route"`
	Rule      string   `json:"rule"`
	Filters   []string `json:"filters,omitempty"`
	// Action is what the rule does when it is not proxying: a redirect or
	// a fixed status.
	Action   string    `json:"action,omitempty"`
	Backends []Backend `json:"backends,omitempty"`
}

// Backend is a weighted backend of a rule.
type Backend struct {
	// Service is namespace/name:port, "invalid" for a backendRef that
	// answers 500.
	Service  string   `json:"service"`
	Upstream string   `json:"upstream,omitempty"`
	Weight   int32    `json:"weight"`
	Filters  []string `json:"filters,omitempty"`
}

// Routes lists what each server of l does with a request, in nginx's order.
func Routes(l *Live) []Route {
	gw := l.model()
	services := upstreamServices(gw)
	tlsPorts := tlsPorts(gw)
	out := []Route{}
	for _, s := range gw.HTTPServers {
		proto := "HTTP"
		if tlsPorts[s.Port] {
			proto = "HTTPS"
		}
		for _, loc := range s.Locations {
			where := "prefix " + loc.Path
			if loc.Match == model.PathExact {
				where = "exact " + loc.Path
			}
			for i, c := range loc.Candidates {
				r := ruleRow(c.Rule, services)
				r.Port, r.Protocol, r.Host, r.Location, r.Order = s.Port, proto, hostOrAny(s.Hostname), where, i+1
				r.Match = explain.DescribeConditions(c.Conditions)
				r.Inherited = c.PathField == "" && !hasPathRegex(c.Conditions)
				out = append(out, r)
			}
		}
	}
	for _, s := range gw.StreamServers {
		for _, sr := range s.Routes {
			r := Route{Port: s.Port, Protocol: string(s.Protocol), Host: hostOrAny(sr.Hostname)}
			r.Kind, r.Route, r.Rule = routeNames(sr.Route)
			r.Backends = backends(sr.Backends, services)
			if sr.TLS != nil {
				r.Filters = []string{"terminate TLS"}
			}
			out = append(out, r)
		}
	}
	return out
}

func hasPathRegex(conds []model.Condition) bool {
	for _, c := range conds {
		if c.Kind == model.ConditionPathRegex {
			return true
		}
	}
	return false
}

func routeNames(ref model.RouteRef) (kind, route, rule string) {
	rule = ref.RuleName
	if rule == "" {
		rule = strconv.Itoa(ref.RuleIndex)
	}
	return ref.Kind, ref.Namespace + "/" + ref.Name, rule
}

func ruleRow(rule *model.Rule, services map[string]string) Route {
	var r Route
	if rule == nil {
		return r
	}
	r.Kind, r.Route, r.Rule = routeNames(rule.Route)
	r.Filters = filters(rule)
	switch {
	case rule.Redirect != nil:
		r.Action = redirect(rule.Redirect)
	case rule.Return != nil:
		r.Action = fmt.Sprintf("return %d", rule.Return.StatusCode)
	default:
		r.Backends = backends(rule.Backends, services)
		if len(r.Backends) == 0 {
			r.Action = "return 500 (no backend)"
		}
	}
	return r
}

func backends(bs []model.Backend, services map[string]string) []Backend {
	out := make([]Backend, 0, len(bs))
	for _, b := range bs {
		svc := services[b.Upstream]
		if b.Invalid || svc == "" {
			svc = "invalid (500)"
		}
		out = append(out, Backend{Service: svc, Upstream: b.Upstream, Weight: b.Weight,
			Filters: append(explain.HeaderFilters("request", b.RequestHeaders), explain.HeaderFilters("response", b.ResponseHeaders)...)})
	}
	return out
}

// upstreamServices maps every upstream name to namespace/name:port.
func upstreamServices(gw *model.Gateway) map[string]string {
	out := map[string]string{}
	for _, list := range [][]model.Upstream{gw.Upstreams, gw.StreamUpstreams} {
		for _, u := range list {
			out[u.Name] = fmt.Sprintf("%s/%s:%d", u.ServiceNamespace, u.ServiceName, u.ServicePort)
		}
	}
	return out
}

// filters describes what a rule changes, as configured (explain's words).
func filters(rule *model.Rule) []string {
	var out []string
	if rw := rule.Rewrite; rw != nil {
		if rw.Hostname != "" {
			out = append(out, "rewrite Host to "+rw.Hostname)
		}
		if p := rw.Path; p != nil {
			out = append(out, "rewrite path: "+pathRewrite(p))
		}
	}
	out = append(out, explain.RuleChanges(rule)...)
	if rt := rule.Retry; rt != nil {
		codes := make([]string, len(rt.Codes))
		for i, c := range rt.Codes {
			codes[i] = strconv.Itoa(c)
		}
		out = append(out, fmt.Sprintf("retry %d times on %s", rt.Attempts, strings.Join(codes, ",")))
	}
	if rule.GRPC {
		out = append(out, "gRPC")
	}
	return out
}

func pathRewrite(p *model.PathRewrite) string {
	if p.Kind == model.RewritePrefix {
		return fmt.Sprintf("prefix %s to %s", p.MatchedPrefix, p.Value)
	}
	return "to " + p.Value
}

func redirect(rd *model.Redirect) string {
	parts := []string{fmt.Sprintf("redirect %d", rd.StatusCode)}
	if rd.Scheme != "" {
		parts = append(parts, "scheme "+rd.Scheme)
	}
	if rd.Hostname != "" {
		parts = append(parts, "host "+rd.Hostname)
	}
	if rd.Port != nil {
		parts = append(parts, fmt.Sprintf("port %d", *rd.Port))
	}
	if rd.Path != nil {
		parts = append(parts, "path "+pathRewrite(rd.Path))
	}
	return strings.Join(parts, ", ")
}

// Upstream is one upstream and the endpoints the sidecar serves for it.
type Upstream struct {
	Name     string `json:"name"`
	Service  string `json:"service"`
	Protocol string `json:"protocol"`
	// TLS is the name nginx verifies on the backend's certificate.
	TLS string `json:"tls,omitempty"`
	// Endpoints are the addresses nginx resolves the upstream to now;
	// nil when they could not be read (see EndpointsNote).
	Endpoints     []string `json:"endpoints"`
	EndpointsNote string   `json:"endpointsNote,omitempty"`
}

// Upstreams lists the upstreams of l, HTTP then stream, by name.
func Upstreams(l *Live) []Upstream {
	gw := l.model()
	out := []Upstream{}
	add := func(u model.Upstream, proto string) {
		stream := proto == string(model.StreamTCP) || proto == string(model.StreamUDP) || proto == string(model.StreamTLS)
		row := Upstream{Name: u.Name, Service: fmt.Sprintf("%s/%s:%d", u.ServiceNamespace, u.ServiceName, u.ServicePort), Protocol: proto}
		if u.TLS != nil {
			row.TLS = u.TLS.Hostname
		}
		switch eps := l.Endpoints; {
		case eps == nil:
			row.EndpointsNote = "not read"
		case !eps.Synced:
			row.EndpointsNote = "the sidecar has not read the endpoints yet (nginx keeps the addresses it has)"
		default:
			list, known := eps.Upstreams[u.Name]
			row.Endpoints = append([]string{}, list...)
			if !known {
				row.EndpointsNote = "not in the sidecar's table (nginx gets NXDOMAIN)"
			} else if len(list) == 0 && stream {
				row.EndpointsNote = "no ready endpoints: connections are closed"
			} else if len(list) == 0 {
				row.EndpointsNote = "no ready endpoints: requests get 503"
			}
		}
		out = append(out, row)
	}
	for _, u := range gw.Upstreams {
		add(u, string(u.Protocol))
	}
	protocols := streamProtocols(gw)
	for _, u := range gw.StreamUpstreams {
		add(u, protocols[u.Name])
	}
	return out
}

// streamProtocols maps each stream upstream to the protocol of the
// servers whose routes use it (TCP, UDP, TLS).
func streamProtocols(gw *model.Gateway) map[string]string {
	out := map[string]string{}
	for _, s := range gw.StreamServers {
		for _, r := range s.Routes {
			for _, b := range r.Backends {
				out[b.Upstream] = string(s.Protocol)
			}
		}
	}
	return out
}
