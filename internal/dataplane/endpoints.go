package dataplane

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Backend endpoints reach nginx without a reload. The rendered config names
// each upstream's endpoints by a DNS name (UpstreamDNSName) and never lists
// addresses; the operator publishes the ready addresses of each upstream in
// the Gateway's endpoints ConfigMap (one key per upstream name, the value
// FormatEndpoints), the sidecar watches that one object through the API
// server and answers nginx's DNS queries from it on the pod's loopback, and
// nginx re-resolves every second. An endpoint change writes only that
// ConfigMap: the config, its hash and the Deployment stay as they are.
const (
	// EndpointsDNSAddr is where the sidecar serves the endpoints as DNS
	// (UDP and TCP) and where the rendered `resolver` points. Listeners
	// cannot use its port (nor NoEndpointsPort, nor ClosedPort).
	EndpointsDNSAddr = "127.0.0.1:8053"
	EndpointsDNSPort = 8053
	// EndpointsDNSDomain is the zone the sidecar answers for; every other
	// name is refused. ".invalid" never resolves anywhere else (RFC 6761).
	EndpointsDNSDomain = "endpoints.ngo.invalid."
	// EndpointsSRVService is the SRV service of HTTP upstreams: the rendered
	// `server NAME service=http resolve` makes nginx ask for
	// "_http._tcp." + NAME; each answer's port comes with its address.
	EndpointsSRVService = "http"
	// EndpointsStreamSRVService is the SRV service of stream (TCP, UDP,
	// TLS passthrough) upstreams, so that the sidecar can tell them from
	// HTTP upstreams when they have no endpoints (ClosedPort).
	EndpointsStreamSRVService = "stream"
	// NoEndpointsPort is nginx's own server on 127.0.0.1 that answers 503.
	// An HTTP upstream without ready endpoints resolves to it: nginx treats
	// an empty SRV answer as "host not found" and then waits 10 s before
	// asking again, so the sidecar answers with this one local server
	// instead, and the backend's 503 is what clients see until a pod is
	// ready (within a second of the endpoints ConfigMap changing).
	NoEndpointsPort = 8054
	// ClosedAddr (127.0.0.1:ClosedPort) is closed for TCP and UDP:
	// ClosedPort is a port nothing in the gateway pod listens on, for TCP or
	// UDP, on any address: listeners may not use it (the translation refuses
	// it as it refuses the pod's other ports), nginx and the sidecar never
	// bind it, and it is below Linux's ephemeral range (32768–60999), so no
	// outgoing connection takes it as its local port. A stream upstream
	// without ready endpoints resolves to ClosedAddr: the answer is
	// a success, re-asked a second later like any other (an empty answer
	// would be cached 10 s), and a connection to it is refused at once (UDP:
	// the port-unreachable error ends the session), as a client of a
	// Service without endpoints expects.
	ClosedAddr = "127.0.0.1:8055"
	ClosedPort = 8055
	// EnvEndpointsConfigMap names the Gateway's endpoints ConfigMap (in
	// EnvPodNamespace), which the sidecar may get, list and watch.
	EnvEndpointsConfigMap = "ENDPOINTS_CONFIGMAP"
)

// UpstreamDNSName is the DNS name an upstream's endpoints resolve under:
// the upstream name (nginx-safe, [a-z0-9_], derived by the translation
// step, never user text) cut into labels of at most 63 bytes, under
// EndpointsDNSDomain. Without the trailing dot, as nginx's config takes it.
func UpstreamDNSName(upstream string) string {
	var labels []string
	for len(upstream) > 63 {
		labels = append(labels, upstream[:63])
		upstream = upstream[63:]
	}
	labels = append(labels, upstream)
	return strings.Join(labels, ".") + "." + strings.TrimSuffix(EndpointsDNSDomain, ".")
}

// UpstreamOfDNSName is the inverse of UpstreamDNSName (name fully
// qualified, lower case): the upstream name, or false.
func UpstreamOfDNSName(name string) (string, bool) {
	rest, ok := strings.CutSuffix(name, "."+EndpointsDNSDomain)
	if !ok || rest == "" {
		return "", false
	}
	labels := strings.Split(rest, ".")
	for i, l := range labels {
		if l == "" || len(l) > 63 || (i < len(labels)-1 && len(l) != 63) {
			return "", false
		}
	}
	return strings.Join(labels, ""), true
}

// addressZone is the subzone whose names stand for one address each; the
// label carries the address ("10-1-2-3" for 10.1.2.3, "fd00--1" for fd00::1).
const (
	addressZone4 = "ip4." + EndpointsDNSDomain
	addressZone6 = "ip6." + EndpointsDNSDomain
)

// AddressDNSName is the fully qualified name that resolves to addr alone
// (A for IPv4, AAAA for IPv6): the target of SRV answers.
func AddressDNSName(addr netip.Addr) string {
	addr = addr.Unmap()
	if addr.Is4() {
		return strings.ReplaceAll(addr.String(), ".", "-") + "." + addressZone4
	}
	return strings.ReplaceAll(addr.String(), ":", "-") + "." + addressZone6
}

// AddressOfDNSName is the inverse of AddressDNSName (lower case).
func AddressOfDNSName(name string) (netip.Addr, bool) {
	if label, ok := strings.CutSuffix(name, "."+addressZone4); ok && !strings.Contains(label, ".") {
		a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
		return a, err == nil && a.Is4()
	}
	if label, ok := strings.CutSuffix(name, "."+addressZone6); ok && !strings.Contains(label, ".") {
		a, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
		return a, err == nil && a.Is6() && !a.Is4In6() && a.Zone() == ""
	}
	return netip.Addr{}, false
}

// FormatEndpoints is an upstream's value in the endpoints ConfigMap: one
// "ADDRESS:PORT" a line ("[fd00::1]:80" for IPv6), sorted, no duplicates,
// "" for none. The same set always gives the same bytes, so an unchanged
// set never updates the object.
func FormatEndpoints(eps []netip.AddrPort) string {
	eps = slices.Clone(eps)
	slices.SortFunc(eps, func(a, b netip.AddrPort) int {
		return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Port(), b.Port()))
	})
	eps = slices.Compact(eps)
	var b strings.Builder
	for _, e := range eps {
		b.WriteString(e.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseEndpoints reads a value written by FormatEndpoints. A line that is
// not an address and a port in 1..65535 is an error naming it.
func ParseEndpoints(s string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(line)
		if err != nil || ap.Port() == 0 || ap.Addr().Zone() != "" {
			return nil, fmt.Errorf("endpoint %q is not ADDRESS:PORT", line)
		}
		out = append(out, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
	}
	return out, nil
}
