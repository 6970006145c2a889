package controller

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// newGRPCRoute creates a GRPCRoute on listener section of Gateway gw with
// hostnames, calling method Echo of a service on backend port 8080.
func newGRPCRoute(t *testing.T, ns, name, gw, section string, hostnames []string, backend string) *gatewayv1.GRPCRoute {
	t.Helper()
	route := &gatewayv1.GRPCRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.GRPCRouteSpec{
			CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
				{Name: gatewayv1.ObjectName(gw), SectionName: ptr.To(gatewayv1.SectionName(section))},
			}},
			Rules: []gatewayv1.GRPCRouteRule{{
				Matches: []gatewayv1.GRPCRouteMatch{{Method: &gatewayv1.GRPCMethodMatch{Service: ptr.To("pkg.Echo"), Method: ptr.To("Echo")}}},
				BackendRefs: []gatewayv1.GRPCBackendRef{{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
					Name: gatewayv1.ObjectName(backend), Port: ptr.To(gatewayv1.PortNumber(8080)),
				}}}},
			}},
		},
	}
	for _, h := range hostnames {
		route.Spec.Hostnames = append(route.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	if err := k8s.Create(ctxFor(t), route); err != nil {
		t.Fatal(err)
	}
	return route
}

// TestGRPCRouteStatus: a GRPCRoute is watched, translated and its status
// written; the listener lists both route kinds and counts routes of both;
// an HTTPRoute that shares a hostname with an older GRPCRoute on the
// listener is refused (Conflicted), and accepted once the GRPCRoute is gone;
// the gRPC method of a Service without endpoints answers UNAVAILABLE.
func TestGRPCRouteStatus(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	newService(t, ns, "backend", 8080)

	// "a-grpc" is older than "conflict", or of the same second and first
	// by name: either way it wins the hostname.
	grpcRoute := newGRPCRoute(t, ns, "a-grpc", "gw", "http", []string{"grpc.example.com"}, "backend")
	grpc := &gatewayv1.GRPCRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a-grpc"}}
	waitParentOf(t, grpc, &grpc.Status.Parents, "gw", string(gatewayv1.RouteConditionAccepted), metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
	waitParentOf(t, grpc, &grpc.Status.Parents, "gw", string(gatewayv1.RouteConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.RouteReasonResolvedRefs))
	newRoute(t, ns, "web", ns, "gw", "http", []string{"web.example.com"}, ns, "backend")
	waitRouteParent(t, ns, "web", "gw", string(gatewayv1.RouteConditionAccepted), metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))

	testenv.Eventually(t, waitTimeout, "listener http lists both kinds and counts 2 routes", func() error {
		got, err := getGateway(t, ns, "gw")
		if err != nil {
			return err
		}
		l, err := listenerStatus(got, "http")
		if err != nil {
			return err
		}
		var kinds []string
		for _, k := range l.SupportedKinds {
			kinds = append(kinds, string(k.Kind))
		}
		if !slices.Equal(kinds, []string{"HTTPRoute", "GRPCRoute"}) || l.AttachedRoutes != 2 {
			return fmt.Errorf("supportedKinds %v, attachedRoutes %d", kinds, l.AttachedRoutes)
		}
		return nil
	})
	// The Service has no endpoints here: the method is passed to its
	// upstream, whose entry in the endpoints ConfigMap is empty, so the
	// sidecar's DNS sends it to nginx's local no-endpoints server, which
	// answers gRPC calls UNAVAILABLE (render.TestTrafficGRPC).
	testenv.Eventually(t, waitTimeout, "the gRPC method passed to an upstream without endpoints", func() error {
		if err := configHolds(ns, "gw", `location = "/pkg.Echo/Echo"`, true); err != nil {
			return err
		}
		if err := configHolds(ns, "gw", "grpc_pass grpc://", true); err != nil {
			return err
		}
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: resources.EndpointsName("gw")}, cm); err != nil {
			return err
		}
		for name, endpoints := range cm.Data {
			if strings.Contains(name, "backend") && endpoints == "" {
				return nil
			}
		}
		return fmt.Errorf("endpoints ConfigMap %v: no empty entry for the backend", cm.Data)
	})

	newRoute(t, ns, "conflict", ns, "gw", "http", []string{"grpc.example.com"}, ns, "backend")
	waitRouteParent(t, ns, "conflict", "gw", string(gatewayv1.RouteConditionAccepted), metav1.ConditionFalse, "Conflicted")
	if err := k8s.Delete(ctx, grpcRoute); err != nil {
		t.Fatal(err)
	}
	waitRouteParent(t, ns, "conflict", "gw", string(gatewayv1.RouteConditionAccepted), metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
}
