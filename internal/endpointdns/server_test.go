package endpointdns

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// startServer serves s on a free loopback port and returns its address.
// A port free for UDP may be taken for TCP: it tries a few.
func startServer(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var err error
	for range 10 {
		var l net.PacketConn
		if l, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		addr := l.LocalAddr().String()
		l.Close()
		if err = s.ListenAndServe(ctx, addr); err == nil {
			return addr
		}
	}
	t.Fatal(err)
	return ""
}

func query(t *testing.T, addr, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	c := &dns.Client{Net: network}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, dns.TypeToString[qtype], name, err)
	}
	return resp
}

func srvName(upstream string) string {
	return srvNameOf(dataplane.EndpointsSRVService, upstream)
}

func srvNameOf(service, upstream string) string {
	return "_" + service + "._tcp." + dataplane.UpstreamDNSName(upstream) + "."
}

// newServer is a server whose no-endpoints and closed addresses are those
// of a gateway pod.
func newServer() *Server {
	return New(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dataplane.NoEndpointsPort),
		netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dataplane.ClosedPort))
}

func TestServerAnswersSRVAndAddresses(t *testing.T) {
	s := newServer()
	addr := startServer(t, s)
	a := netip.MustParseAddrPort("10.1.2.3:8080")
	b := netip.MustParseAddrPort("[fd00::7]:9090")
	s.Set(Table{"default_echo_80": {a, b}, "default_empty_80": nil})

	resp := query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV)
	if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative {
		t.Fatalf("SRV: rcode %s, authoritative %v", dns.RcodeToString[resp.Rcode], resp.Authoritative)
	}
	var got []string
	for _, rr := range resp.Answer {
		srv := rr.(*dns.SRV)
		if srv.Hdr.Ttl != 0 {
			t.Errorf("TTL %d, want 0 (nginx re-resolves a second after the answer)", srv.Hdr.Ttl)
		}
		target := query(t, addr, "udp", srv.Target, dns.TypeA)
		target6 := query(t, addr, "udp", srv.Target, dns.TypeAAAA)
		for _, rr := range append(target.Answer, target6.Answer...) {
			var ip net.IP
			switch rr := rr.(type) {
			case *dns.A:
				ip = rr.A
			case *dns.AAAA:
				ip = rr.AAAA
			}
			ipa, _ := netip.AddrFromSlice(ip)
			got = append(got, netip.AddrPortFrom(ipa.Unmap(), srv.Port).String())
		}
	}
	slices.Sort(got)
	if want := []string{a.String(), b.String()}; !slices.Equal(got, want) {
		t.Errorf("resolved %v, want %v", got, want)
	}

	// A known upstream without endpoints resolves to nginx's local 503 server.
	resp = query(t, addr, "udp", srvName("default_empty_80"), dns.TypeSRV)
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.SRV).Port != 8054 ||
		resp.Answer[0].(*dns.SRV).Target != dataplane.AddressDNSName(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("empty upstream: %v, want one SRV to 127.0.0.1:8054", resp.Answer)
	}
	// Other services of an empty upstream get no records.
	resp = query(t, addr, "udp", srvNameOf("other", "default_empty_80"), dns.TypeSRV)
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("empty upstream, other service: %s %v, want NOERROR without records", dns.RcodeToString[resp.Rcode], resp.Answer)
	}

	for name, want := range map[string]int{
		srvName("default_unknown_80"):             dns.RcodeNameError,
		"www.example.com.":                        dns.RcodeRefused,
		"nothing." + dataplane.EndpointsDNSDomain: dns.RcodeNameError,
	} {
		if resp := query(t, addr, "udp", name, dns.TypeSRV); resp.Rcode != want {
			t.Errorf("%s: rcode %s, want %s", name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[want])
		}
	}
	// An IPv4 address name has no AAAA record, and the other way round.
	if resp := query(t, addr, "udp", dataplane.AddressDNSName(a.Addr())+"", dns.TypeAAAA); resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 0 {
		t.Errorf("AAAA of an IPv4 name: %s %v", dns.RcodeToString[resp.Rcode], resp.Answer)
	}
}

// A stream upstream without endpoints resolves to the closed port, with
// TTL 0: a success, which nginx asks again a second later, where an empty
// answer or NXDOMAIN would be kept 10 s. Its endpoints, once ready, are
// answered as for HTTP.
func TestServerAnswersClosedPortForStreamUpstreamWithoutEndpoints(t *testing.T) {
	s := newServer()
	addr := startServer(t, s)
	s.Set(Table{"default_tcp_9000": nil})
	name := srvNameOf(dataplane.EndpointsStreamSRVService, "default_tcp_9000")
	for _, network := range []string{"udp", "tcp"} {
		resp := query(t, addr, network, name, dns.TypeSRV)
		if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 {
			t.Fatalf("%s: %s %v, want one SRV record", network, dns.RcodeToString[resp.Rcode], resp.Answer)
		}
		srv := resp.Answer[0].(*dns.SRV)
		if srv.Port != dataplane.ClosedPort || srv.Target != dataplane.AddressDNSName(netip.MustParseAddr("127.0.0.1")) || srv.Hdr.Ttl != 0 {
			t.Errorf("%s: %v, want 127.0.0.1:%d with TTL 0", network, srv, dataplane.ClosedPort)
		}
	}
	ready := netip.MustParseAddrPort("10.1.2.3:9000")
	s.Set(Table{"default_tcp_9000": {ready}})
	resp := query(t, addr, "udp", name, dns.TypeSRV)
	if len(resp.Answer) != 1 || resp.Answer[0].(*dns.SRV).Port != ready.Port() ||
		resp.Answer[0].(*dns.SRV).Target != dataplane.AddressDNSName(ready.Addr()) {
		t.Errorf("with an endpoint: %v, want one SRV to %s", resp.Answer, ready)
	}
}

func TestServerFailsUntilSynced(t *testing.T) {
	s := newServer()
	addr := startServer(t, s)
	if resp := query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV); resp.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before the first table: rcode %s, want SERVFAIL (nginx keeps what it has)", dns.RcodeToString[resp.Rcode])
	}
	s.Set(Table{"default_echo_80": {netip.MustParseAddrPort("10.0.0.1:80")}})
	if resp := query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV); len(resp.Answer) != 1 {
		t.Fatalf("after Set: %v", resp.Answer)
	}
}

// A large upstream does not fit 512 bytes of UDP: the answer is truncated
// and complete over TCP, as nginx asks again.
func TestServerTruncatesToTCP(t *testing.T) {
	s := newServer()
	addr := startServer(t, s)
	var eps []netip.AddrPort
	for i := range 200 {
		eps = append(eps, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i % 250)}), 8080))
	}
	s.Set(Table{"default_big_80": eps})
	udp := query(t, addr, "udp", srvName("default_big_80"), dns.TypeSRV)
	if !udp.Truncated {
		t.Errorf("UDP answer of 200 records not truncated (%d records)", len(udp.Answer))
	}
	tcp := query(t, addr, "tcp", srvName("default_big_80"), dns.TypeSRV)
	if len(tcp.Answer) != 200 {
		t.Errorf("TCP answer has %d records, want 200", len(tcp.Answer))
	}
}

func TestParseTable(t *testing.T) {
	eps := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.2:80"), netip.MustParseAddrPort("10.0.0.1:80")}
	table, err := ParseTable(map[string]string{"a": dataplane.FormatEndpoints(eps), "b": "", "c": "nonsense\n"})
	if err == nil {
		t.Error("a value that is no endpoint list parsed")
	}
	if len(table["a"]) != 2 || table["a"][0] != eps[1] {
		t.Errorf("a: %v (sorted by FormatEndpoints)", table["a"])
	}
	if _, ok := table["b"]; !ok {
		t.Error("an upstream without endpoints must stay known")
	}
}

// TestServerReportsPickup: the observer gets, once per changed upstream,
// the time from the Set that changed it to nginx's next SRV query; the
// first table, an unchanged upstream and a second query report nothing.
func TestServerReportsPickup(t *testing.T) {
	s := newServer()
	var (
		mu     sync.Mutex
		picked []time.Duration
	)
	s.SetPickupObserver(func(_ string, d time.Duration) { mu.Lock(); picked = append(picked, d); mu.Unlock() })
	addr := startServer(t, s)
	a, b := netip.MustParseAddrPort("10.1.2.3:8080"), netip.MustParseAddrPort("10.1.2.4:8080")
	s.Set(Table{"default_echo_80": {a}, "default_other_80": {a}})
	query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV)
	pickups := func() []time.Duration { mu.Lock(); defer mu.Unlock(); return slices.Clone(picked) }
	if got := pickups(); len(got) != 0 {
		t.Fatalf("the first table reported pickups %v", got)
	}
	s.Set(Table{"default_echo_80": {a, b}, "default_other_80": {a}})
	wait := 20 * time.Millisecond
	time.Sleep(wait)
	query(t, addr, "udp", srvName("default_other_80"), dns.TypeSRV) // unchanged
	query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV)
	query(t, addr, "udp", srvName("default_echo_80"), dns.TypeSRV) // already picked up
	if got := pickups(); len(got) != 1 || got[0] < wait {
		t.Errorf("pickups %v, want one of at least %v (the changed upstream's first query)", got, wait)
	}
}
