package testenv

import (
	"crypto/x509"
	"encoding/pem"
	"slices"
	"testing"
)

func TestSelfSignedCert(t *testing.T) {
	certPEM, keyPEM := SelfSignedCert(t, "example.com", "*.example.com")
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("certificate PEM %q", certPEM)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "example.com" || !slices.Equal(cert.DNSNames, []string{"example.com", "*.example.com"}) {
		t.Errorf("subject %q, DNS names %q", cert.Subject.CommonName, cert.DNSNames)
	}
	if err := cert.VerifyHostname("www.example.com"); err != nil {
		t.Error(err)
	}
	keyBlock, _ := pem.Decode(keyPEM)
	if keyBlock == nil || keyBlock.Type != "EC PRIVATE KEY" {
		t.Fatalf("key PEM %q", keyPEM)
	}
	if _, err := x509.ParseECPrivateKey(keyBlock.Bytes); err != nil {
		t.Error(err)
	}
	other, _ := SelfSignedCert(t, "example.com")
	otherBlock, _ := pem.Decode(other)
	otherCert, err := x509.ParseCertificate(otherBlock.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if otherCert.SerialNumber.Cmp(cert.SerialNumber) == 0 {
		t.Errorf("two certificates share serial %v", cert.SerialNumber)
	}
}
