package controller

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// BenchmarkReadInputs is what reading a reconcile's input costs with
// BENCH_ROUTES (default 1,000) more HTTPRoutes in the cache, each with its
// own Service: "store" takes
// the cache's own route objects (routeKind.read, what the reconciler does),
// "list" lists them through the client without deep copies, which still
// copies each route's struct into the list's items (what it did before
// translate.Input held the routes by pointer).
func BenchmarkReadInputs(b *testing.B) {
	routes := benchRoutes()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("read-%d", time.Now().UnixNano())
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	for i := range routes {
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("r%d", i)},
			Spec: gatewayv1.HTTPRouteSpec{
				CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw"}}},
				Rules:           []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{Name: "backend", Port: new(gatewayv1.PortNumber(8080))}}}}}},
			},
		}
		// A Service per route, as where each route has its own backend
		// (headless: envtest has few service IPs).
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("s%d", i)},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Selector: map[string]string{"app": fmt.Sprintf("s%d", i)},
				Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}}}
		for _, obj := range []client.Object{route, svc} {
			if err := k8s.Create(ctx, obj); err != nil {
				b.Fatal(err)
			}
		}
	}
	for {
		var list gatewayv1.HTTPRouteList
		if err := cached.List(ctx, &list, client.InNamespace(ns)); err != nil {
			b.Fatal(err)
		}
		if len(list.Items) == routes {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("the cache holds %d of %d routes", len(list.Items), routes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		name      string
		informers cache.Informers
	}{{"store", mgrCache}, {"list", nil}} {
		b.Run(c.name, func(b *testing.B) {
			r := &Reconciler{client: cached, informers: c.informers}
			b.ReportAllocs()
			for b.Loop() {
				in, err := r.readInputs(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if len(in.HTTPRoutes) < routes {
					b.Fatalf("%d routes read, want at least %d", len(in.HTTPRoutes), routes)
				}
			}
		})
	}
}
