package configsource

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// TestLeanDocumentReadsBackEveryField: a model with every field of every
// type set (filled), one whose slices and maps are empty but not nil and
// whose pointers point at zero values (hollow), and the zero model come
// back from Decode exactly (reflect.DeepEqual tells nil from empty), so
// leaving zero fields out loses nothing, including fields the model gains
// later. The document json.Marshal wrote before (every field, zeros
// included) still decodes to the same model: a plugin reads both.
func TestLeanDocumentReadsBackEveryField(t *testing.T) {
	sources := render.Sources{"servers.conf": {{From: 1, To: 4, Route: model.RouteRef{Kind: "HTTPRoute", Namespace: "ns", Name: "r"}}}, "empty.conf": {}}
	for name, gw := range map[string]*model.Gateway{
		"filled": fillValue(reflect.TypeFor[model.Gateway](), 0, filled).Addr().Interface().(*model.Gateway),
		"hollow": fillValue(reflect.TypeFor[model.Gateway](), 0, hollow).Addr().Interface().(*model.Gateway),
		"zero":   {},
	} {
		t.Run(name, func(t *testing.T) {
			lean := Encode(gw, sources, 0)
			old := oldEncode(t, gw, sources)
			if name == "filled" && len(lean) >= len(old) {
				t.Errorf("the lean document takes %d bytes, json.Marshal's %d", len(lean), len(old))
			}
			want := *gw
			want.Certificates = namesOnly(gw.Certificates)
			if c := gw.BackendClientCertificate; c != nil {
				want.BackendClientCertificate = &model.Certificate{Name: c.Name}
			}
			for enc, b := range map[string][]byte{"lean": lean, "json.Marshal": old} {
				doc, err := Decode(b)
				if err != nil {
					t.Fatalf("%s: %v", enc, err)
				}
				if !reflect.DeepEqual(doc.Gateway, want) {
					t.Errorf("%s: the model read back differs:\n%+v\nwant\n%+v", enc, doc.Gateway, want)
				}
				if !reflect.DeepEqual(doc.Sources, sources) {
					t.Errorf("%s: the sources read back differ: %+v", enc, doc.Sources)
				}
			}
		})
	}
}

// TestLeanStringsAreJSONs: strings are written as json.Marshal reads them
// back, control characters, quotes and invalid UTF-8 included.
func TestLeanStringsAreJSONs(t *testing.T) {
	for _, s := range []string{"", "plain", `q"uo\te`, "\x00\x1f\n\r\t\u2028", "é€😀", "bad\xffutf8\xc3"} {
		var back string
		if err := json.Unmarshal(appendString(nil, s), &back); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		want, _ := json.Marshal(s)
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Errorf("%q read back as %q, json.Marshal's as %q", s, back, wantBack)
		}
	}
}

// oldEncode is the document as Encode wrote it with json.Marshal.
func oldEncode(t *testing.T, gw *model.Gateway, sources render.Sources) []byte {
	doc := Document{Version: Version, Gateway: *gw, Sources: sources}
	doc.Gateway.HTTPServers = rulesOnce(gw.HTTPServers)
	doc.Gateway.Certificates = namesOnly(gw.Certificates)
	if c := gw.BackendClientCertificate; c != nil {
		doc.Gateway.BackendClientCertificate = &model.Certificate{Name: c.Name}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("null")) && gw.HTTPServers == nil {
		t.Fatal("json.Marshal wrote no zero field")
	}
	return b
}

// rulesOnce is the copy of the servers Encode wrote before it wrote each
// rule once as it went (ruleOnceEncoder): each rule in full only at its
// first candidate, later candidates carrying only its ID.
func rulesOnce(servers []model.HTTPServer) []model.HTTPServer {
	if servers == nil {
		return nil
	}
	seen := map[string]bool{}
	out := make([]model.HTTPServer, len(servers))
	for i, s := range servers {
		s.Locations = slices.Clone(s.Locations)
		for j := range s.Locations {
			loc := &s.Locations[j]
			loc.Candidates = slices.Clone(loc.Candidates)
			for k := range loc.Candidates {
				c := &loc.Candidates[k]
				if c.Rule == nil {
					continue
				}
				if seen[c.Rule.ID] {
					c.Rule = &model.Rule{ID: c.Rule.ID}
				}
				seen[c.Rule.ID] = true
			}
		}
		out[i] = s
	}
	return out
}

type fillMode int

const (
	filled fillMode = iota // every field set; slices and maps hold a set and a zero element
	hollow                 // slices and maps empty, pointers to zero values
)

// fillValue is a new value of type t set as mode says, to a bounded depth.
func fillValue(t reflect.Type, depth int, mode fillMode) reflect.Value {
	v := reflect.New(t).Elem()
	if depth > 8 {
		return v
	}
	switch t.Kind() {
	case reflect.String:
		v.SetString("s\"\\\n<é\x01")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		if mode == hollow {
			v.Set(reflect.New(t.Elem()))
		} else {
			v.Set(fillValue(t.Elem(), depth+1, mode).Addr())
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(t, 0, 2))
		if mode == filled {
			v.Set(reflect.Append(v, fillValue(t.Elem(), depth+1, mode), reflect.Zero(t.Elem())))
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(t))
		if mode == filled {
			v.SetMapIndex(reflect.ValueOf("k").Convert(t.Key()), fillValue(t.Elem(), depth+1, mode))
			v.SetMapIndex(reflect.ValueOf("").Convert(t.Key()), reflect.Zero(t.Elem()))
		}
	case reflect.Struct:
		for i := range t.NumField() {
			if t.Field(i).IsExported() {
				v.Field(i).Set(fillValue(t.Field(i).Type, depth+1, mode))
			}
		}
	}
	return v
}
