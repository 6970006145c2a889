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

// clientCertRefused is the named location that closes the connection of a
// client whose certificate nginx refused.
const clientCertRefused = "@ngo_client_cert_refused"

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
	if cv.InsecureFallback {
		// Ask for a certificate and serve every client. nginx answers 400
		// itself for some failures even with optional_no_ca (a signature
		// that does not check out against a CA of the same name), so no CA
		// is consulted: no verification result goes anywhere either way.
		sv.TLSDirectives = append(sv.TLSDirectives, kv{"ssl_verify_client", "optional_no_ca"})
		return nil
	}
	r.clientCAs[file] = cv.CAPEM
	sv.TLSDirectives = append(sv.TLSDirectives,
		kv{"ssl_client_certificate", quote(file)},
		kv{"ssl_verify_client", "optional_no_ca"},
		kv{"ssl_verify_depth", "4"},
		// Over HTTP/2 nginx's 444 leaves the client waiting instead of
		// closing: these servers speak HTTP/1.1, so a refused client
		// learns at once.
		kv{"http2", "off"},
		// The failures nginx answers itself (495: the certificate did not
		// verify, 496: none sent) close the connection too.
		kv{"error_page", "495 496 = " + clientCertRefused},
	)
	sv.Script = append(sv.Script, "if ($ssl_client_verify != SUCCESS) { return 444; }")
	sv.Locations = append(sv.Locations, &locationView{Comment: "client certificate refused", Path: quote(clientCertRefused), Script: []string{"return 444;"}})
	return nil
}
