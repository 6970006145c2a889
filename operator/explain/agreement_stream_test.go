package explain_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
)

// streamConnections are the connections TestConnectionsAgreeWithNginx
// makes to testdata/stream.yaml's Gateway, by the ports of the file.
var streamConnections = []string{
	"tcp://gw:5300", "udp://gw:5300", "tcp://gw:5301", "tls://gw:5300",
	"tls://a.example.com:443", "tls://a.b.example.com:443", "tls://exact.example.com:443", "tls://isolated.example.com:443",
	"tls://secure.example.com:443", "tls://www.example.com:443", "tls://nothing.test:443", "tls://127.0.0.1:443",
	"tls://secure.example.com:8443", "tls://other.test:8443", "tls://127.0.0.1:8443",
	"tls://db.example.com:8444", "tls://x.db.example.com:8444", "tls://other.test:8444", "tcp://gw:8444",
}

// TestConnectionsAgreeWithNginx renders testdata/stream.yaml (TCP, UDP, TLS
// passthrough, terminate and a port shared with HTTPS) as the operator
// does, runs nginx on it, makes each connection of streamConnections, and
// checks that the route and backend nginx logs for it (or that it logs
// nothing, on a shared TLS port's front server) are what
// ExplainConnection says, and that nginx completes the TLS handshake
// exactly when the answer terminates TLS or hands it to HTTPS. The
// backends' endpoints are 127.0.0.1:1, where nothing listens: each session
// ends at once and is logged.
func TestConnectionsAgreeWithNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	in, _, err := rendercmd.ReadInput([]string{filepath.Join(testenv.RepoRoot(), "operator", "explain", "testdata", "stream.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	// Free ports (the TLS ports' unix sockets are named by port, in a
	// folder every nginx of this machine's tests shares).
	addr, _ := testenv.FreeLoopbackAddr(t)
	moved := map[int32]int32{}
	var listening []int32
	for i := range in.Gateways[0].Spec.Listeners {
		l := &in.Gateways[0].Spec.Listeners[i]
		if moved[l.Port] == 0 {
			moved[l.Port] = freePort(t, addr)
			listening = append(listening, moved[l.Port])
		}
		l.Port = moved[l.Port]
	}
	// A UDP session is logged only when it ends (60 s idle): UDP is checked
	// by the answer of a backend that says who it is.
	udpBackend := testenv.UDPEcho(t, "dns")
	for i := range in.EndpointSlices {
		if es := &in.EndpointSlices[i]; es.Name == "dns-1" {
			es.Ports[0].Port = &udpBackend
		}
	}
	cert, key := testenv.SelfSignedCert(t, "secure.example.com", "*.example.com", "www.example.com")
	in.Secrets = append(in.Secrets, corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "cert"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}})

	nn := types.NamespacedName{Namespace: "shop", Name: "stream"}
	piped := pipeline.Run(in)
	gw := gatewayOf(t, piped, nn, false) // shop/weighted's missing Service is on purpose
	if err := piped.Errors[nn]; err != nil {
		t.Fatalf("rendering: %v", err)
	}
	tree := maps.Clone(piped.Files[nn].Config)
	maps.Copy(tree, piped.Files[nn].Secret)
	n := testenv.StartNginx(t, tree, testenv.EndpointsTable(gw.Endpoints), addr, listening...)

	for _, raw := range streamConnections {
		t.Run(raw, func(t *testing.T) {
			c, err := explain.NewConnection(raw)
			if err != nil {
				t.Fatal(err)
			}
			c.Port = moved[c.Port]
			said := explain.ExplainConnection(gw.Model, gw.Endpoints, c)
			before := len(accessEntries(t, n.Logs()))
			handshake, answer := connect(t, addr, c)
			if c.Transport == "UDP" {
				want := "" // no answer: no backend took the datagram
				if said.Response.Outcome == explain.OutcomeProxied && said.Response.Backends[0].Service == "shop/dns:53" {
					want = "dns 1 ping"
				}
				if answer != want {
					t.Errorf("the UDP backend %q answered; explain says %s to %+v", answer, said.Response.Outcome, said.Response.Backends)
				}
				return
			}
			terminates := said.Stream != nil && (said.Stream.Mode == "terminate" || said.Stream.Mode == "https") && c.TLS && said.Response.Outcome != explain.OutcomeNoServer
			if c.TLS && handshake != terminates {
				t.Errorf("nginx completed the TLS handshake: %v; explain says %s (%+v)", handshake, said.Response.Outcome, said.Stream)
			}
			if said.Response.AccessLog == nil {
				// Nothing logs it: a later connection's line must be the next.
				marker, _ := explain.NewConnection("tcp://gw:5301")
				marker.Port = moved[marker.Port]
				_, _ = connect(t, addr, marker)
				if line := waitLogLine(t, n, before); line.Port != int(marker.Port) {
					t.Errorf("nginx logged %q; explain says nothing logs this connection (%s: %s)", line.Raw, said.Response.Outcome, said.Response.Why)
				}
				return
			}
			line := waitLogLine(t, n, before)
			wantBackend := said.Response.AccessLog.Backend
			for _, b := range said.Response.Backends {
				if wantBackend == "" && b.Log == line.Backend {
					wantBackend = b.Log // one of the split's shares
				}
			}
			if got, want := fmt.Sprintf("route=%q backend=%q", line.Route, line.Backend), fmt.Sprintf("route=%q backend=%q", said.Response.AccessLog.Route, wantBackend); got != want {
				t.Errorf("nginx logged %s, explain says %s (%s: %s)", got, want, said.Response.Outcome, said.Response.Why)
			}
		})
	}
}

// connect makes connection c to addr and waits until nginx ends it (the
// backends refuse); for TLS it reports whether the handshake completed,
// for UDP the answer to one datagram ("" for none).
func connect(t *testing.T, addr string, c explain.Connection) (handshake bool, answer string) {
	t.Helper()
	target := net.JoinHostPort(addr, fmt.Sprint(c.Port))
	conn, err := net.DialTimeout(strings.ToLower(c.Transport), target, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	switch {
	case c.Transport == "UDP":
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		if n, err := conn.Read(buf); err == nil {
			answer = string(buf[:n])
		}
	case c.TLS:
		tc := tls.Client(conn, &tls.Config{ServerName: c.SNI, InsecureSkipVerify: true}) // the test's own certificate
		handshake = tc.Handshake() == nil
		_, _ = io.Copy(io.Discard, tc)
	default:
		_, _ = io.Copy(io.Discard, conn)
	}
	return handshake, answer
}
