package pipeline

import (
	"fmt"
	"runtime"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// manyRoutes is input("") plus n HTTPRoutes, each PathPrefix /r<i> to its
// own Service with two endpoints: the worst case of e2e/bench's shape
// (there, all routes share one Service).
func manyRoutes(n int) translate.Input {
	in := input(gatewayv1.HTTPRouteRule{})
	for i := range n {
		name := fmt.Sprintf("svc-%d", i)
		meta := metav1.ObjectMeta{Namespace: "default", Name: name, Generation: 1}
		in.Services = append(in.Services, corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}}}})
		in.EndpointSlices = append(in.EndpointSlices, discoveryv1.EndpointSlice{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name + "-1", Labels: map[string]string{
				discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr("http"), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
			Endpoints: []discoveryv1.Endpoint{
				{Addresses: []string{fmt.Sprintf("10.%d.%d.1", i/250, i%250)}},
				{Addresses: []string{fmt.Sprintf("10.%d.%d.2", i/250, i%250)}},
			},
		})
		path := fmt.Sprintf("/r%d", i)
		in.HTTPRoutes = append(in.HTTPRoutes, &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("route-%d", i), Generation: 1},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr(gatewayv1.PathMatchPathPrefix), Value: &path}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
						Name: gatewayv1.ObjectName(name), Port: ptr(gatewayv1.PortNumber(80))}}}},
				}},
			},
		})
	}
	return in
}

// BenchmarkChange is the operator's work for one changed object with n
// routes on one Gateway, without the API calls: translate every route,
// render the Gateway's config, compress it for its ConfigMap (Rerun with
// the previous run's Memo, as the reconciler does). change=route edits one
// route's path (its Gateway renders again, one file compresses again);
// change=endpoints moves an endpoint of one Service (no model changes:
// nothing renders); change=none-cold is Run without a Memo (the first
// reconcile after a start). The budget (docs/design.md): well under 100 ms
// at 3,000 routes on a 2-core machine. cpu-ms/op is the process's CPU time
// per change (garbage collection included), which a machine shared with
// other work changes less than the wall time. retained-MiB is the heap
// still live after a run with the input and the Memo held, the operator's
// own share of memory at that size besides its informer caches.
func BenchmarkChange(b *testing.B) {
	for _, n := range []int{1000, 3000, 5000} {
		for _, change := range []string{"route", "endpoints", "none-cold"} {
			b.Run(fmt.Sprintf("routes=%d/change=%s", n, change), func(b *testing.B) {
				in := manyRoutes(n)
				res := Run(in)
				b.ReportAllocs()
				cpu := testenv.CPUTime()
				i := 0
				for b.Loop() {
					i++
					switch change {
					case "route":
						path := fmt.Sprintf("/r0-%d", i%2)
						in.HTTPRoutes[0].Spec.Rules[0].Matches[0].Path.Value = &path
						res = Rerun(in, res.Memo)
					case "endpoints":
						in.EndpointSlices[0].Endpoints[0].Addresses = []string{fmt.Sprintf("10.255.0.%d", i%2)}
						res = Rerun(in, res.Memo)
					default:
						res = Run(in)
					}
					if len(res.Files) != 1 || len(res.Errors) != 0 {
						b.Fatalf("files %d errors %v", len(res.Files), res.Errors)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((testenv.CPUTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/op")
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "retained-MiB")
				runtime.KeepAlive(in)
				runtime.KeepAlive(res)
			})
		}
	}
}
