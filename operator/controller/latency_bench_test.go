package controller

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// benchRoutes is BENCH_ROUTES, the number of routes a benchmark creates
// (default 1,000).
func benchRoutes() int {
	if n, err := strconv.Atoi(os.Getenv("BENCH_ROUTES")); err == nil && n > 0 {
		return n
	}
	return 1000
}

// BenchmarkRouteToConfigMap is the operator's share of a route change on a
// real API server: with BENCH_ROUTES (default 1,000) HTTPRoutes on one
// Gateway (PathPrefix /bg<i>, one Service: e2e/bench's shape), the time
// from the create of one more route returning to a watch seeing the
// Gateway's config ConfigMap change (ms/change, the p50 over b.N changes;
// ns/op is their mean). The data plane is not part of it (envtest has no
// pods). Each step of the first reconcile after a create is reported too
// (<step>-ms, the p50 over the changes; see stepObserver). Run it alone: it
// creates thousands of objects.
func BenchmarkRouteToConfigMap(b *testing.B) {
	routes := benchRoutes()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("bench-%d", time.Now().UnixNano())
	gcName := ns
	must := func(err error) {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
	}
	must(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	b.Cleanup(func() {
		_ = k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		_ = k8s.Delete(context.Background(), &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gcName}})
	})
	must(k8s.Create(ctx, &gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: gcName},
		Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}))
	must(k8s.Create(ctx, &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(gcName), Listeners: []gatewayv1.Listener{httpListener("http", 80, "")}}}))
	must(k8s.Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "backend"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "backend"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}))
	route := func(i int) *gatewayv1.HTTPRoute {
		path := fmt.Sprintf("/bg%d", i)
		return &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r%d", i)},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
				Rules: []gatewayv1.HTTPRouteRule{{
					Matches: []gatewayv1.HTTPRouteMatch{{Path: &gatewayv1.HTTPPathMatch{Type: ptr.To(gatewayv1.PathMatchPathPrefix), Value: &path}}},
					BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
						Name: "backend", Port: ptr.To(gatewayv1.PortNumber(8080))}}}},
				}},
			},
		}
	}
	for i := range routes {
		must(k8s.Create(ctx, route(i)))
	}
	cs, err := kubernetes.NewForConfig(restCfg)
	must(err)
	cmName := resources.Name("gw")
	// Settled: the ConfigMap holds every route and no write follows for a
	// while (route statuses written, no reconcile pending).
	settle := func() string {
		b.Helper()
		var last string
		var stable time.Time
		for ; ; time.Sleep(200 * time.Millisecond) {
			cm := &corev1.ConfigMap{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: cmName}, cm); err != nil {
				if ctx.Err() != nil {
					b.Fatal(err)
				}
				continue
			}
			if cm.ResourceVersion != last {
				last, stable = cm.ResourceVersion, time.Now()
				continue
			}
			if time.Since(stable) > 3*time.Second {
				return last
			}
		}
	}
	rv := settle()
	var took []time.Duration
	// The steps of the first reconcile after each create ("reconcile"
	// closes one), by step.
	var stepsMu sync.Mutex
	steps := map[string][]time.Duration{}
	var recording map[string]time.Duration
	observe := func(step string, d time.Duration) {
		stepsMu.Lock()
		defer stepsMu.Unlock()
		if recording == nil {
			return
		}
		recording[step] += d
		if step == "reconcile" {
			for s, d := range recording {
				steps[s] = append(steps[s], d)
			}
			recording = nil
		}
	}
	stepObserver.Store(&observe)
	defer stepObserver.Store(nil)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		w, err := cs.CoreV1().ConfigMaps(ns).Watch(ctx, metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("metadata.name", cmName).String(), ResourceVersion: rv})
		must(err)
		b.StartTimer()
		stepsMu.Lock()
		recording = map[string]time.Duration{}
		stepsMu.Unlock()
		start := time.Now()
		must(k8s.Create(ctx, route(routes+i)))
		for ev := range w.ResultChan() {
			if cm, ok := ev.Object.(*corev1.ConfigMap); ok && ev.Type == watch.Modified && cm.ResourceVersion != rv {
				break
			}
		}
		took = append(took, time.Since(start))
		b.StopTimer()
		w.Stop()
		rv = settle()
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(took[len(took)-1].Microseconds())/1000, "max-ms")
	stepsMu.Lock()
	defer stepsMu.Unlock()
	for step, ds := range steps {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, strings.ReplaceAll(step, " ", "-")+"-ms")
	}
}
