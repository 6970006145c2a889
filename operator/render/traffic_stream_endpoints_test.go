package render

import (
	"net"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// streamFirstEndpointBound is how long a stream upstream's first ready
// endpoint may take to serve. nginx re-resolves a successful answer a
// second after it, so about a second is expected; the bound is loose for a
// loaded machine, yet below the 10 s nginx keeps an empty answer or
// NXDOMAIN, which is what a Service without endpoints got before the
// sidecar answered the closed port.
const streamFirstEndpointBound = 6 * time.Second

// TestTrafficStreamFirstEndpointServesWithinSeconds runs TCP and UDP
// upstreams without endpoints in nginx (connections closed at once,
// datagrams unanswered), then gives each its first endpoint: both serve
// within streamFirstEndpointBound, without a reload.
func TestTrafficStreamFirstEndpointServesWithinSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	tcpEcho, udpEcho := startTCPEcho(t, "late", nil), testenv.UDPEcho(t, "late")
	addr, port := testenv.FreeLoopbackAddr(t)
	gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(),
		StreamUpstreams: []model.Upstream{upstream("late"), upstream("late_udp")},
		StreamServers: []model.StreamServer{
			{Port: port, Protocol: model.StreamTCP, Routes: []model.StreamRoute{{ID: "tcp0", Route: streamRoute("TCPRoute", "late"),
				Backends: []model.Backend{backend("late", 1)}}}},
			{Port: port, Protocol: model.StreamUDP, Routes: []model.StreamRoute{{ID: "udp0", Route: streamRoute("UDPRoute", "late"),
				Backends: []model.Backend{backend("late_udp", 1)}}}},
		}}
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	// As the operator publishes them: known upstreams, no endpoints yet.
	// startNginx returns once nginx applied that answer.
	n := startNginx(t, files, endpointdns.Table{"late": nil, "late_udp": nil}, addr, port)
	at := net.JoinHostPort(addr, itoa(port))

	if name, err := tcpHello(t, at, nil); err != nil || name != "" {
		t.Fatalf("without endpoints: got %q, %v; want the connection closed", name, err)
	}
	if answer, ok := udpExchange(t, at, "hello", time.Second); ok {
		t.Fatalf("without endpoints: UDP answer %q, want none", answer)
	}

	n.DNS.Set(endpointdns.Table{"late": loopback(tcpEcho), "late_udp": loopback(udpEcho)})
	start := time.Now()
	var tcpAfter, udpAfter time.Duration
	for (tcpAfter == 0 || udpAfter == 0) && time.Since(start) < streamFirstEndpointBound {
		if tcpAfter == 0 {
			if name, err := tcpHello(t, at, nil); err == nil && name == "late" {
				tcpAfter = time.Since(start)
			}
		}
		if udpAfter == 0 {
			if answer, ok := udpExchange(t, at, "hello", 100*time.Millisecond); ok && answer == "late 1 hello" {
				udpAfter = time.Since(start)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("first endpoint serves after: TCP %v, UDP %v (0: not within %v)", tcpAfter, udpAfter, streamFirstEndpointBound)
	if tcpAfter == 0 || udpAfter == 0 {
		t.Errorf("a stream upstream's first endpoint did not serve within %v (TCP %v, UDP %v)\n%s",
			streamFirstEndpointBound, tcpAfter, udpAfter, n.Logs())
	}
}

// udpExchange sends payload from a fresh socket (a new nginx session) and
// returns the first answer, or false when none came within wait.
func udpExchange(t *testing.T, addr, payload string, wait time.Duration) (string, bool) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(payload)); err != nil {
		return "", false
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	k, err := c.Read(buf)
	if err != nil {
		return "", false
	}
	return string(buf[:k]), true
}
