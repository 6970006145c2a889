package configsource

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// TestEncodeKeepsNoKeyAndRoundTrips: the document carries the model and
// the source map back unchanged, certificates by name only (never a key),
// without touching the model it was given, and the same bytes every time.
func TestEncodeKeepsNoKeyAndRoundTrips(t *testing.T) {
	cert, key := testenv.SelfSignedCert(t, "a.example.com")
	rule := &model.Rule{ID: "r1", Route: model.RouteRef{Kind: "HTTPRoute", Namespace: "default", Name: "web", RuleIndex: 0},
		Backends: []model.Backend{{Upstream: "u1_default_echo_80", Weight: 1}}}
	gw := &model.Gateway{
		Namespace: "default", Name: "gw",
		HTTPServers: []model.HTTPServer{{Port: 443, Hostname: "a.example.com", TLS: &model.ServerTLS{CertificateNames: []string{"default_tls"}},
			Locations: []model.Location{
				{Path: "/", Match: model.PathPrefix, Candidates: []model.Candidate{{Rule: rule, PathField: "spec.rules[0].matches[0].path.value"}}},
				// The rule again, inherited: written once, linked back.
				{Path: "/a", Match: model.PathPrefix, Candidates: []model.Candidate{{Rule: rule}}},
			}}},
		Upstreams:                []model.Upstream{{Name: "u1_default_echo_80", ServiceNamespace: "default", ServiceName: "echo", ServicePort: 80}},
		Certificates:             []model.Certificate{{Name: "default_tls", CertPEM: cert, KeyPEM: key}},
		BackendClientCertificate: &model.Certificate{Name: "backend-client", CertPEM: cert, KeyPEM: key},
	}
	sources := render.Sources{"servers.conf": {{From: 3, To: 9, Route: rule.Route}}}

	b := Encode(gw, sources, 0)
	if bytes.Contains(b, []byte("PRIVATE KEY")) || bytes.Contains(b, []byte("CERTIFICATE")) {
		t.Errorf("the document holds key or certificate material: %s", b)
	}
	if !bytes.Equal(b, Encode(gw, sources, 0)) {
		t.Error("two encodings of the same model differ")
	}
	if gw.Certificates[0].KeyPEM == nil || gw.BackendClientCertificate.KeyPEM == nil {
		t.Error("Encode changed the model's certificates")
	}
	doc, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	want := *gw
	want.Certificates = []model.Certificate{{Name: "default_tls"}}
	want.BackendClientCertificate = &model.Certificate{Name: "backend-client"}
	if n := bytes.Count(b, []byte(`"u1_default_echo_80","Weight"`)); n != 1 {
		t.Errorf("the shared rule's backends are written %d times, want once", n)
	}
	if got := doc.Gateway.HTTPServers[0].Locations; got[0].Candidates[0].Rule != got[1].Candidates[0].Rule {
		t.Error("the two candidates of one rule are not linked to one rule again")
	}
	if !reflect.DeepEqual(doc.Gateway, want) {
		t.Errorf("model after a round trip:\n%+v\nwant\n%+v", doc.Gateway, want)
	}
	if !reflect.DeepEqual(doc.Sources, sources) {
		t.Errorf("sources after a round trip: %+v", doc.Sources)
	}
	// The same bytes as before rules were written once as the document
	// is encoded: then from a copy of the servers made beforehand.
	copied := Document{Version: Version, Gateway: want, Sources: sources}
	copied.Gateway.HTTPServers = rulesOnce(gw.HTTPServers)
	if before, _ := appendLean(&encodeState{rulesWritten: map[string]bool{}}, nil, reflect.ValueOf(&copied).Elem()); !bytes.Equal(b, before) {
		t.Errorf("the document differs from the one written from a copy with each later rule cut to its ID:\n%s\n%s", b, before)
	}
	if _, err := Decode([]byte(`{"Version":99}`)); err == nil {
		t.Error("a document of another version was read")
	}
}
