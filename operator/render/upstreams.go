package render

import (
	"strconv"
	"strings"
)

// Block is a block of upstreams as templates/upstreams.conf.tmpl's
// "ngo.upstreams" writes it, for an http{} or a stream{} context: the
// resolver, then one upstream per Service port that names its endpoints
// by DNS. Every string in the view is already safe (see view); this only
// lays them out, byte for byte as the template did (the render goldens).
func (u upstreamsView) Block() string {
	var b strings.Builder
	b.Grow(320 + 256*len(u.Upstreams))
	b.WriteString("\n# Endpoints come from the sidecar's DNS on the pod's loopback; a resolver that\n" +
		"# does not answer within 1 s keeps the addresses nginx has and is asked again.\n" +
		"# max_fails=0: a slow answer (one route's timeout) must not mark an endpoint\n" +
		"# down for every route.\n")
	b.WriteString("resolver " + u.Resolver + ";\nresolver_timeout 1s;")
	// The same for every upstream of the block.
	zone := "\n    zone " + u.Zone + " " + strconv.Itoa(u.ZoneKB) + "k;\n    server "
	server := " service=" + u.Service + " resolve max_fails=0;"
	if u.Keepalive != 0 {
		server += "\n    keepalive " + strconv.Itoa(u.Keepalive) + ";"
	}
	for _, up := range u.Upstreams {
		b.WriteString("\n\n# ")
		b.WriteString(up.Comment)
		if up.Protocol == "h2c" {
			b.WriteString(" (h2c: proxied with HTTP/2 over cleartext)")
		}
		b.WriteString("\nupstream ")
		b.WriteString(up.Name)
		b.WriteString(" {")
		b.WriteString(zone)
		b.WriteString(up.DNSName)
		b.WriteString(server)
		b.WriteString("\n}")
	}
	return b.String()
}
