package dataplane

import (
	"net/netip"
	"strings"
	"testing"
)

func TestUpstreamDNSNameRoundTrip(t *testing.T) {
	long := strings.Repeat("a", 63) + "_" + strings.Repeat("b", 63) + "_8080"
	for _, up := range []string{"default_echo_80", long, strings.Repeat("x", 63)} {
		name := UpstreamDNSName(up)
		for _, l := range strings.Split(name, ".") {
			if len(l) > 63 {
				t.Errorf("%s: label %q over 63 bytes", name, l)
			}
		}
		if got, ok := UpstreamOfDNSName(name + "."); !ok || got != up {
			t.Errorf("UpstreamOfDNSName(%q) = %q, %v; want %q", name, got, ok, up)
		}
	}
	if _, ok := UpstreamOfDNSName("a.b." + EndpointsDNSDomain); ok {
		t.Error("a name whose first label is shorter than 63 bytes is no upstream's")
	}
}

func TestAddressDNSNameRoundTrip(t *testing.T) {
	for _, s := range []string{"10.1.2.3", "fd00::1", "2001:db8:0:1::ff", "::ffff:10.0.0.1"} {
		a := netip.MustParseAddr(s)
		got, ok := AddressOfDNSName(AddressDNSName(a))
		if !ok || got != a.Unmap() {
			t.Errorf("%s → %s → %v %v", s, AddressDNSName(a), got, ok)
		}
	}
	if _, ok := AddressOfDNSName("1-2-3." + addressZone4); ok {
		t.Error("three octets are no address")
	}
}

func TestFormatEndpointsIsSortedAndParses(t *testing.T) {
	eps := []netip.AddrPort{
		netip.MustParseAddrPort("[fd00::1]:80"), netip.MustParseAddrPort("10.0.0.2:80"),
		netip.MustParseAddrPort("10.0.0.1:81"), netip.MustParseAddrPort("10.0.0.2:80"),
	}
	got := FormatEndpoints(eps)
	if want := "10.0.0.1:81\n10.0.0.2:80\n[fd00::1]:80\n"; got != want {
		t.Fatalf("FormatEndpoints = %q, want %q", got, want)
	}
	back, err := ParseEndpoints(got)
	if err != nil || len(back) != 3 {
		t.Fatalf("ParseEndpoints: %v %v", back, err)
	}
	for _, bad := range []string{"10.0.0.1", "10.0.0.1:0", "[fe80::1%eth0]:80", "host:80"} {
		if _, err := ParseEndpoints(bad); err == nil {
			t.Errorf("ParseEndpoints(%q) accepted", bad)
		}
	}
}

// The closed address is the closed port on the pod's loopback, below the
// ephemeral range (no outgoing connection may take it as its local port).
func TestClosedAddrIsClosedPortOnLoopback(t *testing.T) {
	ap := netip.MustParseAddrPort(ClosedAddr)
	if !ap.Addr().IsLoopback() || ap.Port() != ClosedPort {
		t.Errorf("ClosedAddr %s is not loopback:%d", ClosedAddr, ClosedPort)
	}
	if ClosedPort >= 32768 {
		t.Errorf("ClosedPort %d is in Linux's ephemeral range", ClosedPort)
	}
}
