package explain_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/logs"
)

// agreementSuite is a set of objects and the requests sent to one of
// their Gateways.
type agreementSuite struct {
	// manifest is a conformance test's manifest (tests/<manifest>.yaml),
	// read with the suite's base manifests, or the name of a suite of ours.
	manifest, gateway string
	cases             []conformanceCase
	// files, when set, are our objects instead (relative to the repository).
	files []string
	// secrets are TLS Secrets (name → hosts) to generate in the Gateway's
	// namespace; listeners on 443 move to a second free port.
	secrets map[string][]string
}

// conformanceCase is one request of a Gateway API conformance test, with
// the backend Service the suite expects ("" expects a 404).
type conformanceCase struct {
	method, host, path string
	headers            []string // "Name: value"
	backend            string
	// https sends the request with TLS to the suite's HTTPS port, with
	// SNI sni (none when empty); tlsPort sends plain HTTP there.
	https   bool
	sni     string
	tlsPort bool
	// grpcMethod, when set, makes the request a gRPC call of the echo
	// service's method (agreement_grpc_test.go); headers are metadata and
	// host the authority.
	grpcMethod string
}

func get(path, backend string, headers ...string) conformanceCase {
	return conformanceCase{method: "GET", path: path, backend: backend, headers: headers}
}

const (
	anyBackend = "*"
	refused    = "refused" // the TLS handshake fails
	// misdirectedRequest: nginx answers 421 (the Host's listener is not
	// the SNI's).
	misdirectedRequest = "misdirected"
	v1                 = "infra-backend-v1"
	v2                 = "infra-backend-v2"
	v3                 = "infra-backend-v3"
)

// conformanceSuites are the HTTPRoute matching tests of the conformance
// suite (tests/<manifest>.go in sigs.k8s.io/gateway-api/conformance),
// their requests and expected backends copied from there.
var conformanceSuites = []agreementSuite{
	{manifest: "httproute-matching", gateway: "same-namespace", cases: []conformanceCase{
		get("/", v1), get("/example", v1), get("/", v1, "Version: one"), get("/v2", v2), get("/v2/example", v2),
		get("/", v2, "Version: two"), get("/v2/", v2), get("/v2example", v1), get("/foo/v2/example", v1),
	}},
	{manifest: "httproute-matching-across-routes", gateway: "same-namespace", cases: []conformanceCase{
		{method: "GET", host: "example.com", path: "/", backend: v1},
		{method: "GET", host: "example.com", path: "/example", backend: v1},
		{method: "GET", host: "example.net", path: "/example", backend: v1},
		{method: "GET", host: "example.com", path: "/example", backend: v1, headers: []string{"Version: one"}},
		{method: "GET", host: "example.com", path: "/v2", backend: v2},
		{method: "GET", host: "example.net", path: "/v2", backend: v1},
		{method: "GET", host: "example.com", path: "/v2/example", backend: v2},
		{method: "GET", host: "example.com", path: "/", backend: v2, headers: []string{"Version: two"}},
	}},
	{manifest: "httproute-header-matching", gateway: "same-namespace", cases: []conformanceCase{
		get("/", v1, "Version: one"), get("/", v2, "Version: two"), get("/", v1, "Version: two", "Color: orange"),
		get("/", v2, "Version: two", "Color: blue"), get("/", "", "Color: orange"), get("/", "", "Some-Other-Header: one"),
		get("/", v1, "Color: blue"), get("/", v1, "Color: green"), get("/", v2, "Color: red"), get("/", v2, "Color: yellow"),
		get("/", "", "Color: purple"),
	}},
	{manifest: "httproute-query-param-matching", gateway: "same-namespace", cases: []conformanceCase{
		get("/?animal=whale", v1), get("/?animal=dolphin", v2), get("/?animal=dolphin&color=blue", v3), get("/?ANIMAL=Whale", v3),
		get("/?animal=whale&otherparam=irrelevant", v1), get("/?animal=dolphin&color=yellow", v2), get("/?color=blue", ""),
		get("/?animal=dog", ""), get("/?animal=whaledolphin", ""), get("/", ""),
		get("/path1?animal=whale", v1), get("/?animal=whale", v2, "version: one"), get("/path2?animal=whale", v3, "version: two"),
		get("/path3?animal=shark", v1), get("/path4?animal=kraken", v1, "version: three"),
		get("/?animal=shark", ""), get("/path4?animal=kraken", ""),
		get("/path5?animal=hydra", v1), get("/?animal=hydra", v3, "version: four"),
	}},
	{manifest: "httproute-method-matching", gateway: "same-namespace", cases: []conformanceCase{
		{method: "POST", path: "/", backend: v1}, {method: "GET", path: "/", backend: v2}, {method: "HEAD", path: "/"},
		{method: "GET", path: "/path1", backend: v1}, {method: "PUT", path: "/", backend: v2, headers: []string{"version: one"}},
		{method: "POST", path: "/path2", backend: v3, headers: []string{"version: two"}},
		{method: "PATCH", path: "/path3", backend: v1}, {method: "DELETE", path: "/path4", backend: v1, headers: []string{"version: three"}},
		{method: "PUT", path: "/"}, {method: "DELETE", path: "/path4"},
		{method: "PATCH", path: "/path5", backend: v1}, {method: "PATCH", path: "/", backend: v2, headers: []string{"version: four"}},
	}},
	{manifest: "httproute-listener-hostname-matching", gateway: "httproute-listener-hostname-matching", cases: []conformanceCase{
		{method: "GET", host: "bar.com", path: "/", backend: v1}, {method: "GET", host: "foo.bar.com", path: "/", backend: v2},
		{method: "GET", host: "baz.bar.com", path: "/", backend: v3}, {method: "GET", host: "boo.bar.com", path: "/", backend: v3},
		{method: "GET", host: "multiple.prefixes.bar.com", path: "/", backend: v3},
		{method: "GET", host: "multiple.prefixes.foo.com", path: "/", backend: v3},
		{method: "GET", host: "foo.com", path: "/"}, {method: "GET", host: "no.matching.host", path: "/"},
	}},
}

// edgeSuite exercises what nginx does to a request before matching
// (decoding, slashes, dot segments, Host forms, repeated headers and
// parameters, dropped header names), regexes, a redirect, a split and a
// backend without endpoints, on plugin/explain/testdata/shop.
var edgeSuite = agreementSuite{
	manifest: "shop", gateway: "web",
	files: []string{"plugin/explain/testdata/shop", "operator/explain/testdata/regex.yaml"},
	cases: []conformanceCase{
		shop("/items/special"), shop("/items//special"), shop("/items/./special"), shop("/items/x/../special"),
		shop("/items/%73pecial"), shop("/items/x/%2e%2e/special"), shop("/items%2Fspecial"), shop("/%2e%2e/items"), shop("/../items"), shop("/Items/special"), shop("/items"), shop("/itemsx"), shop("/items/"),
		{method: "POST", host: "shop.example.com", path: "/items", backend: anyBackend},
		shop("/items/1?debug=1", "X-Version: 2"), shop("/items/1?debug=1&debug=0", "X-Version: 2"),
		shop("/items/1?debug=0&debug=1", "X-Version: 2"), shop("/items/1?Debug=1", "X-Version: 2"),
		shop("/items/1?x=1&debug=1", "X-Version: 2", "X-Version: 3"), shop("/items/1?debug=1", "X_Version: 2"),
		shop("/items/1?debug=%31", "X-Version: 2"),
		on("SHOP.EXAMPLE.COM", "/items/1"), on("shop.example.com.", "/items/1"), on("shop.example.com:8080", "/items/1"),
		on("example.com", "/items/1"), on("api.example.com", "/items"), on("a.b.example.com", "/items/special"),
		on("www.shop.test", "/old/page?x=1"), on("www.shop.test", "/old"), on("www.shop.test", "/old/"), on("www.shop.test", "/older"),
		on("www.shop.test", "/old/a%20b?x=1"), on("www.shop.test", "/%6Fld/x?y"), on("www.shop.test", "/old%2Fx"), on("www.shop.test", "/o%6cd/x"),
		on("www.shop.test", "/old?"), on("www.shop.test", "/old//x"),
		on("www.shop.test", "/"),
		on("www.shop.test", "/re/abc/12"), on("www.shop.test", "/re/abc/1234"), on("www.shop.test", "/re/ABC/12"),
		on("www.shop.test", "/re/ab%63/12"), on("www.shop.test", "/re//abc/12"),
		on("www.shop.test", "/tier", "X-Tier: gold"), on("www.shop.test", "/tier/x", "X-Tier: silver"),
		on("www.shop.test", "/tier", "X-Tier: bronze"), on("www.shop.test", "/tier", "X-Tier: gold", "X-Tier: silver"),
		on("www.shop.test", "/tier", "X-Tier: Gold"),
		on("www.shop.test", "/caf%C3%A9"), on("www.shop.test", "/caf%c3%a9"), on("www.shop.test", "/café"), on("www.shop.test", "/cafe"),
	},
}

func shop(path string, headers ...string) conformanceCase {
	return on("shop.example.com", path, headers...)
}

func on(host, path string, headers ...string) conformanceCase {
	return conformanceCase{method: "GET", host: host, path: path, headers: headers, backend: anyBackend}
}

// tlsSuite checks the HTTPS side: the handshake by SNI (no certificate on
// the default server: refused), the request by Host, plain HTTP sent to
// the HTTPS port, and an HTTP → HTTPS redirect.
var tlsSuite = agreementSuite{
	manifest: "tls", gateway: "tls",
	files:   []string{"operator/explain/testdata/tls.yaml"},
	secrets: map[string][]string{"secure-cert": {"secure.example.com"}, "wildcard-cert": {"*.example.com"}},
	cases: []conformanceCase{
		secure("secure.example.com", "secure.example.com", "/x", "catalog-v1"),
		secure("a.example.com", "a.example.com", "/w/1", "catalog-v2"),
		secure("a.example.com", "a.example.com", "/x", ""),
		secure("other.test", "other.test", "/x", refused),
		secure("", "secure.example.com", "/x", refused),
		// A Host of another listener than the SNI's: 421.
		secure("secure.example.com", "a.example.com", "/w", misdirectedRequest),
		secure("a.example.com", "secure.example.com", "/x", misdirectedRequest),
		secure("a.example.com", "b.example.com", "/w/2", "catalog-v2"),
		secure("secure.example.com", "nothing.test", "/x", ""),
		{method: "GET", host: "secure.example.com", path: "/x", tlsPort: true, backend: anyBackend},
		on("plain.test", "/p?q=1"),
	},
}

func secure(sni, host, path, backend string) conformanceCase {
	return conformanceCase{method: "GET", host: host, path: path, https: true, sni: sni, backend: backend}
}

// TestAgreesWithNginx renders the conformance suite's HTTPRoute matching
// manifests as the operator does, runs nginx on the result, sends each
// request of the suite, and checks that the route, rule, backend (from
// nginx's access log) and status nginx chose are what Explain says, and
// that the backend is the one the suite expects.
func TestAgreesWithNginx(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	dir := conformanceDir(t)
	backends := localBackends{http: startBackend(t), grpc: startGRPCBackend(t)}
	suites := append(append(conformanceSuites, grpcSuites...), edgeSuite, tlsSuite)
	for _, suite := range suites {
		t.Run(suite.manifest, func(t *testing.T) {
			addr, port := testenv.FreeLoopbackAddr(t)
			tlsPort := freePort(t, addr)
			nn := types.NamespacedName{Namespace: "gateway-conformance-infra", Name: suite.gateway}
			if suite.files != nil {
				nn.Namespace = "shop"
			}
			in := suiteInput(t, dir, suite, port, tlsPort, backends)
			piped := pipeline.Run(in)
			gw := gatewayOf(t, piped, nn, suite.files == nil)
			m := gw.Model
			if err := piped.Errors[nn]; err != nil {
				t.Fatalf("rendering: %v", err)
			}
			files := piped.Files[nn]
			tree := maps.Clone(files.Config)
			maps.Copy(tree, files.Secret)
			ports := []int32{port}
			if suite.secrets != nil {
				ports = append(ports, tlsPort)
			}
			n := testenv.StartNginx(t, tree, testenv.EndpointsTable(gw.Endpoints), addr, ports...)
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

			for i, tc := range suite.cases {
				name := fmt.Sprintf("%d %s %s%s %v", i, tc.method, tc.host, tc.path, tc.headers)
				t.Run(name, func(t *testing.T) {
					scheme, urlHost, to := "http", addr, port
					if tc.https {
						scheme = "https"
						if tc.sni != "" {
							urlHost = tc.sni
						}
					}
					if tc.https || tc.tlsPort {
						to = tlsPort
					}
					host := tc.host
					if host == "" {
						host = fmt.Sprintf("%s:%d", addr, to)
					}
					var headers []explain.Header
					if tc.grpcMethod != "" {
						headers = grpcHeaders()
					}
					for _, h := range tc.headers {
						hdr, err := explain.ParseHeader(h)
						if err != nil {
							t.Fatal(err)
						}
						headers = append(headers, hdr)
					}
					req, err := explain.NewRequest(tc.method, fmt.Sprintf("%s://%s:%d%s", scheme, urlHost, to, tc.path), append(headers, explain.Header{Name: "Host", Value: host}))
					if err != nil {
						t.Fatal(err)
					}
					said := explain.Explain(m, gw.Endpoints, req)

					before := len(accessEntries(t, n.Logs()))
					var status int
					var location string
					if tc.grpcMethod != "" {
						err = callGRPC(addr, to, host, tc.grpcMethod, tc.headers)
					} else {
						status, location, err = send(client, req, addr, to)
					}
					if (said.Response.Outcome == explain.OutcomeTLSRefused) != (tc.backend == refused) && tc.backend != anyBackend {
						t.Errorf("explain says %s (%s), the suite expects %q", said.Response.Outcome, said.Response.Why, tc.backend)
					}
					if said.Response.Outcome == explain.OutcomeTLSRefused {
						if err == nil {
							t.Errorf("nginx answered %d; explain says the handshake is refused: %s", status, said.Response.Why)
						}
						return
					}
					if err != nil {
						t.Fatalf("explain says %s (%s); the request failed: %v", said.Response.Outcome, said.Response.Why, err)
					}
					if location != said.Response.Redirect {
						t.Errorf("nginx redirects to %q, explain says %q", location, said.Response.Redirect)
					}
					line := waitLogLine(t, n, before)
					if tc.grpcMethod != "" {
						status = line.Status // gRPC errors travel in trailers: HTTP's status is nginx's
					}

					wantStatus := said.Response.Status
					if wantStatus == 0 {
						wantStatus = 200 // the backend's answer
					}
					if status != wantStatus {
						t.Errorf("nginx answered %d, explain says %d (%s)", status, wantStatus, said.Response.Outcome)
					}
					var route, rule, logBackend string
					if said.Selected != nil {
						route, rule = said.Selected.Route, said.Selected.Rule
						logBackend = said.Response.AccessLog.Backend
						for _, b := range said.Response.Backends {
							if len(said.Response.Backends) > 1 && b.Log == line.Backend {
								logBackend = b.Log // one of the split's shares
							}
						}
					}
					if got := line.Route + " rule " + line.Rule + " backend " + line.Backend; got != route+" rule "+rule+" backend "+logBackend {
						t.Errorf("nginx chose %q, explain says %q", got, route+" rule "+rule+" backend "+logBackend)
					}

					gotService := ""
					if len(said.Response.Backends) == 1 {
						gotService = said.Response.Backends[0].Service
					}
					if tc.backend == anyBackend {
						return
					}
					if tc.backend == misdirectedRequest {
						if said.Response.Status != 421 {
							t.Errorf("the case expects 421; explain says %d (%s)", said.Response.Status, said.Response.Outcome)
						}
						return
					}
					if tc.backend == "" && (said.Response.Status != 404 || gotService != "") {
						t.Errorf("the suite expects 404; explain says %d to %q", said.Response.Status, gotService)
					}
					if tc.backend != "" && line.Backend == "no-endpoints" {
						t.Errorf("the backends have no endpoints: the request never reached one")
					}
					if want := nn.Namespace + "/" + tc.backend + ":8080"; tc.backend != "" && gotService != want {
						t.Errorf("explain sends it to %q, the suite expects %q", gotService, want)
					}
				})
			}
		})
	}
}

// conformanceDir is the conformance module's folder (its manifests).
func conformanceDir(t *testing.T) string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api/conformance").Output()
	if err != nil {
		t.Fatalf("locating sigs.k8s.io/gateway-api/conformance: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// suiteInput reads a suite's objects: for a conformance test, the suite's
// base manifests and the test's manifest for our GatewayClass. It moves
// every port-80 listener to port and points every Service that has
// EndpointSlices (all of them for conformance tests) at the local
// backends (h2c ports at the gRPC one).
// localBackends are the ports of the local HTTP and gRPC (h2c) backends.
type localBackends struct{ http, grpc int32 }

func suiteInput(t *testing.T, dir string, suite agreementSuite, port, tlsPort int32, backends localBackends) translate.Input {
	t.Helper()
	var paths []string
	if suite.files != nil {
		for _, f := range suite.files {
			paths = append(paths, filepath.Join(testenv.RepoRoot(), f))
		}
	} else {
		tmp := t.TempDir()
		for _, f := range []string{filepath.Join(dir, "base", "manifests.yaml"), filepath.Join(dir, "tests", suite.manifest+".yaml")} {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.ReplaceAll(string(data), "{GATEWAY_CLASS_NAME}", "nginx"))
			if err := os.WriteFile(filepath.Join(tmp, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		class := "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata:\n  name: nginx\nspec:\n  controllerName: " + translate.ControllerName + "\n"
		if err := os.WriteFile(filepath.Join(tmp, "class.yaml"), []byte(class), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = []string{tmp}
	}
	in, _, err := rendercmd.ReadInput(paths)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in.Gateways {
		for j := range in.Gateways[i].Spec.Listeners {
			switch l := &in.Gateways[i].Spec.Listeners[j]; l.Port {
			case 80:
				l.Port = port
			case 443:
				l.Port = tlsPort
			}
		}
	}
	for name, hosts := range suite.secrets {
		cert, key := testenv.SelfSignedCert(t, hosts...)
		in.Secrets = append(in.Secrets, corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: name}, Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: key}})
	}
	hasSlices := map[types.NamespacedName]bool{}
	for _, es := range in.EndpointSlices {
		hasSlices[types.NamespacedName{Namespace: es.Namespace, Name: es.Labels[discoveryv1.LabelServiceName]}] = true
	}
	in.EndpointSlices = nil
	for _, svc := range in.Services {
		if suite.files != nil && !hasSlices[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] {
			continue
		}
		slice := discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: svc.Namespace, Name: svc.Name + "-local", Labels: map[string]string{
				discoveryv1.LabelServiceName: svc.Name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		}
		for _, p := range svc.Spec.Ports {
			backend := backends.http
			if p.AppProtocol != nil && *p.AppProtocol == "kubernetes.io/h2c" {
				backend = backends.grpc
			}
			slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{Name: ptr.To(p.Name), Port: ptr.To(backend)})
		}
		in.EndpointSlices = append(in.EndpointSlices, slice)
	}
	return in
}

// modelOf is Gateway nn's model; with allAccepted, every route naming
// the Gateway must be accepted and resolved.
func gatewayOf(t *testing.T, piped pipeline.Result, nn types.NamespacedName, allAccepted bool) translate.GatewayResult {
	t.Helper()
	for _, gw := range piped.Output.Gateways {
		if gw.NamespacedName == nn {
			if gw.Model == nil {
				t.Fatalf("Gateway %s not accepted: %+v", nn, gw.Status.Conditions)
			}
			for key, parents := range piped.Output.Routes {
				for _, p := range parents {
					for _, c := range p.Conditions {
						if allAccepted && c.Status != metav1.ConditionTrue && string(p.ParentRef.Name) == nn.Name {
							t.Errorf("route %s: %s %s: %s", key, c.Type, c.Reason, c.Message)
						}
					}
				}
			}
			return gw
		}
	}
	t.Fatalf("no Gateway %s", nn)
	return translate.GatewayResult{}
}

// startBackend is an HTTP server on 127.0.0.1 answering 200 to everything.
func startBackend(t *testing.T) int32 {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// send sends req to nginx on addr:port, exactly (one fresh connection, no
// retries, TLS with req's SNI for https), and returns the status and
// Location header.
func send(client *http.Client, req explain.Request, addr string, port int32) (int, string, error) {
	r, err := http.NewRequest(req.Method, fmt.Sprintf("%s://%s:%d/", req.Scheme, addr, port), nil)
	if err != nil {
		return 0, "", err
	}
	if req.Scheme == "https" {
		client = &http.Client{Timeout: client.Timeout, CheckRedirect: client.CheckRedirect, Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{ServerName: req.SNI, InsecureSkipVerify: true}}} //nolint:gosec // a test's self-signed certificates
	}
	// The target goes out as written: no re-escaping, no cleaning.
	r.URL.Opaque = req.Target
	for _, h := range req.Headers {
		if strings.EqualFold(h.Name, "Host") {
			r.Host = h.Value
		} else {
			r.Header.Add(h.Name, h.Value)
		}
	}
	resp, err := client.Do(r)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// freePort is a port where nothing listens on addr.
func freePort(t *testing.T, addr string) int32 {
	l, err := net.Listen("tcp", addr+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// accessEntries are the access log lines (HTTP requests and stream
// sessions, in the format the Gateway's settings chose) of nginx's output,
// parsed as the kubectl plugin parses them. A line that is neither nginx's
// error log nor an access line fails the test at once: a format this test
// cannot read must not look like a line that never came.
func accessEntries(t *testing.T, out string) []logs.Entry {
	t.Helper()
	var entries []logs.Entry
	for _, l := range strings.Split(out, "\n") {
		if e, ok := logs.Parse(l); ok {
			entries = append(entries, e)
		} else if l != "" && !errorLogLine.MatchString(l) {
			t.Fatalf("an nginx output line that is neither an access line nor the error log: %s", l)
		}
	}
	return entries
}

// errorLogLine is the start of an nginx error log line.
var errorLogLine = regexp.MustCompile(`^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:]{8} \[`)

// waitLogLine waits for the access log line (HTTP or stream) after the
// first before ones.
func waitLogLine(t *testing.T, n *testenv.Nginx, before int) logs.Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		if entries := accessEntries(t, n.Logs()); len(entries) > before {
			return entries[before]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no access log line for the request:\n%s", testenv.Tail(n.Logs(), 2000))
		case <-time.After(10 * time.Millisecond):
		}
	}
}
