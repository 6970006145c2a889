package render_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// The pipeline fuzz test drives translate + render with arbitrary values in
// every user-writable HTTPRoute field, without filtering them first: the
// translation step must refuse what is unsafe. Properties:
//   (a) Build and Render never panic, and Render never fails on a model
//       that Build produced;
//   (b) an accepted route renders a tree that `nginx -t` accepts with no
//       warning;
//   (c) values cannot add directives or blocks: see directivesWithin;
//   (d) a refused route says why, naming the field (spec.…).

// routeValues are the user-writable HTTPRoute fields the fuzzer sets.
type routeValues struct {
	Hostname                           string
	ExactPath, PrefixPath, PathRegex   string
	HeaderName, HeaderValue, HeaderRE  string
	QueryName, QueryValue              string
	Method                             string
	ModName, ModValue                  string
	RedirectScheme, RedirectHost       string
	RedirectPath                       string
	RewriteHost, RewritePath           string
	CORSOrigin, CORSMethod, CORSHeader string
	Mirror                             string
	RuleName                           string
	Timeout                            string
}

// benignValues is the reference input: valid, ordinary values.
var benignValues = routeValues{
	Hostname: "app.example.com", ExactPath: "/exact", PrefixPath: "/prefix", PathRegex: "^/re/[a-z]+$",
	HeaderName: "X-Match", HeaderValue: "yes", HeaderRE: "^v[0-9]+$", QueryName: "q", QueryValue: "1", Method: "GET",
	ModName: "X-Mod", ModValue: "mod", RedirectScheme: "https", RedirectHost: "redirect.example.com", RedirectPath: "/moved",
	RewriteHost: "rewrite.example.com", RewritePath: "/new", CORSOrigin: "https://origin.example.com", CORSMethod: "POST",
	CORSHeader: "X-Cors", Mirror: "echo", RuleName: "main", Timeout: "10s",
}

// benignVariants are valid inputs whose structure legitimately differs
// from benignValues (a value that selects another, still fixed, shape:
// an exact path equal to the prefix, "/" paths, a zero timeout, CORS
// wildcards, empty replacement paths, a redirect without scheme). The
// directives of any accepted input must stay within what these produce.
func benignVariants() []routeValues {
	mod := func(f func(*routeValues)) routeValues { v := benignValues; f(&v); return v }
	return []routeValues{
		benignValues,
		mod(func(v *routeValues) { v.ExactPath = v.PrefixPath }),
		mod(func(v *routeValues) { v.ExactPath = v.PrefixPath + "/below" }),
		mod(func(v *routeValues) { v.PrefixPath = v.ExactPath + "/below" }),
		mod(func(v *routeValues) { v.PrefixPath = "/"; v.ExactPath = "/" }),
		mod(func(v *routeValues) { v.PrefixPath = "/" }),
		mod(func(v *routeValues) { v.ExactPath = "/" }),
		mod(func(v *routeValues) { v.Timeout = "0s" }),
		mod(func(v *routeValues) { v.CORSOrigin, v.CORSMethod, v.CORSHeader = "*", "*", "*" }),
		mod(func(v *routeValues) { v.CORSOrigin = "https://*.example.com" }),
		mod(func(v *routeValues) { v.RewritePath, v.RedirectPath = "", "" }),
		mod(func(v *routeValues) { v.RedirectScheme = "http" }),
		mod(func(v *routeValues) { v.Hostname = "*.example.com" }),
		mod(func(v *routeValues) { v.Mirror = "missing" }),
		mod(func(v *routeValues) { v.ModName = "X-Add" }),
		mod(func(v *routeValues) { v.HeaderName = "x-re" }),
		mod(func(v *routeValues) { v.HeaderRE = "é"; v.PathRegex = "^/é" }),
	}
}

// addSeed adds v to the fuzz corpus.
func addSeed(f *testing.F, v routeValues) {
	f.Add(v.Hostname, v.ExactPath, v.PrefixPath, v.PathRegex, v.HeaderName, v.HeaderValue, v.HeaderRE,
		v.QueryName, v.QueryValue, v.Method, v.ModName, v.ModValue, v.RedirectScheme, v.RedirectHost, v.RedirectPath,
		v.RewriteHost, v.RewritePath, v.CORSOrigin, v.CORSMethod, v.CORSHeader, v.Mirror, v.RuleName, v.Timeout)
}

func ptr[T any](v T) *T { return &v }

var certPEM, keyPEM = mustRead("testdata/certs/example.crt"), mustRead("testdata/certs/example.key")

func mustRead(name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		panic(err)
	}
	return b
}

// pipelineInput is a Gateway with an HTTP port shared by a listener
// without hostname and one with a hostname, an HTTPS listener, a TCP and a
// TLS passthrough listener, a Service with an endpoint, one HTTPRoute
// holding the values, and a TCPRoute and a TLSRoute holding those that
// apply to them (hostname, rule name, a backend's name).
func pipelineInput(v routeValues) translate.Input {
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1}
	}
	listener := func(name string, port int32, proto gatewayv1.ProtocolType, host string) gatewayv1.Listener {
		l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: port, Protocol: proto}
		if host != "" {
			l.Hostname = ptr(gatewayv1.Hostname(host))
		}
		return l
	}
	https := listener("https", 8443, gatewayv1.HTTPSProtocolType, "")
	https.TLS = &gatewayv1.ListenerTLSConfig{Mode: ptr(gatewayv1.TLSModeTerminate),
		CertificateRefs: []gatewayv1.SecretObjectReference{{Name: "cert"}}}
	// On the HTTPS listener's port: connections are handed on by server name.
	passthrough := listener("tls", 8443, gatewayv1.TLSProtocolType, "*.example.com")
	passthrough.TLS = &gatewayv1.ListenerTLSConfig{Mode: ptr(gatewayv1.TLSModePassthrough)}
	streamBackends := []gatewayv1.BackendRef{
		{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "echo", Port: ptr(gatewayv1.PortNumber(80))}, Weight: ptr(int32(3))},
		{BackendObjectReference: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(v.Mirror), Port: ptr(gatewayv1.PortNumber(80))}},
	}
	echo := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: "echo", Port: ptr(gatewayv1.PortNumber(80))}}}
	header := func(name, value string) []gatewayv1.HTTPHeader {
		return []gatewayv1.HTTPHeader{{Name: gatewayv1.HTTPHeaderName(name), Value: value}}
	}
	mods := &gatewayv1.HTTPHeaderFilter{Set: header(v.ModName, v.ModValue), Add: header("X-Add", v.ModValue), Remove: []string{v.ModName}}
	prefixMatch := gatewayv1.HTTPRouteMatch{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr(v.PrefixPath)}}

	rules := []gatewayv1.HTTPRouteRule{{
		Name: ptr(gatewayv1.SectionName(v.RuleName)),
		Matches: []gatewayv1.HTTPRouteMatch{
			{
				Path:        &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchExact), Value: ptr(v.ExactPath)},
				Headers:     []gatewayv1.HTTPHeaderMatch{{Name: gatewayv1.HTTPHeaderName(v.HeaderName), Value: v.HeaderValue}},
				QueryParams: []gatewayv1.HTTPQueryParamMatch{{Name: gatewayv1.HTTPHeaderName(v.QueryName), Value: v.QueryValue}},
				Method:      ptr(gatewayv1.HTTPMethod(v.Method)),
			},
			{
				Path: prefixMatch.Path,
				Headers: []gatewayv1.HTTPHeaderMatch{{Type: ptr(gatewayv1.HeaderMatchRegularExpression),
					Name: "x-re", Value: v.HeaderRE}},
			},
			{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchRegularExpression), Value: ptr(v.PathRegex)}},
		},
		Filters: []gatewayv1.HTTPRouteFilter{
			{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier, RequestHeaderModifier: mods},
			{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier, ResponseHeaderModifier: mods},
			{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
				Hostname: ptr(gatewayv1.PreciseHostname(v.RewriteHost)),
				Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.FullPathHTTPPathModifier, ReplaceFullPath: ptr(v.RewritePath)}}},
			{Type: gatewayv1.HTTPRouteFilterCORS, CORS: &gatewayv1.HTTPCORSFilter{
				AllowOrigins: []gatewayv1.CORSOrigin{gatewayv1.CORSOrigin(v.CORSOrigin)},
				AllowMethods: []gatewayv1.HTTPMethodWithWildcard{gatewayv1.HTTPMethodWithWildcard(v.CORSMethod)},
				AllowHeaders: []gatewayv1.HTTPHeaderName{gatewayv1.HTTPHeaderName(v.CORSHeader)}}},
			{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{
				BackendRef: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(v.Mirror), Port: ptr(gatewayv1.PortNumber(80))}}},
		},
		BackendRefs: []gatewayv1.HTTPBackendRef{echo},
		Timeouts:    &gatewayv1.HTTPRouteTimeouts{Request: ptr(gatewayv1.Duration(v.Timeout))},
	}, {
		Matches: []gatewayv1.HTTPRouteMatch{prefixMatch},
		Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestRedirect, RequestRedirect: &gatewayv1.HTTPRequestRedirectFilter{
			Scheme:   ptr(v.RedirectScheme),
			Hostname: ptr(gatewayv1.PreciseHostname(v.RedirectHost)),
			Path:     &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr(v.RedirectPath)}}}},
	}, {
		Matches: []gatewayv1.HTTPRouteMatch{prefixMatch},
		Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterURLRewrite, URLRewrite: &gatewayv1.HTTPURLRewriteFilter{
			Path: &gatewayv1.HTTPPathModifier{Type: gatewayv1.PrefixMatchHTTPPathModifier, ReplacePrefixMatch: ptr(v.RewritePath)}}}},
		BackendRefs: []gatewayv1.HTTPBackendRef{echo},
	}}

	return translate.Input{
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Generation: 1},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}},
		Gateways: []gatewayv1.Gateway{{ObjectMeta: meta("gw"), Spec: gatewayv1.GatewaySpec{GatewayClassName: "nginx",
			Listeners: []gatewayv1.Listener{
				listener("http", 8080, gatewayv1.HTTPProtocolType, ""),
				listener("http-named", 8080, gatewayv1.HTTPProtocolType, "named.example.com"),
				https,
				listener("tcp", 9000, gatewayv1.TCPProtocolType, ""),
				passthrough,
			}}}},
		Secrets: []corev1.Secret{{ObjectMeta: meta("cert"), Type: corev1.SecretTypeTLS,
			Data: map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM}}},
		Services: []corev1.Service{{ObjectMeta: meta("echo"), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		EndpointSlices: []discoveryv1.EndpointSlice{{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "echo-1", Labels: map[string]string{
				discoveryv1.LabelServiceName: "echo", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
			}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
		}},
		HTTPRoutes: []*gatewayv1.HTTPRoute{{ObjectMeta: meta("route"), Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(v.Hostname)},
			Rules:           rules,
		}}},
		TCPRoutes: []*gatewayv1.TCPRoute{{ObjectMeta: meta("tcp"), Spec: gatewayv1.TCPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Rules:           []gatewayv1.TCPRouteRule{{Name: ptr(gatewayv1.SectionName(v.RuleName)), BackendRefs: streamBackends}},
		}}},
		TLSRoutes: []*gatewayv1.TLSRoute{{ObjectMeta: meta("tls"), Spec: gatewayv1.TLSRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname(v.Hostname)},
			Rules:           []gatewayv1.TLSRouteRule{{Name: ptr(gatewayv1.SectionName(v.RuleName)), BackendRefs: streamBackends}},
		}}},
	}
}

// pipelineResult is what translate + render made of one input.
type pipelineResult struct {
	accepted metav1.Condition
	files    render.Files
}

func runPipeline(t testing.TB, v routeValues) pipelineResult {
	t.Helper()
	out := translate.Translate(pipelineInput(v))
	parents := out.Routes[translate.RouteKey{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: "default", Name: "route"}}]
	if len(out.Gateways) != 1 || out.Gateways[0].Model == nil || len(parents) != 1 {
		t.Fatalf("the Gateway is not accepted or the route not seen: %+v", out)
	}
	var res pipelineResult
	for _, c := range parents[0].Conditions {
		if c.Type == string(gatewayv1.RouteConditionAccepted) {
			res.accepted = c
		}
	}
	files, err := render.Render(out.Gateways[0].Model)
	if err != nil {
		t.Fatalf("render fails on a model the translation step made: %v", err)
	}
	res.files = files
	return res
}

// shape is what a config file is made of, whatever its strings: how often
// each directive appears in each context (e.g. "main/server/location/proxy_pass")
// and, for every block, its context and how often each simple directive
// (not a nested block) appears in it.
type shape struct {
	counts map[string]int
	blocks []blockShape
}

type blockShape struct {
	context    string
	directives map[string]int
}

// within reports whether every directive of b appears in o at least as
// often, in the same context.
func (b blockShape) within(o blockShape) bool {
	if b.context != o.context {
		return false
	}
	for d, n := range b.directives {
		if o.directives[d] < n {
			return false
		}
	}
	return true
}

// parseShape reads a config the way nginx's parser does: quoted strings
// with backslash escapes, "#" comments at the start of a token, and ";",
// "{", "}" ending statements. A directive whose name is a string (a map
// or split_clients entry) is named "<string>".
func parseShape(conf string) (shape, error) {
	sh := shape{counts: map[string]int{}}
	stack := []*blockShape{{context: "main", directives: map[string]int{}}}
	var stmt []string
	for i := 0; i < len(conf); {
		c := conf[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '#' && (len(stmt) == 0 || strings.IndexByte(" \t\r\n", conf[i-1]) >= 0):
			for i < len(conf) && conf[i] != '\n' {
				i++
			}
		case c == ';' || c == '{':
			if len(stmt) == 0 {
				return sh, fmt.Errorf("empty statement at byte %d", i)
			}
			name := stmt[0]
			if name[0] == '"' || name[0] == '\'' {
				name = "<string>"
			}
			top := stack[len(stack)-1]
			sh.counts[top.context+"/"+name]++
			if c == '{' {
				stack = append(stack, &blockShape{context: top.context + "/" + name, directives: map[string]int{}})
			} else {
				top.directives[name]++
			}
			stmt = stmt[:0]
			i++
		case c == '}':
			if len(stmt) != 0 || len(stack) == 1 {
				return sh, fmt.Errorf("unbalanced '}' at byte %d", i)
			}
			sh.blocks = append(sh.blocks, *stack[len(stack)-1])
			stack = stack[:len(stack)-1]
			i++
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(conf) && conf[j] != c {
				if conf[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(conf) {
				return sh, fmt.Errorf("unterminated string at byte %d", i)
			}
			stmt = append(stmt, conf[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(conf) && strings.IndexByte(" \t\r\n;{}\"'", conf[j]) < 0 {
				if conf[j] == '\\' {
					j++
				}
				j++
			}
			stmt = append(stmt, conf[i:min(j, len(conf))])
			i = j
		}
	}
	if len(stack) != 1 || len(stmt) != 0 {
		return sh, fmt.Errorf("unterminated block or statement")
	}
	return sh, nil
}

// directiveBudget is, per file, what the benign variants produce: the
// largest count of each directive in each context, and every block.
type directiveBudget map[string]shape

func newDirectiveBudget(t testing.TB) directiveBudget {
	b := directiveBudget{}
	for i, v := range benignVariants() {
		res := runPipeline(t, v)
		if res.accepted.Status != metav1.ConditionTrue {
			t.Fatalf("benign variant %d refused: %s", i, res.accepted.Message)
		}
		for name, data := range res.files.Config {
			sh, err := parseShape(string(data))
			if err != nil {
				t.Fatalf("benign variant %d: %s: %v", i, name, err)
			}
			all, ok := b[name]
			if !ok {
				all = shape{counts: map[string]int{}}
			}
			for d, n := range sh.counts {
				all.counts[d] = max(all.counts[d], n)
			}
			all.blocks = append(all.blocks, sh.blocks...)
			b[name] = all
		}
	}
	return b
}

// directivesWithin is property (c), the superset rule: every block of
// every file is within a block some benign variant renders (same context;
// each directive at most as often: values may drop directives, such as a
// zero timeout or a mirror that does not resolve, never add one), and no
// directive appears in a context more often than in the benign variant
// that has it most (this bounds the number of blocks). A value that
// escaped its quotes adds a directive to a block, or a block to a context.
func (b directiveBudget) directivesWithin(files render.Files) error {
	for name, data := range files.Config {
		sh, err := parseShape(string(data))
		if err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		for d, n := range sh.counts {
			if limit := b[name].counts[d]; n > limit {
				return fmt.Errorf("%s: directive %s appears %d times, benign inputs have at most %d", name, d, n, limit)
			}
		}
	blocks:
		for _, blk := range sh.blocks {
			for _, benign := range b[name].blocks {
				if blk.within(benign) {
					continue blocks
				}
			}
			return fmt.Errorf("%s: no benign input renders a %s block with directives %v", name, blk.context, blk.directives)
		}
	}
	return nil
}

// checkPipeline checks properties (b), (c) and (d) for one input.
func checkPipeline(t *testing.T, budget directiveBudget, v routeValues) {
	res := runPipeline(t, v)
	if res.accepted.Status != metav1.ConditionTrue {
		reason := gatewayv1.RouteConditionReason(res.accepted.Reason)
		if reason != gatewayv1.RouteReasonUnsupportedValue && reason != gatewayv1.RouteReasonIncompatibleFilters {
			t.Fatalf("refused with reason %s: %s", reason, res.accepted.Message)
		}
		if !strings.HasPrefix(res.accepted.Message, "spec.") {
			t.Fatalf("refusal does not name the field: %q", res.accepted.Message)
		}
		return
	}
	if err := budget.directivesWithin(res.files); err != nil {
		t.Fatalf("input %#v: %v\n%s", v, err, res.files.Config[render.FileServers])
	}
	dir := t.TempDir()
	for _, m := range []map[string][]byte{res.files.Config, res.files.Secret} {
		for name, data := range m {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := testenv.NginxTestStrict(dir); err != nil {
		t.Fatalf("input %#v: %v", v, err)
	}
}

// hostileSeeds put a hostile string into each field in turn.
var hostileStrings = []string{
	`"`, `'`, `;`, `{`, `}`, `x"; return 200 "pwned`, `x'; include /etc/passwd; '`, "$host", "${request_uri}", `\`, `\"`,
	"a\nb", "a\r\nLocation: x", "#comment", "é☺", "%0d%0a", "/a%0d%0ab", "/%22%3b%7b", "/caf%C3%A9", "/a%2e%2e/b",
	"/%2e%2e", "/a%25b", "/a%00", "(?P<x>a)|b", `\Q"\E`, "(a", "[", "^.*$", "*", "~*evil", "*.example.com", " ",
	"/a b", "/a;b{c}", "/$x", strings.Repeat("a", 5000), "/" + strings.Repeat("b", 2000), "", "0s", "1h2m3s4ms", "100000h",
	"http", "HTTPS", "*.a.b", "-a.b", "a..b", "GET", "get", "https://*", "https://a.b:99999", "null",
}

func FuzzPipeline(f *testing.F) {
	for _, v := range benignVariants() {
		addSeed(f, v)
	}
	fields := reflect.TypeFor[routeValues]().NumField()
	for i := range fields {
		for _, s := range hostileStrings {
			v := benignValues
			reflect.ValueOf(&v).Elem().Field(i).SetString(s)
			addSeed(f, v)
		}
	}
	budget := newDirectiveBudget(f)
	f.Fuzz(func(t *testing.T, hostname, exactPath, prefixPath, pathRegex, headerName, headerValue, headerRE,
		queryName, queryValue, method, modName, modValue, redirectScheme, redirectHost, redirectPath,
		rewriteHost, rewritePath, corsOrigin, corsMethod, corsHeader, mirror, ruleName, timeout string) {
		checkPipeline(t, budget, routeValues{hostname, exactPath, prefixPath, pathRegex, headerName, headerValue, headerRE,
			queryName, queryValue, method, modName, modValue, redirectScheme, redirectHost, redirectPath,
			rewriteHost, rewritePath, corsOrigin, corsMethod, corsHeader, mirror, ruleName, timeout})
	})
}

// TestDirectiveBudgetCatchesInjection makes sure property (c) can fail: a
// value that escaped its quotes adds a directive, a block or a repeat.
func TestDirectiveBudgetCatchesInjection(t *testing.T) {
	budget := newDirectiveBudget(t)
	benign := runPipeline(t, benignValues).files
	if err := budget.directivesWithin(benign); err != nil {
		t.Fatalf("benign input: %v", err)
	}
	for _, injected := range []string{
		`"Host" "rewrite.example.com"; return 200 "pwned"`,
		`"Host" "rewrite.example.com"; location /x { return 200; }`,
		`"Host" "rewrite.example.com"; proxy_pass http://evil`,
		`"Host" "rewrite.example.com"; } server { listen 81; } location /y { `,
	} {
		files := render.Files{Config: map[string][]byte{}}
		maps.Copy(files.Config, benign.Config)
		conf := string(files.Config[render.FileServers])
		if !strings.Contains(conf, `"Host" "rewrite.example.com"`) {
			t.Fatalf("servers.conf has no Host header to replace")
		}
		files.Config[render.FileServers] = []byte(strings.Replace(conf, `"Host" "rewrite.example.com"`, injected, 1))
		if err := budget.directivesWithin(files); err == nil {
			t.Errorf("injection %q not detected", injected)
		}
	}
}

// TestPipelineVariants runs the properties on the benign variants and on
// a few hand-picked hostile inputs (the seed corpus of FuzzPipeline runs
// them all with plain `go test`).
func TestPipelineVariants(t *testing.T) {
	budget := newDirectiveBudget(t)
	stream := string(runPipeline(t, benignValues).files.Config[render.FileStream])
	for _, want := range []string{`"TCPRoute default/tcp"`, `"TLSRoute default/tls"`, `"app.example.com" tls`, `default ngo_tls_8443_https;`} {
		if !strings.Contains(stream, want) {
			t.Fatalf("the benign input's stream.conf has no %s:\n%s", want, stream)
		}
	}
	for i, v := range benignVariants() {
		t.Run(fmt.Sprint(i), func(t *testing.T) { checkPipeline(t, budget, v) })
	}
}

// Second mode: every field at its CRD maximum length (gateway-api v1.6.3
// kubebuilder MaxLength markers), filled with the worst characters for the
// escaping (all "$", all "\", all `"`, …), together, through
// pipeline.Run: every route it accepts renders a config that passes
// nginx -t, and a refused route is Accepted False naming the field.

// maxLengths are the CRD's maxLength of each routeValues field.
var maxLengths = map[string]int{
	"Hostname": 253, "ExactPath": 1024, "PrefixPath": 1024, "PathRegex": 1024, "HeaderName": 256,
	"HeaderValue": 4096, "HeaderRE": 4096, "QueryName": 256, "QueryValue": 1024, "Method": 7, "ModName": 256,
	"ModValue": 4096, "RedirectScheme": 5, "RedirectHost": 253, "RedirectPath": 1024, "RewriteHost": 253,
	"RewritePath": 1024, "CORSOrigin": 253, "CORSMethod": 7, "CORSHeader": 256, "Mirror": 253, "RuleName": 253,
	"Timeout": 6,
}

// worstChars grow most once quoted, regex-escaped or %-escaped.
var worstChars = []string{"$", `\`, `"`, "%", ".", "a", "é", "/"}

// maxValues fills every field with fill(field) repeated to its maximum
// length, where which says, per field, whether to fill it (bit i of mask)
// or keep the benign value.
func maxValues(ch byte, mask uint32) routeValues {
	v := benignValues
	rv := reflect.ValueOf(&v).Elem()
	for i := range rv.NumField() {
		if mask&(1<<i) == 0 {
			continue
		}
		name := rv.Type().Field(i).Name
		s := worstChars[int(ch)%len(worstChars)]
		val := strings.Repeat(s, maxLengths[name]/len(s))
		if strings.HasSuffix(name, "Path") {
			val = "/" + val[1:]
		}
		rv.Field(i).SetString(val)
	}
	return v
}

func checkPipelineMax(t *testing.T, v routeValues) {
	res := pipeline.Run(pipelineInput(v))
	key := translate.RouteKey{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: "default", Name: "route"}}
	parents := res.Output.Routes[key]
	if len(parents) != 1 {
		t.Fatalf("route not seen")
	}
	for _, c := range parents[0].Conditions {
		if c.Type != string(gatewayv1.RouteConditionAccepted) || c.Status == metav1.ConditionTrue {
			continue
		}
		if !strings.HasPrefix(c.Message, "spec.") {
			t.Fatalf("refusal does not name the field: %q", c.Message)
		}
		return
	}
	gw := types.NamespacedName{Namespace: "default", Name: "gw"}
	if err := res.Errors[gw]; err != nil {
		t.Fatalf("render error: %v", err)
	}
	dir := t.TempDir()
	files := res.Files[gw]
	for _, m := range []map[string][]byte{files.Config, files.Secret} {
		for name, data := range m {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := testenv.NginxTestStrict(dir); err != nil {
		t.Fatalf("input %#v: %v", v, err)
	}
}

func FuzzPipelineMax(f *testing.F) {
	fields := reflect.TypeFor[routeValues]().NumField()
	for ch := range len(worstChars) {
		f.Add(byte(ch), uint32(1<<fields-1)) // every field together
		for i := range fields {
			f.Add(byte(ch), uint32(1)<<i) // each field alone
		}
	}
	f.Fuzz(func(t *testing.T, ch byte, mask uint32) { checkPipelineMax(t, maxValues(ch, mask)) })
}
