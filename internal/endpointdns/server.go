package endpointdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// Table is the ready endpoints of each upstream, keyed by upstream name. A
// key with no endpoints is a known upstream without ready endpoints.
type Table map[string][]netip.AddrPort

// Server answers from the last Table set. Until the first Set it answers
// SERVFAIL, which makes nginx keep the addresses it has and ask again a
// second later: a sidecar that has not read the endpoints yet never empties
// nginx's upstreams.
type Server struct {
	// noEndpoints is where an HTTP upstream without endpoints resolves:
	// nginx's local 503 server (dataplane.NoEndpointsPort). closed is
	// where a stream upstream without endpoints resolves: an address
	// nothing listens on (dataplane.ClosedPort), so its connections are
	// refused at once. Either way the answer is a success, which nginx
	// asks again a second later; an empty answer or NXDOMAIN it would keep
	// for 10 s, and a Service's first ready endpoint would wait as long.
	noEndpoints, closed netip.AddrPort

	mu    sync.RWMutex
	table Table
	// srvAnswers counts the SRV answers given per upstream (SRVAnswers).
	srvAnswers map[string]int
	// changed is, per upstream whose answer a Set changed and that nginx
	// has not asked for since, when that Set happened (the earliest).
	changed map[string]time.Time
	// pickedUp, when set, gets the upstream and the time from such a Set
	// to nginx's next SRV query for it (SetPickupObserver).
	pickedUp func(upstream string, waited time.Duration)
}

// New returns a server without a table. noEndpoints is nginx's local 503
// server (127.0.0.1:dataplane.NoEndpointsPort in a gateway pod), closed an
// address where nothing listens for TCP or UDP
// (127.0.0.1:dataplane.ClosedPort).
func New(noEndpoints, closed netip.AddrPort) *Server {
	return &Server{noEndpoints: noEndpoints, closed: closed, srvAnswers: map[string]int{}, changed: map[string]time.Time{}}
}

// SetPickupObserver makes the server call f, for every upstream whose
// endpoints a Set changed, with the time until nginx next asked for them:
// how long nginx's own re-resolution timer adds to an endpoint change.
// Call it before serving.
func (s *Server) SetPickupObserver(f func(upstream string, waited time.Duration)) { s.pickedUp = f }

// Set replaces the table; the next query sees it.
func (s *Server) Set(t Table) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.table != nil { // the first table is no change nginx waits for
		for upstream, eps := range t {
			if _, pending := s.changed[upstream]; !pending && !slices.Equal(eps, s.table[upstream]) {
				s.changed[upstream] = now
			}
		}
	}
	for upstream := range s.changed {
		if _, ok := t[upstream]; !ok {
			delete(s.changed, upstream)
		}
	}
	s.table = t
}

// Synced reports whether a table was set.
func (s *Server) Synced() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.table != nil
}

// SRVAnswers is how many SRV answers upstream got. nginx asks again only
// once it has applied an answer, so a second answer means nginx holds the
// first: tests wait for it before they send traffic.
func (s *Server) SRVAnswers(upstream string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.srvAnswers[upstream]
}

// ListenAndServe serves UDP and TCP on addr (host:port) until ctx ends.
// It returns once both listeners are bound, or with the error of binding.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return err
	}
	servers := []*dns.Server{
		{PacketConn: pc, Handler: s, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second},
		{Listener: ln, Handler: s, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second},
	}
	for _, srv := range servers {
		go func() { _ = srv.ActivateAndServe() }()
	}
	go func() {
		<-ctx.Done()
		for _, srv := range servers {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = srv.ShutdownContext(sctx)
			cancel()
		}
	}()
	return nil
}

// ServeDNS answers one query (dns.Handler).
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := s.answer(req)
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		// nginx asks without EDNS: an answer over 512 bytes is cut with
		// the TC bit, and nginx asks again over TCP.
		resp.Truncate(dns.MinMsgSize)
	}
	_ = w.WriteMsg(resp)
}

func (s *Server) answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.Authoritative = true
	resp.Compress = true
	if req.Opcode != dns.OpcodeQuery || len(req.Question) != 1 {
		resp.Rcode = dns.RcodeNotImplemented
		return resp
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	if q.Qclass != dns.ClassINET || !dns.IsSubDomain(dataplane.EndpointsDNSDomain, name) {
		resp.Rcode = dns.RcodeRefused // not ours: we resolve nothing else
		return resp
	}
	if addr, ok := dataplane.AddressOfDNSName(name); ok {
		// An address name stands for its address alone, whatever the
		// table says: an SRV answer and the address query after it never
		// disagree.
		if rr := addressRecord(q.Name, q.Qtype, addr); rr != nil {
			resp.Answer = append(resp.Answer, rr)
		}
		return resp
	}
	service, upstream, ok := splitSRVName(name)
	s.mu.Lock()
	table := s.table
	eps, known := table[upstream]
	var waited time.Duration
	if ok && known && q.Qtype == dns.TypeSRV {
		s.srvAnswers[upstream]++
		if at, pending := s.changed[upstream]; pending {
			waited = time.Since(at)
			delete(s.changed, upstream)
		}
	}
	s.mu.Unlock()
	if waited > 0 && s.pickedUp != nil {
		s.pickedUp(upstream, waited)
	}
	switch {
	case table == nil:
		resp.Rcode = dns.RcodeServerFailure
		return resp
	case !ok || !known:
		resp.Rcode = dns.RcodeNameError
		return resp
	case q.Qtype != dns.TypeSRV && q.Qtype != dns.TypeANY:
		return resp // the name exists, with SRV records only
	}
	if len(eps) == 0 {
		switch service {
		case dataplane.EndpointsSRVService:
			eps = []netip.AddrPort{s.noEndpoints}
		case dataplane.EndpointsStreamSRVService:
			eps = []netip.AddrPort{s.closed}
		}
	}
	for _, ep := range eps {
		resp.Answer = append(resp.Answer, &dns.SRV{
			Hdr:      dns.RR_Header{Name: q.Name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 0},
			Priority: 0, Weight: 1, Port: ep.Port(),
			Target: dataplane.AddressDNSName(ep.Addr()),
		})
	}
	return resp
}

// splitSRVName reads "_SERVICE._tcp.<upstream DNS name>".
func splitSRVName(name string) (service, upstream string, ok bool) {
	labels := dns.SplitDomainName(name)
	if len(labels) < 3 || !strings.HasPrefix(labels[0], "_") || labels[1] != "_tcp" {
		return "", "", false
	}
	rest := strings.Join(labels[2:], ".") + "."
	upstream, ok = dataplane.UpstreamOfDNSName(rest)
	return labels[0][1:], upstream, ok
}

func addressRecord(name string, qtype uint16, addr netip.Addr) dns.RR {
	hdr := dns.RR_Header{Name: name, Class: dns.ClassINET, Ttl: 0}
	switch {
	case addr.Is4() && (qtype == dns.TypeA || qtype == dns.TypeANY):
		hdr.Rrtype = dns.TypeA
		return &dns.A{Hdr: hdr, A: addr.AsSlice()}
	case addr.Is6() && (qtype == dns.TypeAAAA || qtype == dns.TypeANY):
		hdr.Rrtype = dns.TypeAAAA
		return &dns.AAAA{Hdr: hdr, AAAA: addr.AsSlice()}
	}
	return nil
}

// ParseTable reads an endpoints ConfigMap's data (dataplane.FormatEndpoints
// per upstream). A value that does not parse is an error naming its key;
// the other upstreams are still in the table.
func ParseTable(data map[string]string) (Table, error) {
	t := make(Table, len(data))
	var errs []error
	for upstream, value := range data {
		eps, err := dataplane.ParseEndpoints(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %s: %w", upstream, err))
		}
		t[upstream] = eps
	}
	return t, errors.Join(errs...)
}

// Table is a copy of the table answered now (nil before the first Set),
// for inspection.
func (s *Server) Table() Table {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.table == nil {
		return nil
	}
	out := make(Table, len(s.table))
	for k, v := range s.table {
		out[k] = slices.Clone(v)
	}
	return out
}
