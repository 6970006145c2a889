package render

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Misdirected requests (Gateway API feature
// GatewayHTTPSListenerDetectMisdirectedRequests). nginx picks the server
// of a TLS connection by its SNI for the handshake, and then the server of
// each request by its Host. A client may send a request for another name
// over a connection it already has, since the certificate covers both
// (HTTP/2 connection coalescing does exactly that): the request would then
// be served by a listener that never accepted its connection, with
// another listener's certificate and client validation. The spec asks for
// 421 when the listener the Host selects is not the one the SNI selected,
// and for the usual 404 when the Host selects no listener.
//
// Every server names its listener (model.HTTPServer.Listeners: the most
// specific listener covering its hostname), and the most specific server
// name covering a host belongs to the most specific listener covering it,
// so one map per port, from $ssl_server_name over the servers' names to
// their listener, says which listener the handshake chose; each server
// with a listener answers 421 when that is another one. A connection
// without SNI (a client that dialled an address) was chosen by nobody: no
// check. A port whose servers all belong to one listener needs none.

// sniListenerMaps adds the map of each HTTPS port whose servers belong to
// more than one listener, and remembers its variable by port.
func (r *renderer) sniListenerMaps() {
	byPort := map[int32][]*model.HTTPServer{}
	tlsPorts := map[int32]bool{}
	var ports []int32
	for i := range r.gw.HTTPServers {
		srv := &r.gw.HTTPServers[i]
		if _, seen := byPort[srv.Port]; !seen {
			ports = append(ports, srv.Port)
		}
		byPort[srv.Port] = append(byPort[srv.Port], srv)
		tlsPorts[srv.Port] = tlsPorts[srv.Port] || srv.TLS != nil
	}
	slices.Sort(ports)
	for _, port := range ports {
		if !tlsPorts[port] {
			continue
		}
		owners := map[string]bool{}
		for _, srv := range byPort[port] {
			if l := serverListener(srv); l != "" {
				owners[l] = true
			}
		}
		if len(owners) < 2 {
			continue
		}
		m := &nginxMap{
			Comment:   comment(fmt.Sprintf("port %d: the listener whose server the TLS handshake's server name (SNI) chose", port)),
			Source:    quote("$ssl_server_name"),
			Var:       fmt.Sprintf("ngo_sni_listener_%d", port),
			Hostnames: true,
			// No SNI: no listener chose the connection.
			Entries: []kv{{Key: `""`, Value: `""`}},
			Default: `""`,
		}
		for _, srv := range byPort[port] {
			if srv.Default {
				m.Default = quoteValue(serverListener(srv))
				continue
			}
			m.Entries = append(m.Entries, kv{Key: quote(srv.Hostname), Value: quoteValue(serverListener(srv))})
		}
		r.sniListener[port] = r.addMap("sni\x00"+m.Var, m)
	}
}

// misdirectedCheck is the line of a server that answers 421 to a request
// whose connection's SNI chose another listener; "" when the server needs
// none (no map on its port, or the server belongs to no listener: its
// requests get 404).
func (r *renderer) misdirectedCheck(srv *model.HTTPServer) string {
	v, ok := r.sniListener[srv.Port]
	own := serverListener(srv)
	if !ok || own == "" {
		return ""
	}
	return fmt.Sprintf("if ($%s !~ %s) { return 421; }", v, quote("^(|"+regexp.QuoteMeta(own)+")$"))
}

// serverListener names the listener a server's requests belong to, "" for
// none.
func serverListener(srv *model.HTTPServer) string {
	return strings.Join(srv.Listeners, ",")
}
