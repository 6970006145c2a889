package configsource

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// Version is the document's format; Decode refuses others.
const Version = 1

// Document is what Encode writes.
type Document struct {
	Version int
	// Gateway is the model the files were rendered from. Certificates
	// carry only their names (the certificate is the file <Name>.crt of
	// the same tree; the key is never in the document).
	Gateway model.Gateway
	// Sources is the render step's source map of the config files.
	Sources render.Sources
}

// Encode is the document of gw rendered with sources, as JSON without the
// fields that hold their zero value (appendLean; Decode reads documents
// with or without them). Deterministic: same model, same bytes. gw is not
// changed. lastSize is the size of the document last encoded for the same
// Gateway (0: none): it sizes the buffer, so that a document of megabytes
// is not grown by doubling (each step a copy, all of it garbage at the
// moment the operator's heap is at its largest).
func Encode(gw *model.Gateway, sources render.Sources, lastSize int) []byte {
	doc := Document{Version: Version, Gateway: *gw, Sources: sources}
	doc.Gateway.Certificates = namesOnly(gw.Certificates)
	if c := gw.BackendClientCertificate; c != nil {
		doc.Gateway.BackendClientCertificate = &model.Certificate{Name: c.Name}
	}
	b, err := appendLean(&encodeState{rulesWritten: map[string]bool{}}, make([]byte, 0, bufferSize(gw, lastSize)), reflect.ValueOf(&doc).Elem())
	if err != nil {
		// The model holds only strings, numbers, slices and pointers.
		panic(fmt.Sprintf("configsource: %v", err))
	}
	return b
}

// ruleType is the type of model.Candidate.Rule, the model's only
// *model.Rule: ruleOnceEncoder writes each rule in full only at its first
// candidate; later candidates of the same rule (a rule is inherited by
// longer prefixes, and several matches share it) carry only its ID, which
// Decode links back (linkRules). Written as the document is encoded, in
// its order, rather than into a copy of every server's locations and
// candidates made beforehand (~1 MB at 5,000 routes).
var ruleType = reflect.TypeFor[*model.Rule]()

// encodeState is what one document's encoding remembers as it goes.
type encodeState struct {
	// rulesWritten are the IDs of the rules written in full so far.
	rulesWritten map[string]bool
	// idOnly is the rule written for a rule written before: its ID alone
	// (one for the document, not one per candidate).
	idOnly model.Rule
}

func ruleOnceEncoder(rule encoderFunc) encoderFunc {
	return func(s *encodeState, b []byte, v reflect.Value) ([]byte, error) {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		r := v.Interface().(*model.Rule)
		if !s.rulesWritten[r.ID] {
			s.rulesWritten[r.ID] = true
			return rule(s, b, v.Elem())
		}
		s.idOnly.ID = r.ID
		return rule(s, b, reflect.ValueOf(&s.idOnly).Elem())
	}
}

// linkRules points every candidate that carries only a rule's ID at the
// rule written in full (ruleOnceEncoder).
func linkRules(servers []model.HTTPServer) {
	full := map[string]*model.Rule{}
	for i := range servers {
		for j := range servers[i].Locations {
			for k := range servers[i].Locations[j].Candidates {
				c := &servers[i].Locations[j].Candidates[k]
				if c.Rule == nil {
					continue
				}
				if r, ok := full[c.Rule.ID]; ok {
					c.Rule = r
					continue
				}
				full[c.Rule.ID] = c.Rule
			}
		}
	}
}

func namesOnly(certs []model.Certificate) []model.Certificate {
	if certs == nil {
		return nil
	}
	out := make([]model.Certificate, len(certs))
	for i, c := range certs {
		out[i] = model.Certificate{Name: c.Name}
	}
	return out
}

// Decode reads a document written by Encode.
func Decode(b []byte) (*Document, error) {
	var doc Document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("reading the config's source document: %w", err)
	}
	if doc.Version != Version {
		return nil, fmt.Errorf("the config's source document has version %d, this build reads %d", doc.Version, Version)
	}
	linkRules(doc.Gateway.HTTPServers)
	return &doc, nil
}

// bufferSize is the buffer Encode writes gw's document into: the last
// document's size and an eighth more (a route change changes it little),
// or, for a first document, encodedSizeHint.
func bufferSize(gw *model.Gateway, lastSize int) int {
	if lastSize > 0 {
		return lastSize + lastSize/8
	}
	return encodedSizeHint(gw)
}

// encodedSizeHint is about what the document of gw takes (about 400 bytes
// a location, its source range included), so that it is written into one
// buffer rather than one doubled a dozen times.
func encodedSizeHint(gw *model.Gateway) int {
	n := 4 << 10
	for _, s := range gw.HTTPServers {
		n += 400 * len(s.Locations)
	}
	return n + 200*(len(gw.Upstreams)+len(gw.StreamUpstreams))
}
