package render

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TLS to backends (a BackendTLSPolicy, model.UpstreamTLS): the upstream's
// CA bundle is a config file of its own, and each location that passes a
// request to the upstream verifies the backend's certificate with it.

// caFile is the config file holding an upstream's CA bundle. Upstream
// names have no dots, so "<name>.ca.pem" never meets a certificate's
// "<name>.crt"/".key" or a ".conf" file in the merged folder.
func caFile(u *model.Upstream) string { return u.Name + ".ca.pem" }

// backendClientFiles are the Secret files of the Gateway's client
// certificate towards backends.
func backendClientFiles(gw *model.Gateway) map[string][]byte {
	c := gw.BackendClientCertificate
	if c == nil {
		return nil
	}
	return map[string][]byte{c.Name + ".crt": bytes.Clone(c.CertPEM), c.Name + ".key": bytes.Clone(c.KeyPEM)}
}

// caFiles are the CA bundle files of the upstreams that speak TLS.
func caFiles(gw *model.Gateway) map[string][]byte {
	out := map[string][]byte{}
	for i := range gw.Upstreams {
		if u := &gw.Upstreams[i]; u.TLS != nil {
			out[caFile(u)] = bytes.Clone(u.TLS.CAPEM)
		}
	}
	return out
}

// checkUpstreamTLS holds the model to its promise: a plain DNS name and a
// CA bundle, since the name is written into nginx's config.
func checkUpstreamTLS(u *model.Upstream) error {
	if u.TLS == nil {
		return nil
	}
	h := u.TLS.Hostname
	if strings.HasPrefix(h, "*") || !serverHostname.MatchString(h) {
		return fmt.Errorf("render: upstream %s: TLS hostname %q is not a DNS name", u.Name, h)
	}
	if len(u.TLS.CAPEM) == 0 {
		return fmt.Errorf("render: upstream %s: TLS without a CA bundle", u.Name)
	}
	return nil
}

// upstreamScheme is the scheme of proxy_pass ("http", "https") or grpc_pass
// ("grpc", "grpcs") for an upstream.
func upstreamScheme(plain string, u *model.Upstream) string {
	if u.TLS != nil {
		return plain + "s"
	}
	return plain
}

// upstreamTLSDirectives are the directives of a location that passes
// requests to u, prefix "proxy" or "grpc": the backend's certificate must
// chain to the policy's CA bundle and carry the policy's hostname, which is
// also the SNI sent. nil for a cleartext upstream.
func (r *renderer) upstreamTLSDirectives(prefix string, u *model.Upstream) []kv {
	if u.TLS == nil {
		return nil
	}
	var client []kv
	if c := r.gw.BackendClientCertificate; c != nil {
		// The Gateway's client certificate (spec.tls.backend).
		client = []kv{{prefix + "_ssl_certificate", quote(c.Name + ".crt")}, {prefix + "_ssl_certificate_key", quote(c.Name + ".key")}}
	}
	return append(client, []kv{
		{prefix + "_ssl_trusted_certificate", quote(caFile(u))},
		{prefix + "_ssl_verify", "on"},
		// nginx's default depth (1) takes only a certificate signed by the
		// CA itself; a bundle may hold intermediates.
		{prefix + "_ssl_verify_depth", "4"},
		{prefix + "_ssl_server_name", "on"},
		{prefix + "_ssl_name", quote(u.TLS.Hostname)},
	}...)
}
