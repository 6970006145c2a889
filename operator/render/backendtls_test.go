package render

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// backendTLSGateway proxies /tls to an upstream with BackendTLSPolicy TLS,
// mirrors it, and passes a GRPCRoute's calls to a TLS upstream too, all
// presenting the Gateway's client certificate.
func backendTLSGateway(t testing.TB) *model.Gateway {
	secure := upstream("default_secure_443")
	secure.TLS = &model.UpstreamTLS{Hostname: "backend.example.com", CAPEM: testCert(t).CertPEM}
	grpcs := upstream("default_grpcs_443")
	grpcs.TLS = &model.UpstreamTLS{Hostname: "grpc.example.com", CAPEM: testCert(t).CertPEM}
	rule := proxyRule("r0", "tls", secure.Name)
	rule.Mirrors = []model.Mirror{{Upstream: secure.Name, Numerator: 1, Denominator: 1}}
	grpcRule := proxyRule("r1", "grpcs", grpcs.Name)
	grpcRule.GRPC = true
	gw := gateway(80, map[string][]model.Location{"example.com": {
		prefix("/tls", always(rule)),
		prefix("/grpc.Service", always(grpcRule)),
	}}, grpcs, secure)
	client := testCert(t)
	client.Name = "backend-client"
	gw.BackendClientCertificate = &client
	return gw
}

// tlsEcho is an HTTPS backend on 127.0.0.1 with a certificate for
// hostnames; it answers with the SNI the client sent and the common name
// of the client certificate it presented, if any.
type tlsEcho struct {
	port    int32
	certPEM []byte
}

func startTLSEcho(t *testing.T, hostnames ...string) *tlsEcho {
	t.Helper()
	certPEM, keyPEM := testenv.SelfSignedCert(t, hostnames...)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		client := ""
		if certs := r.TLS.PeerCertificates; len(certs) > 0 {
			client = certs[0].Subject.CommonName
		}
		_, _ = fmt.Fprintf(w, "sni=%s client=%s", r.TLS.ServerName, client)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return &tlsEcho{port: int32(l.Addr().(*net.TCPAddr).Port), certPEM: certPEM}
}

// TestTrafficBackendTLS runs nginx in front of an HTTPS backend whose
// certificate is for backend.example.com: with that CA and hostname the
// request goes through, the backend sees the hostname as SNI and the
// Gateway's client certificate; with another CA, or another hostname,
// nginx refuses the backend (502).
func TestTrafficBackendTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	be := startTLSEcho(t, "backend.example.com")
	otherCA, _ := testenv.SelfSignedCert(t, "backend.example.com")
	cases := []struct {
		path, hostname string
		ca             []byte
		want           int
		body           string
	}{
		{"/verified", "backend.example.com", be.certPEM, 200, "sni=backend.example.com client=gateway-client"},
		{"/wrong-ca", "backend.example.com", otherCA, 502, ""},
		{"/wrong-name", "other.example.com", be.certPEM, 502, ""},
	}
	addr, port := testenv.FreeLoopbackAddr(t)
	gw := gateway(port, nil)
	endpoints := endpointdns.Table{}
	var locs []model.Location
	for i, c := range cases {
		up := upstream(fmt.Sprintf("default_tls%d_443", i))
		endpoints[up.Name] = loopback(be.port)
		up.TLS = &model.UpstreamTLS{Hostname: c.hostname, CAPEM: c.ca}
		gw.Upstreams = append(gw.Upstreams, up)
		locs = append(locs, prefix(c.path, always(proxyRule(fmt.Sprintf("r%d", i), "tls", up.Name))))
	}
	gw.HTTPServers[0].Locations = locs
	clientCert, clientKey := testenv.SelfSignedCert(t, "gateway-client")
	gw.BackendClientCertificate = &model.Certificate{Name: "backend-client", CertPEM: clientCert, KeyPEM: clientKey}
	files, err := Render(gw)
	if err != nil {
		t.Fatal(err)
	}
	n := startNginx(t, files, endpoints, addr, port)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, c := range cases {
		resp, err := client.Get(fmt.Sprintf("http://%s:%d%s", addr, port, c.path))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || (c.body != "" && string(body) != c.body) {
			t.Errorf("%s: %d %q, want %d %q\n%s", c.path, resp.StatusCode, body, c.want, c.body, testenv.Tail(n.Logs(), 10))
		}
	}
	if !strings.Contains(n.Logs(), "upstream SSL certificate") {
		t.Errorf("nginx did not log a certificate verification failure:\n%s", testenv.Tail(n.Logs(), 20))
	}
}
