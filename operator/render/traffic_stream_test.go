package render

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// startTCPEcho serves on 127.0.0.1: each connection first gets the
// backend's name and a newline, then its bytes echoed back.
func startTCPEcho(t *testing.T, name string, tlsConfig *tls.Config) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsConfig != nil {
		l = tls.NewListener(l, tlsConfig)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := fmt.Fprintf(c, "%s\n", name); err != nil {
					return
				}
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// tcpHello connects, reads the backend's name line and checks the echo.
// It returns "" when nginx closes the connection without a backend.
func tcpHello(t *testing.T, addr string, tlsConfig *tls.Config) (string, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 2 * time.Second}
	var c net.Conn
	var err error
	if tlsConfig != nil {
		c, err = tls.DialWithDialer(d, "tcp", addr, tlsConfig)
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	name, err := r.ReadString('\n')
	if errors.Is(err, io.EOF) && name == "" {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	if echo, err := r.ReadString('\n'); err != nil || echo != "ping\n" {
		return "", fmt.Errorf("echo %q, %v", echo, err)
	}
	return strings.TrimSpace(name), nil
}

// TestTrafficStream runs the rendered stream config in nginx: TCP
// connections shared by weight (and the share of a backend without
// endpoints closed), UDP datagrams with several answers each, TLS
// passthrough routed by server name with the backend's own certificate
// reaching the client, and names no route takes closed.
func TestTrafficStream(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a, b := startTCPEcho(t, "a", nil), startTCPEcho(t, "b", nil)
	udp := testenv.UDPEcho(t, "u")
	certA, keyA := testenv.SelfSignedCert(t, "a.example.com")
	certB, keyB := testenv.SelfSignedCert(t, "b.example.com", "*.wild.example.com")
	pairA, err := tls.X509KeyPair(certA, keyA)
	if err != nil {
		t.Fatal(err)
	}
	pairB, err := tls.X509KeyPair(certB, keyB)
	if err != nil {
		t.Fatal(err)
	}
	tlsA := startTCPEcho(t, "tls-a", &tls.Config{Certificates: []tls.Certificate{pairA}})
	tlsB := startTCPEcho(t, "tls-b", &tls.Config{Certificates: []tls.Certificate{pairB}})

	// Certificates nginx terminates with.
	termA, termAKey := testenv.SelfSignedCert(t, "term-a.example.com")
	termB, termBKey := testenv.SelfSignedCert(t, "term-b.example.com")
	webCert, webKey := testenv.SelfSignedCert(t, "www.example.com")
	web := startEcho(t, "web")

	addr, tcpPort := testenv.FreeLoopbackAddr(t)
	tlsPort, closedPort, terminatePort, mixedPort := tcpPort+1, tcpPort+2, tcpPort+3, tcpPort+4
	gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(), Certificates: []model.Certificate{
		{Name: "term_a", CertPEM: termA, KeyPEM: termAKey}, {Name: "term_b", CertPEM: termB, KeyPEM: termBKey},
		{Name: "web", CertPEM: webCert, KeyPEM: webKey}}}
	// The access log subtest reads the text format, so that it stays tested
	// with traffic; plugin/logs parses the JSON default of real sessions.
	gw.Settings.AccessLogFormat = "text"
	// An HTTPS listener shares the mixed port: its server listens behind
	// the stream server.
	gw.Upstreams = []model.Upstream{web.upstream()}
	gw.HTTPServers = []model.HTTPServer{
		{Port: mixedPort, Default: true, TLS: &model.ServerTLS{}},
		{Port: mixedPort, Hostname: "www.example.com", TLS: &model.ServerTLS{CertificateNames: []string{"web"}},
			Locations: []model.Location{prefix("/", always(proxyRule("r0", "web", web.upstream().Name)))}},
	}
	withCert := func(name string) *model.ServerTLS { return &model.ServerTLS{CertificateNames: []string{name}} }
	gw.StreamUpstreams = []model.Upstream{
		upstream("a"), upstream("b"), upstream("empty"), upstream("tls_a"), upstream("tls_b"), upstream("udp"),
	}
	// "empty" has no endpoints: the sidecar's DNS resolves it to a closed
	// port, which refuses its connections.
	endpoints := endpointsOf(web.endpoints(), endpointdns.Table{
		"empty": nil, "a": loopback(a), "b": loopback(b), "tls_a": loopback(tlsA), "tls_b": loopback(tlsB), "udp": loopback(udp)})
	gw.StreamServers = []model.StreamServer{
		{Port: tcpPort, Protocol: model.StreamTCP, Routes: []model.StreamRoute{{ID: "tcp0", Route: streamRoute("TCPRoute", "split"),
			Backends: []model.Backend{backend("a", 6), backend("b", 2), backend("empty", 2)}}}},
		{Port: tcpPort, Protocol: model.StreamUDP, Routes: []model.StreamRoute{{ID: "udp0", Route: streamRoute("UDPRoute", "u"),
			Backends: []model.Backend{backend("udp", 1)}}}},
		{Port: tlsPort, Protocol: model.StreamTLS, Routes: []model.StreamRoute{
			{ID: "tls0", Hostname: "a.example.com", Route: streamRoute("TLSRoute", "a"), Backends: []model.Backend{backend("tls_a", 1)}},
			{ID: "tls1", Hostname: "*.wild.example.com", Route: streamRoute("TLSRoute", "b"), Backends: []model.Backend{backend("tls_b", 1)}},
			{ID: "tls2", Hostname: "isolated.wild.example.com"},
		}},
		{Port: closedPort, Protocol: model.StreamTCP},
		{Port: terminatePort, Protocol: model.StreamTLS, Routes: []model.StreamRoute{
			{ID: "tls3", Hostname: "term-a.example.com", Route: streamRoute("TLSRoute", "term-a"), Backends: []model.Backend{backend("a", 1)}, TLS: withCert("term_a")},
			{ID: "tls4", Hostname: "term-b.example.com", Route: streamRoute("TLSRoute", "term-b"), Backends: []model.Backend{backend("b", 1)}, TLS: withCert("term_b")},
		}},
		{Port: mixedPort, Protocol: model.StreamTLS, HTTPS: []string{"www.example.com"}, Routes: []model.StreamRoute{
			{ID: "tls5", Hostname: "a.example.com", Route: streamRoute("TLSRoute", "mixed-pass"), Backends: []model.Backend{backend("tls_a", 1)}},
			{ID: "tls6", Hostname: "term-b.example.com", Route: streamRoute("TLSRoute", "mixed-term"), Backends: []model.Backend{backend("b", 1)}, TLS: withCert("term_b")},
		}},
	}
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpoints, addr, tcpPort, tlsPort, closedPort, terminatePort, mixedPort)
	at := func(port int32) string { return fmt.Sprintf("%s:%d", addr, port) }

	t.Run("tcp by weight", func(t *testing.T) {
		counts := map[string]int{}
		const total = 400
		for range total {
			name, err := tcpHello(t, at(tcpPort), nil)
			if err != nil {
				t.Fatal(err)
			}
			counts[name]++
		}
		t.Logf("connections per backend (\"\" closed): %v", counts)
		// Shares 60/20/20: each count is binomial, its standard deviation
		// at most 10 connections here; 4 of them is the tolerance.
		for name, want := range map[string]int{"a": 240, "b": 80, "": 80} {
			if got := counts[name]; got < want-40 || got > want+40 {
				t.Errorf("backend %q got %d of %d connections, want about %d (all: %v)", name, got, total, want, counts)
			}
		}
	})

	t.Run("udp answers", func(t *testing.T) {
		c, err := net.Dial("udp", at(tcpPort))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		for _, payload := range []string{"first", "second"} {
			if _, err := c.Write([]byte(payload)); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2048)
			for i := 1; i <= 3; i++ {
				k, err := c.Read(buf)
				if err != nil {
					t.Fatalf("answer %d to %q: %v", i, payload, err)
				}
				if want := fmt.Sprintf("u %d %s", i, payload); string(buf[:k]) != want {
					t.Errorf("answer %q, want %q", buf[:k], want)
				}
			}
		}
	})

	t.Run("tls passthrough by server name", func(t *testing.T) {
		for _, tc := range []struct{ sni, backend string }{
			{"a.example.com", "tls-a"},
			{"x.wild.example.com", "tls-b"},
			{"isolated.wild.example.com", ""},
			{"unknown.example.org", ""},
		} {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(certA)
			pool.AppendCertsFromPEM(certB)
			name, err := tcpHello(t, at(tlsPort), &tls.Config{ServerName: tc.sni, RootCAs: pool})
			if tc.backend == "" {
				if err == nil && name != "" {
					t.Errorf("%s: reached %q, want the connection closed", tc.sni, name)
				}
				continue
			}
			// The handshake verified the backend's own certificate for
			// the name: nginx did not terminate TLS.
			if err != nil || name != tc.backend {
				t.Errorf("%s: got %q, %v; want backend %s", tc.sni, name, err, tc.backend)
			}
		}
	})

	t.Run("tls terminated by server name", func(t *testing.T) {
		// The client trusts only the certificate nginx must present for
		// the name; the backend behind speaks cleartext.
		for _, tc := range []struct {
			port         int32
			sni, backend string
			cert         []byte
		}{
			{terminatePort, "term-a.example.com", "a", termA},
			{terminatePort, "term-b.example.com", "b", termB},
			{mixedPort, "term-b.example.com", "b", termB},
			{mixedPort, "a.example.com", "tls-a", certA},
		} {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(tc.cert)
			name, err := tcpHello(t, at(tc.port), &tls.Config{ServerName: tc.sni, RootCAs: pool})
			if err != nil || name != tc.backend {
				t.Errorf("port %d, %s: got %q, %v; want backend %s", tc.port, tc.sni, name, err, tc.backend)
			}
		}
	})

	t.Run("https on the tls port", func(t *testing.T) {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(webCert)
		client := pinnedHTTPSClient(t, at(mixedPort), &tls.Config{RootCAs: pool})
		resp, err := client.Get(fmt.Sprintf("https://www.example.com:%d/x", mixedPort))
		if err != nil {
			t.Fatal(err)
		}
		var e echoed
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		// The client's address reached the HTTP server through the PROXY
		// protocol: nginx passes it on, not the unix socket's.
		if e.Backend != "web" || !strings.HasPrefix(e.Header.Get("X-Forwarded-For"), "127.") {
			t.Errorf("backend saw %+v", e)
		}
	})

	t.Run("no route closes", func(t *testing.T) {
		if name, err := tcpHello(t, at(closedPort), nil); err != nil || name != "" {
			t.Errorf("got %q, %v; want the connection closed", name, err)
		}
		// A name no listener of the mixed port takes: its front closes it.
		if name, err := tcpHello(t, at(mixedPort), &tls.Config{ServerName: "nobody.example.com"}); err == nil && name != "" {
			t.Errorf("mixed port, unknown name: reached %q, want the connection closed", name)
		}
	})

	t.Run("access log", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// A UDP session is logged when it ends, after its idle timeout:
		// not within this test.
		// The mixed port's internal servers log the client's address (PROXY
		// protocol), not the unix socket's.
		// backend is the upstream as nginx names it (upstreamRef).
		backend := func(name string) string { return fmt.Sprintf("backend=%q", upstreamRef(name)) }
		closed := `backend="ngo_closed" upstream="ngo_closed" reason="no listener or route takes this port and server name"`
		for _, want := range []string{`route="TCPRoute default/split" ` + backend("a"),
			// The split's share without endpoints.
			fmt.Sprintf(`route="TCPRoute default/split" %s upstream="%s" reason="no ready endpoints"`, backend("empty"), n.ClosedAddr),
			`route="TLSRoute default/term-a" ` + backend("a"),
			`route="TLSRoute default/mixed-term" ` + backend("b"),
			`route="TLSRoute default/mixed-pass" ` + backend("tls_a"),
			`server_name="a.example.com" route="TLSRoute default/a" ` + backend("tls_a"),
			// Closed at once, with the reason: no route on the port; a
			// name no listener takes, on a passthrough port and on the
			// mixed port's front; a listener hostname without route.
			`server_name="-" route="" ` + closed,
			`server_name="unknown.example.org" route="" ` + closed,
			`server_name="nobody.example.com" route="" ` + closed,
			`server_name="isolated.wild.example.com" route="" ` + closed,
		} {
			if !n.WaitForLog(ctx, want) {
				t.Errorf("no access log line with %s", want)
			}
		}
		// The closed sessions are logged with their listener's port.
		for port, sni := range map[int32]string{closedPort: "-", tlsPort: "unknown.example.org", mixedPort: "nobody.example.com"} {
			found := false
			for _, line := range strings.Split(n.Logs(), "\n") {
				found = found || strings.Contains(line, fmt.Sprintf("] TCP %d 502 ", port)) && strings.Contains(line, fmt.Sprintf(`server_name=%q route="" `, sni)+closed)
			}
			if !found {
				t.Errorf("no line for the closed session with server name %s on port %d", sni, port)
			}
		}
		mixed := fmt.Sprintf("] TCP %d ", mixedPort)
		for _, line := range strings.Split(n.Logs(), "\n") {
			if strings.Contains(line, "default/mixed-") && !strings.HasPrefix(line, "127.") {
				t.Errorf("a session handed on with the PROXY protocol is logged without the client's address: %s", line)
			}
			if strings.Contains(line, "default/mixed-") && !strings.Contains(line, mixed) {
				t.Errorf("a session handed on to an internal server is logged without its listener port %d: %s", mixedPort, line)
			}
			if strings.Contains(line, `server_name="www.example.com"`) {
				t.Errorf("the mixed port's front logs a session it handed on: %s", line)
			}
		}
	})
}
