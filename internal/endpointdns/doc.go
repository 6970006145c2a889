// Package endpointdns answers nginx's DNS queries for the endpoints of a
// Gateway's upstreams from a table the caller sets (the sidecar sets it from
// the Gateway's endpoints ConfigMap): SRV for an upstream's name
// (dataplane.UpstreamDNSName), A/AAAA for the address names its answers
// point to (dataplane.AddressDNSName). It serves UDP and TCP on the pod's
// loopback with github.com/miekg/dns; it resolves nothing else.
package endpointdns
