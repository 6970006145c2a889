package explain

import (
	"bytes"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// run runs `explain` offline on testdata/shop and returns its output.
func run(t *testing.T, args ...string) string {
	t.Helper()
	return runOn(t, []string{"web", "-f", filepath.Join("testdata", "shop")}, args...)
}

// streamObjects are the TCP, UDP and TLS listeners' objects, shared with
// operator/explain's agreement test, and their certificate.
var streamObjects = []string{"stream", "-f", filepath.Join("..", "..", "operator", "explain", "testdata", "stream.yaml"), "-f", filepath.Join("testdata", "stream-cert.yaml")}

// runOn runs `explain GATEWAY -f …` (gatewayAndFiles) with args.
func runOn(t *testing.T, gatewayAndFiles []string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.IOStreams{Out: &out, ErrOut: &errOut})
	cmd.SetArgs(append(append([]string{}, gatewayAndFiles...), args...))
	if err := cmd.Execute(); err != nil {
		t.Fatalf("explain %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	return out.String()
}

// TestGolden explains requests on testdata/shop, one golden output each;
// wants are the lines each output must hold, so that -update cannot bless
// a wrong answer unnoticed.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"exact-beats-prefix", []string{"--url", "http://shop.example.com/items/special"},
			[]string{"Location:    = /items/special", "Route:       HTTPRoute shop/catalog rule 1", `"backend":"shop_catalog_v2_8080"`}},
		{"prefix-and-precedence", []string{"--url", "http://shop.example.com/items/42"},
			[]string{"Route:       HTTPRoute shop/catalog rule 0", "loses on precedence to shop/catalog rule 0"}},
		{"header-and-query", []string{"--url", "http://shop.example.com/items/42?debug=1", "-H", "X-Version: 2"},
			[]string{"Route:       HTTPRoute shop/catalog rule beta"}},
		{"query-mismatch", []string{"--url", "http://shop.example.com/items/42?debug=0", "-H", "X-Version: 2"},
			[]string{"Route:       HTTPRoute shop/catalog rule 0", `query parameter debug is "0", not "1"`}},
		{"method-and-split", []string{"--url", "http://shop.example.com/items", "-X", "POST"},
			[]string{"Route:       HTTPRoute shop/catalog rule 3", "75%", "25%", "request header set X-Write: true"}},
		{"wildcard-host", []string{"--url", "http://a.b.example.com/items/x"},
			[]string{"Server:      port 80 host *.example.com", "Route:       HTTPRoute shop/catalog rule 0"}},
		{"listener-isolation-and-no-endpoints", []string{"--url", "http://api.example.com/items"},
			[]string{"Server:      port 80 host api.example.com", "status 503", `"backend":"shop_api_8080"`,
				`HTTPRoute shop/catalog       not matched   listener isolation: host "api.example.com" goes to the more specific server api.example.com`}},
		{"redirect", []string{"--url", "http://www.shop.test/old/page?x=1"},
			[]string{"Location header:  https://www.shop.test/new/page?x=1", "redirect, status 301"}},
		{"no-route", []string{"--url", "http://shop.example.com/nothing"},
			[]string{"not found, status 404", "path: /nothing is not under its paths"}},
		{"not-attached", []string{"--url", "http://www.shop.test/"},
			[]string{"not found, status 404", "HTTPRoute shop/typo          not attached  listener htp: Accepted False (NoMatchingParent)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.args...)
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			testenv.Golden(t, filepath.Join("testdata", tc.name+".table"), []byte(got), *update)
		})
	}
}

// TestGoldenConnections explains connections to the TCP, UDP and TLS
// listeners of operator/explain/testdata/stream.yaml (whose answers
// operator/explain.TestConnectionsAgreeWithNginx checks against nginx).
func TestGoldenConnections(t *testing.T) {
	for _, tc := range []struct {
		name  string
		args  []string
		wants []string
	}{
		{"tls-passthrough-wildcard", []string{"--url", "tls://a.example.com:443"},
			[]string{"passthrough *.example.com", "Route:       TLSRoute shop/wildcard rule 0", `"route":"TLSRoute shop/wildcard","backend":"u545f5b_shop_tls_backend_443"`}},
		{"tls-listener-without-route", []string{"--url", "tls://isolated.example.com:443"},
			[]string{"connection closed: the listener of hostname isolated.example.com takes it", `"route":"","backend":"ngo_closed"`,
				`TLSRoute shop/wildcard    not matched  hostname *.example.com matches too, but server name "isolated.example.com" goes to the more specific isolated.example.com`}},
		{"tls-no-listener-hostname", []string{"--url", "tls://nothing.test:443"},
			[]string{"no listener of the port takes this server name", `Access log:  "route":"","backend":"ngo_closed"`}},
		{"tls-handed-to-https", []string{"--url", "tls://www.example.com:443"},
			[]string{"handed to HTTPS: the port's HTTPS listeners serve it"}},
		{"tls-terminate-sni-flag", []string{"--url", "tls://gateway.test:8443", "--sni", "secure.example.com"},
			[]string{"SNI:         secure.example.com", "Route:       TLSRoute shop/terminated rule 0"}},
		{"tls-default-route-no-endpoints", []string{"--url", "tls://other.test:8444"},
			[]string{"the route without hostname takes it", "Route:       TLSRoute shop/rest rule 0", "connection closed: the Service has no ready endpoints"}},
		{"tcp-weighted", []string{"--url", "tcp://gateway.test:5300"},
			[]string{"Route:       TCPRoute shop/weighted rule split", "70%", "30%", "invalid backendRef"}},
		{"udp", []string{"--url", "udp://gateway.test:5300"},
			[]string{"Route:       UDPRoute shop/dns rule 0", `"backend":"u208026_shop_dns_53_udp"`}},
		{"tcp-no-route", []string{"--url", "tcp://gateway.test:5301"},
			[]string{"connection closed: no route is attached to the listener"}},
		{"https-on-shared-tls-port", []string{"--url", "https://a.example.com/x"},
			[]string{"port 443's TLS front server does not hand this handshake to its HTTPS listeners", "(TLSRoute shop/wildcard); explain it with --url tls://a.example.com:443"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runOn(t, streamObjects, tc.args...)
			for _, want := range tc.wants {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			testenv.Golden(t, filepath.Join("testdata", tc.name+".table"), []byte(got), *update)
		})
	}
	got := runOn(t, streamObjects, "--url", "tcp://gateway.test:5300", "-o", "yaml")
	if !strings.Contains(got, "protocol: TCP") || !strings.Contains(got, "scheme: tcp") {
		t.Errorf("yaml output lacks the stream server or the connection:\n%s", got)
	}
	testenv.Golden(t, filepath.Join("testdata", "tcp-weighted.yaml"), []byte(got), *update)
}

// TestGoldenStructured checks the YAML and JSON forms.
func TestGoldenStructured(t *testing.T) {
	for _, format := range []string{"yaml", "json"} {
		got := run(t, "--url", "http://shop.example.com/items/42?debug=1", "-H", "X-Version: 2", "-o", format)
		if !strings.Contains(got, `"rule": "beta"`) && !strings.Contains(got, "rule: beta") {
			t.Errorf("%s output does not name rule beta:\n%s", format, got)
		}
		testenv.Golden(t, filepath.Join("testdata", "header-and-query."+format), []byte(got), *update)
	}
}

// TestErrors checks the messages of requests the command cannot explain.
func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"web", "-f", "testdata/shop"}, "--url is required"},
		{[]string{"web", "-f", "testdata/shop", "--url", "ftp://x/"}, "want http://HOST[:PORT]/PATH"},
		{[]string{"nope", "-f", "testdata/shop", "--url", "http://x/"}, "Gateway default/nope is not among the objects read"},
		{[]string{"web", "-f", "testdata/shop", "--url", "http://x/", "-H", "bad"}, "want 'Name: value'"},
		{[]string{"web", "-f", "testdata/shop", "--url", "http://x/", "-o", "xml"}, "unknown output format"},
		{[]string{"web", "-f", "testdata/shop", "--url", "http://x/", "--sni", "a"}, "--sni applies to https:// and tls:// URLs"},
		{[]string{"web", "-f", "testdata/shop", "--url", "tcp://x:1", "-H", "A: b"}, "-H applies to http:// and https:// URLs"},
		{[]string{"web", "-f", "testdata/shop", "--url", "tcp://x"}, "want HOST:PORT after tcp://"},
	} {
		var out bytes.Buffer
		cmd := NewCommand(genericclioptions.NewConfigFlags(true), genericiooptions.IOStreams{Out: &out, ErrOut: &out})
		cmd.SetArgs(tc.args)
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one containing %q", tc.args, err, tc.want)
		}
	}
}

// TestAccessLogFieldsFollowTheFormat: the Access log line is written as the
// Gateway's format writes the fields, so that it can be searched for.
func TestAccessLogFieldsFollowTheFormat(t *testing.T) {
	split := explain.Response{AccessLog: &explain.AccessLog{Route: "shop/catalog", Rule: "3"},
		Backends: []explain.BackendOutcome{{Log: "shop_a_80", Share: "75%"}, {Log: "shop_b_80", Share: "25%"}}}
	for _, tc := range []struct {
		format string
		resp   explain.Response
		rule   bool
		want   string
	}{
		{"json", split, true, `"route":"shop/catalog","rule":"3","backend":"shop_a_80" (75%) | "backend":"shop_b_80" (25%)`},
		{"text", split, true, `route="shop/catalog" rule="3" backend="shop_a_80" (75%) | backend="shop_b_80" (25%)`},
		{"off", split, true, "none (the Gateway's access log is off)"},
		{"json", explain.Response{AccessLog: &explain.AccessLog{Route: "TCPRoute shop/db", Backend: "u1_shop_db_5432"}}, false,
			`"route":"TCPRoute shop/db","backend":"u1_shop_db_5432"`},
		{"text", explain.Response{AccessLog: &explain.AccessLog{Route: "", Backend: "ngo_closed"}}, false, `route="" backend="ngo_closed"`},
	} {
		resp := tc.resp
		a := *resp.AccessLog
		a.Format = tc.format
		resp.AccessLog = &a
		if got := accessLogFields(resp, tc.rule); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.format, got, tc.want)
		}
	}
}
