package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the cluster's key material, written as PEM files into one folder.
// Everything is signed by one CA: the API server's serving certificate, the
// admin client certificate, the API server's client certificate towards the
// node agent's kubelet endpoint, and the node agent's serving certificate.
type pki struct {
	Dir string

	CACert, CAKey                       string
	APIServerCert, APIServerKey         string
	AdminCert, AdminKey                 string
	KubeletClientCert, KubeletClientKey string
	KubeletCert, KubeletKey             string
	// ServiceAccountKey signs service-account tokens (controller-manager and
	// API server); ServiceAccountPub verifies them (API server).
	ServiceAccountKey, ServiceAccountPub string
}

type certAuthority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// newPKI generates the key material for an API server reachable at
// apiServerIPs (plus the in-cluster names) and a kubelet at kubeletIP.
func newPKI(dir string, apiServerIPs []net.IP, kubeletIP net.IP, nodeName string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &pki{Dir: dir}
	file := func(name string) string { return filepath.Join(dir, name) }

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localcluster-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca := &certAuthority{cert: caCert, key: caKey}
	p.CACert, p.CAKey = file("ca.crt"), file("ca.key")
	if err := writePEM(p.CACert, "CERTIFICATE", caDER); err != nil {
		return nil, err
	}
	if err := writeKey(p.CAKey, caKey); err != nil {
		return nil, err
	}

	leaves := []struct {
		certPath, keyPath *string
		name              string
		tmpl              x509.Certificate
	}{
		{&p.APIServerCert, &p.APIServerKey, "apiserver", x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver"},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: append([]net.IP{net.ParseIP("127.0.0.1")}, apiServerIPs...),
			DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local"},
		}},
		{&p.AdminCert, &p.AdminKey, "admin", x509.Certificate{
			Subject:     pkix.Name{CommonName: "localcluster-admin", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
		{&p.KubeletClientCert, &p.KubeletClientKey, "apiserver-kubelet-client", x509.Certificate{
			Subject:     pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		}},
		{&p.KubeletCert, &p.KubeletKey, "kubelet", x509.Certificate{
			Subject:     pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			IPAddresses: []net.IP{kubeletIP},
			DNSNames:    []string{nodeName},
		}},
	}
	for i, leaf := range leaves {
		*leaf.certPath, *leaf.keyPath = file(leaf.name+".crt"), file(leaf.name+".key")
		tmpl := leaf.tmpl
		tmpl.SerialNumber = big.NewInt(int64(i + 2))
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(365*24*time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
		if err := ca.issue(&tmpl, *leaf.certPath, *leaf.keyPath); err != nil {
			return nil, fmt.Errorf("issuing %s certificate: %w", leaf.name, err)
		}
	}

	// Service-account tokens: RSA, the algorithm every client expects (RS256).
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	p.ServiceAccountKey, p.ServiceAccountPub = file("sa.key"), file("sa.pub")
	if err := writePEM(p.ServiceAccountKey, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)); err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(p.ServiceAccountPub, "PUBLIC KEY", pubDER); err != nil {
		return nil, err
	}
	return p, nil
}

func (ca *certAuthority) issue(tmpl *x509.Certificate, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return err
	}
	if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
		return err
	}
	return writeKey(keyPath, key)
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der)
}

func writePEM(path, blockType string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der}), 0o600)
}
