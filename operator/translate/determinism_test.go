package translate

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// t0 is the creation time of the oldest routes.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// richInput has several Gateways, namespaces, listeners, routes sharing
// paths and hostnames, weighted and cross-namespace backends, mirrors and
// several EndpointSlices per Service.
func richInput(t testing.TB) Input {
	in := baseInput()
	in.Namespaces = append(in.Namespaces, namespace("apps", map[string]string{"gw": "yes"}), namespace("web", nil))
	in.Secrets = []corev1.Secret{tlsSecret(t, testNS, "cert"), tlsSecret(t, "apps", "cert")}
	in.ReferenceGrants = []gatewayv1beta1.ReferenceGrant{
		grant("apps", "Gateway", testNS, "Secret", ""),
		grant("web", "HTTPRoute", "apps", "Service", ""),
	}
	in.Gateways = []gatewayv1.Gateway{
		gateway(testNS, "gw",
			allNamespaces(httpListener("http", 80, "")),
			allNamespaces(httpListener("http-example", 80, "*.example.com")),
			allNamespaces(httpsListener("https", 443, "", secretRef("", "cert"), secretRef("apps", "cert"))),
		),
		gateway(testNS, "gw2", httpListener("http", 8080, "b.example.com")),
	}
	in.Services, in.EndpointSlices = nil, nil
	for i := 0; i < 6; i++ {
		ns := []string{testNS, "apps", "web"}[i%3]
		name := fmt.Sprintf("svc%d", i)
		in.Services = append(in.Services, service(ns, name, servicePortSpec{name: "http", port: 80}, servicePortSpec{name: "ws", port: 81, appProtocol: "kubernetes.io/ws"}))
		for j := 0; j < 3; j++ {
			in.EndpointSlices = append(in.EndpointSlices,
				slice(ns, name, fmt.Sprintf("%s-%d", name, j), "http", 8080, fmt.Sprintf("10.%d.%d.1", i, j), fmt.Sprintf("10.%d.%d.2", i, j)),
				slice(ns, name, fmt.Sprintf("%s-ws-%d", name, j), "ws", 9090, fmt.Sprintf("10.%d.%d.3", i, j)))
		}
	}
	w := func(v int32) *int32 { return &v }
	for i := 0; i < 12; i++ {
		ns := []string{testNS, "apps"}[i%2]
		svcNS := ns
		if i%5 == 0 {
			svcNS = "web"
		}
		opts := []routeOpt{
			parent(testNS, "gw", ""),
			created(t0.Add(time.Duration(i%3) * time.Minute)),
			rule(gatewayv1.HTTPRouteRule{
				Matches: []gatewayv1.HTTPRouteMatch{prefix(fmt.Sprintf("/p%d", i%4)), withHeader(exact("/shared"), "x", fmt.Sprint(i)), regex(fmt.Sprintf("^/re%d", i%2))},
				BackendRefs: []gatewayv1.HTTPBackendRef{
					backend(svcNS, fmt.Sprintf("svc%d", i%6), 80, w(int32(i%3))),
					backend(svcNS, fmt.Sprintf("svc%d", (i+1)%6), 81, w(1)),
				},
				Filters: []gatewayv1.HTTPRouteFilter{{Type: gatewayv1.HTTPRouteFilterRequestMirror, RequestMirror: &gatewayv1.HTTPRequestMirrorFilter{
					BackendRef: gatewayv1.BackendObjectReference{Name: gatewayv1.ObjectName(fmt.Sprintf("svc%d", (i+2)%6)), Port: ptr(int32(80))}}}},
			}),
			simpleRule(fmt.Sprintf("svc%d", i%6), prefix("/")),
		}
		if i%3 == 0 {
			opts = append(opts, hostnames("a.example.com", "*.example.com"), parent(testNS, "gw2", ""))
		}
		in.HTTPRoutes = append(in.HTTPRoutes, route(ns, fmt.Sprintf("route%d", i), opts...))
	}
	// GRPCRoutes: shared methods (precedence), and hostnames that some
	// HTTPRoutes also serve on the same listeners (conflicts).
	for i := 0; i < 6; i++ {
		ns := []string{testNS, "apps"}[i%2]
		svc := gatewayv1.ObjectName(fmt.Sprintf("svc%d", i%3))
		r := gatewayv1.GRPCRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("grpc%d", i), CreationTimestamp: metav1.NewTime(t0.Add(time.Duration(i%4) * time.Minute))},
			Spec: gatewayv1.GRPCRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw", Namespace: ptr(gatewayv1.Namespace(testNS))}}},
				Hostnames:       []gatewayv1.Hostname{gatewayv1.Hostname([]string{"a.example.com", "grpc.example.com", "grpc.test"}[i%3])},
				Rules: []gatewayv1.GRPCRouteRule{{
					Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: ptr("pkg.Svc"), Method: ptr(fmt.Sprintf("M%d", i%2))}}},
					BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{
						BackendObjectReference: gatewayv1.BackendObjectReference{Name: svc, Port: ptr(int32(80))}, Weight: w(int32(1 + i%2))}}},
				}},
			},
		}
		in.GRPCRoutes = append(in.GRPCRoutes, &r)
	}
	return in
}

func shuffled[T any](r *rand.Rand, in []T) []T {
	out := append([]T(nil), in...)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

func TestBuildIsDeterministic(t *testing.T) {
	in := richInput(t)
	before := deepCopyInput(in)
	want := Translate(in)
	if !reflect.DeepEqual(in, before) {
		t.Fatal("Build changed its input")
	}
	if len(want.Gateways) != 2 || want.Gateways[0].Model == nil || len(want.Gateways[0].Model.HTTPServers) < 4 {
		t.Fatalf("rich input builds too little: %+v", want.Gateways)
	}
	reasons := map[string]int{}
	for key, parents := range want.Routes {
		if key.Kind == kindGRPCRoute {
			for _, p := range parents {
				reasons[p.Conditions[0].Reason]++
			}
		}
	}
	if reasons[string(gatewayv1.RouteReasonAccepted)] == 0 || reasons[string(routeReasonConflicted)] == 0 {
		t.Fatalf("rich input should have accepted and conflicted GRPCRoutes: %v", reasons)
	}
	for seed := int64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewSource(seed))
		s := Input{
			GatewayClasses:  shuffled(r, in.GatewayClasses),
			Gateways:        shuffled(r, in.Gateways),
			HTTPRoutes:      shuffled(r, in.HTTPRoutes),
			GRPCRoutes:      shuffled(r, in.GRPCRoutes),
			ReferenceGrants: shuffled(r, in.ReferenceGrants),
			Namespaces:      shuffled(r, in.Namespaces),
			Services:        shuffled(r, in.Services),
			EndpointSlices:  shuffled(r, in.EndpointSlices),
			Secrets:         shuffled(r, in.Secrets),
			Parameters:      shuffled(r, in.Parameters),
		}
		for i := range s.EndpointSlices {
			es := s.EndpointSlices[i].DeepCopy()
			es.Endpoints = shuffled(r, es.Endpoints)
			s.EndpointSlices[i] = *es
		}
		if got := Translate(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: output differs from the unshuffled build", seed)
		}
	}
}

// BenchmarkBuild3000Routes: 3,000 HTTPRoutes, one Service each, on one
// Gateway; the size of the published route-propagation benchmarks.
func BenchmarkBuild3000Routes(b *testing.B) {
	in := routesInput(3000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := Translate(in)
		if len(out.Gateways[0].Model.Upstreams) != 3000 {
			b.Fatalf("upstreams = %d", len(out.Gateways[0].Model.Upstreams))
		}
	}
}

// BenchmarkEndpointChange3000Routes is what an EndpointSlice event costs
// the translation at 3,000 routes: a whole Translate, or Reendpoint of the
// last Output (what the reconciler does when only EndpointSlices changed).
func BenchmarkEndpointChange3000Routes(b *testing.B) {
	in := routesInput(3000)
	prev := Translate(in)
	for _, how := range []string{"translate", "reendpoint"} {
		b.Run(how, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				in.EndpointSlices[0].Endpoints[0].Addresses = []string{fmt.Sprintf("10.255.0.%d", i%2)}
				var out Output
				if how == "translate" {
					out = Translate(in)
				} else {
					out = Reendpoint(prev, &in)
				}
				if len(out.Gateways[0].Endpoints) != 3000 {
					b.Fatalf("endpoints of %d upstreams", len(out.Gateways[0].Endpoints))
				}
			}
		})
	}
}

// routesInput is baseInput with n HTTPRoutes on Gateway gw, each to its
// own Service with two endpoints.
func routesInput(n int) Input {
	in := baseInput()
	in.Services, in.EndpointSlices = nil, nil
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("svc-%d", i)
		in.Services = append(in.Services, service(testNS, name))
		in.EndpointSlices = append(in.EndpointSlices, slice(testNS, name, name+"-1", "http", 8080,
			fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("10.%d.%d.2", i/250, i%250)))
		in.HTTPRoutes = append(in.HTTPRoutes, route(testNS, fmt.Sprintf("route-%d", i),
			parent("", "gw", ""), hostnames(fmt.Sprintf("app%d.example.com", i%100)),
			simpleRule(name, prefix(fmt.Sprintf("/svc/%d", i)), withHeader(prefix("/api"), "x-tenant", fmt.Sprint(i)))))
	}
	return in
}

func deepCopyInput(in Input) Input {
	var out Input
	for _, x := range in.GatewayClasses {
		out.GatewayClasses = append(out.GatewayClasses, *x.DeepCopy())
	}
	for _, x := range in.Gateways {
		out.Gateways = append(out.Gateways, *x.DeepCopy())
	}
	for _, x := range in.HTTPRoutes {
		out.HTTPRoutes = append(out.HTTPRoutes, x.DeepCopy())
	}
	for _, x := range in.GRPCRoutes {
		out.GRPCRoutes = append(out.GRPCRoutes, x.DeepCopy())
	}
	for _, x := range in.ReferenceGrants {
		out.ReferenceGrants = append(out.ReferenceGrants, *x.DeepCopy())
	}
	for _, x := range in.Namespaces {
		out.Namespaces = append(out.Namespaces, *x.DeepCopy())
	}
	for _, x := range in.Services {
		out.Services = append(out.Services, *x.DeepCopy())
	}
	for _, x := range in.EndpointSlices {
		out.EndpointSlices = append(out.EndpointSlices, *x.DeepCopy())
	}
	for _, x := range in.Secrets {
		out.Secrets = append(out.Secrets, *x.DeepCopy())
	}
	for _, x := range in.Parameters {
		out.Parameters = append(out.Parameters, *x.DeepCopy())
	}
	return out
}

// BenchmarkInputKey3000Routes is what the reconciler pays on every event
// to know whether it can skip translating (3,000 routes, 3,000 Services
// and EndpointSlices).
func BenchmarkInputKey3000Routes(b *testing.B) {
	in := routesInput(3000)
	n := 0
	for i := range in.HTTPRoutes {
		n++
		in.HTTPRoutes[i].ResourceVersion, in.HTTPRoutes[i].Generation = fmt.Sprint(n), 1
	}
	for i := range in.Services {
		n++
		in.Services[i].ResourceVersion = fmt.Sprint(n)
	}
	for i := range in.EndpointSlices {
		n++
		in.EndpointSlices[i].ResourceVersion = fmt.Sprint(n)
	}
	for i := range in.Gateways {
		in.Gateways[i].ResourceVersion, in.Gateways[i].Generation = "1", 1
	}
	for i := range in.GatewayClasses {
		in.GatewayClasses[i].ResourceVersion, in.GatewayClasses[i].Generation = "1", 1
	}
	for i := range in.Namespaces {
		in.Namespaces[i].ResourceVersion = "1"
	}
	for i := range in.Secrets {
		in.Secrets[i].ResourceVersion = "1"
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := InputKey(&in); !ok {
			b.Fatal("no key")
		}
	}
}
