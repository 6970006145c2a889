package render

import (
	"bytes"
	"fmt"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Client certificate validation on HTTPS ports (model.ClientValidation):
// the port's CA bundle is a config file, and each server of the port asks
// for a certificate. nginx's `ssl_verify_client on` answers a failed
// validation with a 400 page over a completed handshake; the spec wants
// the connection refused, so nginx verifies with optional_no_ca (a
// certificate from another CA reaches the server as FAILED) and the server
// closes the connection (444) unless $ssl_client_verify is SUCCESS (over
// HTTP/1.1: see clientValidation). A
// certificate that fails otherwise (expired, malformed) still gets nginx's
// 400.

// clientCAFile is the config file of a port's client CA bundle.
func clientCAFile(port int32) string { return fmt.Sprintf("client-ca-%d.pem", port) }

// clientValidation fills a server's client certificate directives and
// records its port's CA bundle; every server of a port must carry the same.
func (r *renderer) clientValidation(srv *model.HTTPServer, sv *serverView) error {
	if srv.TLS == nil || srv.TLS.ClientValidation == nil {
		return nil
	}
	cv := srv.TLS.ClientValidation
	if len(cv.CAPEM) == 0 {
		return fmt.Errorf("render: server %s:%d: client validation without a CA bundle", srv.Hostname, srv.Port)
	}
	file := clientCAFile(srv.Port)
	if have, ok := r.clientCAs[file]; ok && !bytes.Equal(have, cv.CAPEM) {
		return fmt.Errorf("render: port %d: servers with different client CA bundles", srv.Port)
	}
	r.clientCAs[file] = cv.CAPEM
	sv.TLSDirectives = append(sv.TLSDirectives,
		kv{"ssl_client_certificate", quote(file)},
		kv{"ssl_verify_client", "optional_no_ca"},
		kv{"ssl_verify_depth", "4"},
	)
	if !cv.InsecureFallback {
		// Over HTTP/2 nginx's 444 leaves the client waiting instead of
		// closing: these servers speak HTTP/1.1, so a refused client
		// learns at once.
		sv.TLSDirectives = append(sv.TLSDirectives, kv{"http2", "off"})
		sv.Script = append(sv.Script, "if ($ssl_client_verify != SUCCESS) { return 444; }")
	}
	return nil
}
