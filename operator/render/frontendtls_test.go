package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// TestTrafficClientCertificate runs an HTTPS listener that validates client
// certificates against a CA: a client with a certificate of that CA is
// served; one without a certificate, or with a certificate of another CA,
// has its connection closed without an answer (at once, not left waiting
// for a timeout), also when nginx refuses it itself. With InsecureFallback, all three are served.
func TestTrafficClientCertificate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	a := startEcho(t, "a")
	ua := a.upstream()
	goodCert, goodKey := testenv.SelfSignedCert(t, "good-client")
	otherCert, otherKey := testenv.SelfSignedCert(t, "other-client")
	good, err := tls.X509KeyPair(goodCert, goodKey)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tls.X509KeyPair(otherCert, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by a CA of the trusted CA's name but another key: nginx
	// itself refuses it (the signature does not check out), even with
	// optional_no_ca.
	sameName := certFromLookalikeCA(t, goodCert)
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprintf("InsecureFallback=%v", fallback), func(t *testing.T) {
			addr, port := testenv.FreeLoopbackAddr(t)
			gw, pool := tlsGatewayModel(t, port, ua, proxyRule("r0", "web", ua.Name))
			for i := range gw.HTTPServers {
				if s := &gw.HTTPServers[i]; s.TLS != nil && len(s.TLS.CertificateNames) > 0 {
					s.TLS.ClientValidation = &model.ClientValidation{CAPEM: goodCert, InsecureFallback: fallback}
				}
			}
			files, err := Render(gw)
			if err != nil {
				t.Fatal(err)
			}
			n := startNginx(t, files, a.endpoints(), addr, port)
			get := func(certs []tls.Certificate) (int, error) {
				client := pinnedHTTPSClient(t, fmt.Sprintf("%s:%d", addr, port), &tls.Config{RootCAs: pool, Certificates: certs})
				resp, err := client.Get(fmt.Sprintf("https://www.example.com:%d/", port))
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}
			for _, c := range []struct {
				name  string
				certs []tls.Certificate
				ok    bool
			}{
				{"CA's certificate", []tls.Certificate{good}, true},
				{"no certificate", nil, fallback},
				{"another CA's certificate", []tls.Certificate{other}, fallback},
				{"a certificate of a same-named CA", []tls.Certificate{sameName}, fallback},
			} {
				code, err := get(c.certs)
				var timeout net.Error
				switch {
				case c.ok && (err != nil || code != 200):
					t.Errorf("%s: %d %v, want 200\n%s", c.name, code, err, testenv.Tail(n.Logs(), 10))
				case !c.ok && err == nil:
					t.Errorf("%s: answered %d, want the connection closed", c.name, code)
				case !c.ok && errors.As(err, &timeout) && timeout.Timeout():
					t.Errorf("%s: %v, want the connection closed at once, not left waiting", c.name, err)
				}
			}
		})
	}
}

// clientValidationGateway has two HTTPS ports: 443 refuses clients without
// a certificate of the CA, 8443 falls back to serving them.
func clientValidationGateway(t testing.TB) *model.Gateway {
	cert := testCert(t)
	up := upstream("default_echo_80")
	gw := &model.Gateway{Namespace: "default", Name: "gw", Settings: testSettings(), Upstreams: []model.Upstream{up},
		Certificates: []model.Certificate{cert}}
	for _, port := range []int32{443, 8443} {
		cv := &model.ClientValidation{CAPEM: cert.CertPEM, InsecureFallback: port == 8443}
		gw.HTTPServers = append(gw.HTTPServers,
			model.HTTPServer{Port: port, Default: true, TLS: &model.ServerTLS{CertificateNames: []string{cert.Name}, ClientValidation: cv},
				Locations: []model.Location{prefix("/", always(proxyRule("r0", "web", up.Name)))}})
	}
	return gw
}

// certFromLookalikeCA returns a client key pair signed by a new key under
// the subject of trusted (a self-signed certificate).
func certFromLookalikeCA(t *testing.T, trusted []byte) tls.Certificate {
	t.Helper()
	block, _ := pem.Decode(trusted)
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "lookalike-client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	// The trusted certificate's subject with the lookalike's key, and no
	// key identifier that would tell the two apart.
	lookalike := *ca
	lookalike.PublicKey, lookalike.SubjectKeyId = &caKey.PublicKey, nil
	der, err := x509.CreateCertificate(rand.Reader, tmpl, &lookalike, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
