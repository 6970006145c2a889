package render

import (
	"bytes"
	"strconv"
)

// Locations writes the location blocks of a server (templates/servers.conf.tmpl
// calls it where they go) straight into the file being rendered, and
// returns "". They are laid out here in Go rather than in the template:
// they are nearly all of a large config's lines (two per prefix route),
// and text/template's reflection per field was the largest cost of a
// route change at thousands of routes (pipeline.BenchmarkChange). Every
// string written is already quoted or safe (see view); this only lays
// them out, as the template did, byte for byte (the render goldens).
func (v *view) Locations(s *serverView) string {
	buf := v.rec.buf
	if buf == nil {
		// Only Render executes the templates, and it always records.
		panic("render: Locations outside Render")
	}
	for _, loc := range s.Locations {
		buf.WriteString("\n\n    ")
		v.Begin(loc.Src)
		buf.WriteString("# ")
		buf.WriteString(loc.Comment)
		buf.WriteString("\n    location ")
		buf.WriteString(loc.Match)
		buf.WriteString(loc.Path)
		buf.WriteString(" {")
		if loc.Internal {
			directive(buf, "internal;")
		}
		for _, line := range loc.Script {
			directive(buf, line)
		}
		for _, h := range loc.HideHeaders {
			directive(buf, "proxy_hide_header ", h, ";")
		}
		for _, h := range loc.AddHeaders {
			directive(buf, "add_header ", h.Key, " ", h.Value, " always;")
		}
		for _, m := range loc.Mirrors {
			directive(buf, "mirror ", m, ";")
		}
		for _, t := range loc.Timeouts {
			directive(buf, t.Key, " ", t.Value, ";")
		}
		if p := loc.Proxy; p != nil {
			if p.HTTPVersion != "" {
				directive(buf, "proxy_http_version ", p.HTTPVersion, ";")
			}
			for _, h := range p.Headers {
				directive(buf, "proxy_set_header ", h.Key, " ", h.Value, ";")
			}
			for _, d := range p.TLS {
				directive(buf, d.Key, " ", d.Value, ";")
			}
			directive(buf, "proxy_pass ", p.Pass, ";")
		}
		if loc.ErrorPage != "" {
			directive(buf, "proxy_intercept_errors on;")
			directive(buf, "recursive_error_pages on;")
			directive(buf, "error_page ", loc.ErrorPage, ";")
		}
		if loc.GRPC != nil {
			writeGRPC(buf, loc.GRPC)
		}
		buf.WriteString("\n    }")
		v.End()
	}
	return ""
}

// writeGRPC writes how a location answers a GRPCRoute's request
// (grpcView): grpc_pass to the backend, or a gRPC status of our own.
func writeGRPC(buf *bytes.Buffer, g *grpcView) {
	if g.Pass == "" {
		status := strconv.Itoa(g.Status)
		directive(buf, "# gRPC status ", status, ", trailers-only: HTTP 200 without body.")
		directive(buf, "types { }")
		directive(buf, "default_type application/grpc;")
		directive(buf, "add_header grpc-status ", status, " always;")
		directive(buf, "add_header grpc-message ", g.Message, " always;")
		directive(buf, "return 200;")
		return
	}
	for _, h := range g.HideHeaders {
		directive(buf, "grpc_hide_header ", h, ";")
	}
	for _, h := range g.Headers {
		directive(buf, "grpc_set_header ", h.Key, " ", h.Value, ";")
	}
	for _, d := range g.TLS {
		directive(buf, d.Key, " ", d.Value, ";")
	}
	// As proxied requests: a vanished endpoint is given up after 2 s. A
	// stream may stay silent for long (a watch): an hour between reads or
	// writes, as WebSockets; calls have their own gRPC deadlines.
	directive(buf, "# As proxied requests: a vanished endpoint is given up after 2 s. A")
	directive(buf, "# stream may stay silent for long (a watch): an hour between reads")
	directive(buf, "# or writes, as WebSockets; calls have their own gRPC deadlines.")
	directive(buf, "grpc_connect_timeout 2s;")
	directive(buf, "grpc_read_timeout 3600s;")
	directive(buf, "grpc_send_timeout 3600s;")
	directive(buf, "grpc_pass ", g.Pass, ";")
}

// directive writes one line of a location's body: a new line, the
// location's indentation, then parts.
func directive(buf *bytes.Buffer, parts ...string) {
	buf.WriteString("\n        ")
	for _, p := range parts {
		buf.WriteString(p)
	}
}
