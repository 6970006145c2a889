package config

import (
	"bytes"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// now dates the fixture's certificate (valid until 2027-03-01).
var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

// fixture is testdata/web built by the operator's pipeline, as a pod's
// sidecar would serve it: the tree without keys, and the endpoints the
// operator publishes.
func fixture(t *testing.T) *Live {
	t.Helper()
	in, _, err := rendercmd.ReadInput([]string{filepath.Join("testdata", "web")})
	if err != nil {
		t.Fatal(err)
	}
	res := pipeline.Run(in)
	nn := types.NamespacedName{Namespace: "shop", Name: "web"}
	if err := res.Errors[nn]; err != nil {
		t.Fatal(err)
	}
	files := res.Files[nn]
	live := dataplane.LiveConfig{Hash: resources.ConfigHash(files), Files: map[string]string{}}
	for _, m := range []map[string][]byte{files.Config, files.Secret} {
		for name, data := range m {
			if strings.HasSuffix(name, ".key") {
				live.Withheld = append(live.Withheld, name)
				continue
			}
			live.Files[name] = string(data)
		}
	}
	eps := &dataplane.LiveEndpoints{Synced: true, Upstreams: map[string][]string{}}
	for _, gw := range res.Output.Gateways {
		if gw.NamespacedName != nn {
			continue
		}
		for upstream, data := range resources.EndpointsData(gw.Endpoints) {
			aps, err := dataplane.ParseEndpoints(data)
			if err != nil {
				t.Fatal(err)
			}
			list := []string{}
			for _, ap := range aps {
				list = append(list, ap.String())
			}
			eps.Upstreams[upstream] = list
		}
	}
	l, err := Parse("web-nginx-0", live, eps)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestGolden prints every view of the fixture as a table (and routes as
// YAML and JSON); wants are lines each output must hold, so that -update
// cannot bless a wrong answer unnoticed.
func TestGolden(t *testing.T) {
	l := fixture(t)
	for _, tc := range []struct {
		view, format string
		wants        []string
	}{
		{ViewListeners, "table", []string{
			"443   HTTPS", "none: TLS handshakes for other names are refused", "shop_shop_tls", "CN=shop.example.com,O=Shop", "2027-03-01", "in 91d",
			"8443  TLS passthrough  db.example.com", "5432  TCP"}},
		{ViewRoutes, "table", []string{
			"exact /items/special", "header x-version = \"2\", query debug = \"1\"", "HTTPRoute shop/catalog  beta",
			"shop/catalog-v1:8080 w=3, shop/catalog-v2:8080 w=1", "request header set X-Write: true",
			"path ~", "redirect 301, scheme https", "rewrite path: prefix /api to /v2",
			"TLSRoute shop/db", "TCPRoute shop/pg"}},
		{ViewRoutes, "yaml", []string{"inherited: true"}},
		{ViewRoutes, "json", []string{`"route": "shop/catalog"`}},
		{ViewUpstreams, "table", []string{"10.0.1.11:3000,10.0.1.12:3000", "shop/api:8080", "no ready endpoints: requests get 503", "10.0.3.31:5432"}},
		{ViewRaw, "table", []string{"# ▼ HTTPRoute shop/catalog rule beta: matches[0] PathPrefix /items, header x-version = \"2\", query debug = \"1\"",
			"# ▲ HTTPRoute shop/catalog rule beta", "# ===== servers.conf =====", "other files of the tree: "}},
	} {
		t.Run(tc.view+"."+tc.format, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Print(&buf, tc.format, tc.view, l, now); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			if strings.Contains(got, "PRIVATE KEY") {
				t.Error("output holds a private key")
			}
			testenv.Golden(t, filepath.Join("testdata", tc.view+"."+tc.format), buf.Bytes(), *update)
		})
	}
}

// TestRawFramesEverySourceRange: raw frames exactly the source map's
// ranges, each line of the files once, in order.
func TestRawFramesEverySourceRange(t *testing.T) {
	l := fixture(t)
	var buf bytes.Buffer
	if err := Raw(&buf, l); err != nil {
		t.Fatal(err)
	}
	opens, closes := strings.Count(buf.String(), "# ▼ "), strings.Count(buf.String(), "# ▲ ")
	want := 0
	for _, ranges := range l.Source.Sources {
		want += len(ranges)
	}
	if want == 0 || opens != want || closes != want {
		t.Errorf("%d blocks opened, %d closed, want %d (the source map's ranges)", opens, closes, want)
	}
	out := map[string]bool{}
	for _, line := range strings.Split(buf.String(), "\n") {
		out[strings.TrimRight(line, " ")] = true
	}
	servers := strings.Split(l.Files["servers.conf"], "\n")
	for i, line := range servers[:len(servers)-1] {
		if numbered := strings.TrimRight(fmt.Sprintf("%5d %s", i+1, line), " "); !out[numbered] {
			t.Fatalf("servers.conf line %d missing from raw: %q", i+1, numbered)
		}
	}
}
