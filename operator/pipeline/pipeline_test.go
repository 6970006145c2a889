package pipeline

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/configsource"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

func ptr[T any](v T) *T { return &v }

var gwKey = types.NamespacedName{Namespace: "default", Name: "gw"}

// input is a Gateway with one HTTP listener, a Service with an endpoint,
// a benign route "good" and the route "poison" with rule.
func input(poison gatewayv1.HTTPRouteRule) translate.Input {
	meta := func(name string, age int) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1,
			CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, age, 0, 0, time.UTC))}
	}
	backend := []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
		Name: "echo", Port: ptr(gatewayv1.PortNumber(80))}}}}
	poison.BackendRefs = backend
	route := func(name string, age int, path string, rule gatewayv1.HTTPRouteRule) *gatewayv1.HTTPRoute {
		if rule.Matches == nil {
			rule.Matches = []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr(path)}}}
		}
		return &gatewayv1.HTTPRoute{ObjectMeta: meta(name, age), Spec: gatewayv1.HTTPRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
			Rules:           []gatewayv1.HTTPRouteRule{rule}}}
	}
	return translate.Input{
		GatewayClasses: []gatewayv1.GatewayClass{{ObjectMeta: metav1.ObjectMeta{Name: "nginx", Generation: 1},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}},
		Gateways: []gatewayv1.Gateway{{ObjectMeta: meta("gw", 0), Spec: gatewayv1.GatewaySpec{GatewayClassName: "nginx",
			Listeners: []gatewayv1.Listener{{Name: "http", Port: 8080, Protocol: gatewayv1.HTTPProtocolType}}}}},
		Services: []corev1.Service{{ObjectMeta: meta("echo", 0), Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}}},
		EndpointSlices: []discoveryv1.EndpointSlice{{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: "echo-1", Labels: map[string]string{discoveryv1.LabelServiceName: "echo", discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
			Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"127.0.0.1"}}},
		}},
		HTTPRoutes: []*gatewayv1.HTTPRoute{
			route("good", 1, "/good", gatewayv1.HTTPRouteRule{BackendRefs: backend}),
			route("poison", 2, "/poison", poison),
		},
	}
}

func acceptedCond(t *testing.T, res Result, name string) metav1.Condition {
	t.Helper()
	parents := res.Output.Routes[translate.RouteKey{Kind: "HTTPRoute", NamespacedName: types.NamespacedName{Namespace: "default", Name: name}}]
	if len(parents) != 1 {
		t.Fatalf("route %s: %d parents", name, len(parents))
	}
	for _, c := range parents[0].Conditions {
		if c.Type == string(gatewayv1.RouteConditionAccepted) {
			return c
		}
	}
	t.Fatalf("route %s has no Accepted condition", name)
	return metav1.Condition{}
}

// nginxCheck writes the Gateway's files and runs nginx -t on them.
func nginxCheck(t *testing.T, res Result) string {
	t.Helper()
	if err := res.Errors[gwKey]; err != nil {
		t.Fatalf("render error: %v", err)
	}
	files, ok := res.Files[gwKey]
	if !ok {
		t.Fatal("no files for the Gateway")
	}
	dir := t.TempDir()
	for name, data := range files.Config {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := testenv.NginxTestStrict(dir); err != nil {
		t.Fatal(err)
	}
	return string(files.Config["servers.conf"])
}

func headers(name string, values ...string) []gatewayv1.HTTPHeader {
	var out []gatewayv1.HTTPHeader
	for _, v := range values {
		out = append(out, gatewayv1.HTTPHeader{Name: gatewayv1.HTTPHeaderName(name), Value: v})
	}
	return out
}

// TestPoisonRoutesAreRefused: the reproductions of issue 8. Each poison
// route is Accepted False (UnsupportedValue) with a message naming the
// field and the limit; the good route of the same Gateway is still served
// and the config passes nginx -t.
func TestPoisonRoutesAreRefused(t *testing.T) {
	var longHeaders []gatewayv1.HTTPHeaderName
	for i := range 30 {
		longHeaders = append(longHeaders, gatewayv1.HTTPHeaderName(strings.Repeat(string(rune('a'+i%26)), 200)))
	}
	var origins []gatewayv1.CORSOrigin
	for i := range 60 {
		origins = append(origins, gatewayv1.CORSOrigin("https://"+strings.Repeat("o", 50)+string(rune('a'+i%26))+".example.com"))
	}
	for _, tc := range []struct {
		name  string
		rule  gatewayv1.HTTPRouteRule
		field string
	}{{
		name: "response header of dollars",
		rule: gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
			ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: headers("X-Dollar", strings.Repeat("$", 400))}}}},
		field: "spec.rules[0].filters[0].responseHeaderModifier.set[0].value: 5,202 bytes once escaped for nginx; nginx takes at most 4,095",
	}, {
		name: "request header set and added",
		rule: gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestHeaderModifier,
			RequestHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: headers("X-Long", strings.Repeat("a", 4000)), Add: headers("X-Long", strings.Repeat("b", 4000))}}}},
		field: "spec.rules[0].filters[0].requestHeaderModifier.set[0].value joined with spec.rules[0].filters[0].requestHeaderModifier.add[0].value: 8,003 bytes",
	}, {
		name: "header match of backslashes and quotes",
		rule: gatewayv1.HTTPRouteRule{Matches: []gatewayv1.HTTPRouteMatch{{
			Path:    &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: ptr("/poison")},
			Headers: []gatewayv1.HTTPHeaderMatch{{Name: "X-Match", Value: strings.Repeat(`\"`, 600)}}}}},
		field: "spec.rules[0].matches[0].headers[0].value: ",
	}, {
		name: "CORS lists",
		rule: gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterCORS,
			CORS: &gatewayv1.HTTPCORSFilter{AllowOrigins: origins, AllowHeaders: longHeaders}}}},
		field: "spec.rules[0].filters[0].cors.allowHeaders (joined): 6,060 bytes",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			res := Run(input(tc.rule))
			c := acceptedCond(t, res, "poison")
			if c.Status != metav1.ConditionFalse || c.Reason != string(gatewayv1.RouteReasonUnsupportedValue) ||
				!strings.HasPrefix(c.Message, tc.field) {
				t.Fatalf("poison route: %s %s %q, want False UnsupportedValue %q…", c.Status, c.Reason, c.Message, tc.field)
			}
			if !strings.Contains(c.Message, "4,095") {
				t.Errorf("message does not name the limit: %q", c.Message)
			}
			if g := acceptedCond(t, res, "good"); g.Status != metav1.ConditionTrue {
				t.Fatalf("good route: %s %q", g.Status, g.Message)
			}
			conf := nginxCheck(t, res)
			if !strings.Contains(conf, `"/good/"`) || strings.Contains(conf, "/poison") {
				t.Fatalf("servers.conf does not serve exactly the good route:\n%s", conf)
			}
		})
	}
}

// TestJustUnderTheLimitIsServed: a value as long as nginx takes, once
// escaped, is served and passes nginx -t.
func TestJustUnderTheLimitIsServed(t *testing.T) {
	// quoteValue writes `"` + 4093 bytes + `"` = 4,095.
	rule := gatewayv1.HTTPRouteRule{Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterResponseHeaderModifier,
		ResponseHeaderModifier: &gatewayv1.HTTPHeaderFilter{Set: headers("X-Long", strings.Repeat("a", 4093))}}}}
	res := Run(input(rule))
	if c := acceptedCond(t, res, "poison"); c.Status != metav1.ConditionTrue {
		t.Fatalf("refused: %q", c.Message)
	}
	nginxCheck(t, res)
}

// TestConfigIsEncodedOnce: the pipeline hands over each Gateway's config as
// its ConfigMap stores it, the encoding resources would make, with the
// config hash of its files, so the controller does not compress or hash
// it a second time.
func TestConfigIsEncodedOnce(t *testing.T) {
	res := Run(input(gatewayv1.HTTPRouteRule{}))
	files, ok := res.Files[gwKey]
	if !ok {
		t.Fatalf("no files for %s: %v", gwKey, res.Errors[gwKey])
	}
	enc, ok := res.Encoded[gwKey]
	if want := resources.ConfigHash(files); !ok || enc.Hash != want {
		t.Errorf("encoded config missing (%v) or its hash %q is not the files' %q", ok, enc.Hash, want)
	}
	enc.Hash = ""
	if !reflect.DeepEqual(enc, resources.EncodeConfig(files.Config)) {
		t.Error("encoded config is not the ConfigMap's encoding")
	}
	if enc.Size() == 0 || enc.Size() > CompressedBudget {
		t.Errorf("encoded size %d", enc.Size())
	}
}

// TestSourceDocumentShipsWithTheFiles: the config files carry the source
// document of the model and source map they were rendered from, so it is
// in the ConfigMap and the hash (nginx -t of the tree with it: nginxCheck).
func TestSourceDocumentShipsWithTheFiles(t *testing.T) {
	res := Run(input(gatewayv1.HTTPRouteRule{}))
	nginxCheck(t, res)
	files := res.Files[gwKey]
	doc, err := configsource.Decode(files.Config[dataplane.SourceFile])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(doc.Sources, files.Sources) || len(doc.Sources) == 0 {
		t.Errorf("shipped sources %v, rendered %v", doc.Sources, files.Sources)
	}
	if got := doc.Gateway.Name; got != gwKey.Name || len(doc.Gateway.HTTPServers) == 0 {
		t.Errorf("shipped model of %q with %d servers", got, len(doc.Gateway.HTTPServers))
	}
}

// TestRerunGivesWhatRunGives: a run reusing the previous run's Memo returns
// the files and encoding a run without it returns, after a route change
// (rendered again; the compressed config, over plainConfigLimit here, keeps
// the bytes of unchanged files) and after an endpoint change (nothing
// rendered: the very same files).
func TestRerunGivesWhatRunGives(t *testing.T) {
	in := manyRoutes(600) // over the plain ConfigMap limit: compressed
	first := Run(in)
	if len(first.Encoded[gwKey].Data) != 0 {
		t.Fatalf("600 routes are not compressed: the test no longer reuses compressed files")
	}
	path := "/changed"
	in.HTTPRoutes[7].Spec.Rules[0].Matches[0].Path.Value = &path
	afterRoute := Rerun(in, first.Memo)
	want := Run(in)
	if !reflect.DeepEqual(afterRoute.Files, want.Files) || !reflect.DeepEqual(afterRoute.Encoded, want.Encoded) {
		t.Fatalf("after a route change, Rerun's files or encoding differ from Run's")
	}
	if reflect.DeepEqual(afterRoute.Files, first.Files) {
		t.Fatalf("the route change changed no file: the test checks nothing")
	}
	old, now := first.Encoded[gwKey].Binary["upstreams.conf.gz"], afterRoute.Encoded[gwKey].Binary["upstreams.conf.gz"]
	if len(old) == 0 || &old[0] != &now[0] {
		t.Errorf("the unchanged upstreams.conf was compressed again")
	}

	in.EndpointSlices[0].Endpoints[0].Addresses = []string{"10.255.0.9"}
	afterEndpoints := Rerun(in, afterRoute.Memo)
	want = Run(in)
	if !reflect.DeepEqual(afterEndpoints.Files, want.Files) || !reflect.DeepEqual(afterEndpoints.Encoded, want.Encoded) {
		t.Fatalf("after an endpoint change, Rerun's files or encoding differ from Run's")
	}
	if got := afterEndpoints.Output.Gateways[0].Endpoints; reflect.DeepEqual(got, afterRoute.Output.Gateways[0].Endpoints) {
		t.Errorf("the endpoint change is not in the translation")
	}
	a, b := afterEndpoints.Files[gwKey].Config["servers.conf"], afterRoute.Files[gwKey].Config["servers.conf"]
	if &a[0] != &b[0] {
		t.Errorf("an endpoint change rendered the config again")
	}

	// The reconciler's run: the same, without the models and the plain
	// source document; a full run after it renders what Run renders.
	path = "/changed-again"
	in.HTTPRoutes[7].Spec.Rules[0].Matches[0].Path.Value = &path
	lean, want := RerunLean(in, afterEndpoints.Memo), Run(in)
	source := want.Files[gwKey].Config[dataplane.SourceFile]
	delete(want.Files[gwKey].Config, dataplane.SourceFile)
	if len(source) == 0 || !reflect.DeepEqual(lean.Files, want.Files) || !reflect.DeepEqual(lean.Encoded, want.Encoded) {
		t.Fatalf("RerunLean's files or encoding differ from Run's (the source document aside)")
	}
	if gw := lean.Output.Gateways[0]; gw.Model != nil || !lean.Served(gw.NamespacedName) {
		t.Errorf("RerunLean kept the model (%v) or lost that the Gateway was served", gw.Model != nil)
	}
	full := Rerun(in, lean.Memo)
	want = Run(in)
	if !reflect.DeepEqual(full.Files, want.Files) || !reflect.DeepEqual(full.Encoded, want.Encoded) {
		t.Fatalf("Rerun after RerunLean differs from Run")
	}
	if again := RerunLean(in, lean.Memo); &again.Files[gwKey].Config["servers.conf"][0] != &lean.Files[gwKey].Config["servers.conf"][0] {
		t.Errorf("RerunLean after RerunLean rendered an unchanged model again")
	}
}

// TestSourceBufferFollowsTheLocations: the source document's buffer is
// sized from the last document per location, so that a run with more
// routes than the last does not grow it while it is written.
func TestSourceBufferFollowsTheLocations(t *testing.T) {
	last := memoGateway{sourceSize: 2000, sourceLocations: 10}
	for locations, want := range map[int]int{10: 2000, 15: 3000, 5: 1000} {
		if got := scaledSourceSize(last, locations); got != want {
			t.Errorf("%d locations: %d bytes, want %d", locations, got, want)
		}
	}
	if got := scaledSourceSize(memoGateway{sourceSize: 2000}, 7); got != 2000 {
		t.Errorf("a memo without its locations: %d bytes, want the last document's 2000", got)
	}
}
