package controller

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

func newService(t *testing.T, ns, name string, port int32) {
	t.Helper()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": name},
			Ports:    []corev1.ServicePort{{Name: "http", Port: port, TargetPort: intstr.FromInt32(port)}},
		},
	}
	if err := k8s.Create(ctxFor(t), svc); err != nil {
		t.Fatal(err)
	}
}

// newRoute creates an HTTPRoute attached to parent (in parentNS, section)
// with hostnames, forwarding to backend (in backendNS) when not empty.
func newRoute(t *testing.T, ns, name, parentNS, parent, section string, hostnames []string, backendNS, backend string) *gatewayv1.HTTPRoute {
	t.Helper()
	ref := gatewayv1.ParentReference{Name: gatewayv1.ObjectName(parent)}
	if section != "" {
		ref.SectionName = ptr.To(gatewayv1.SectionName(section))
	}
	if parentNS != ns {
		ref.Namespace = ptr.To(gatewayv1.Namespace(parentNS))
	}
	route := &gatewayv1.HTTPRoute{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{ref}}},
	}
	for _, h := range hostnames {
		route.Spec.Hostnames = append(route.Spec.Hostnames, gatewayv1.Hostname(h))
	}
	if backend != "" {
		bref := gatewayv1.HTTPBackendRef{BackendRef: gatewayv1.BackendRef{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(backend), Port: ptr.To(gatewayv1.PortNumber(8080)),
		}}}
		if backendNS != ns {
			bref.Namespace = ptr.To(gatewayv1.Namespace(backendNS))
		}
		route.Spec.Rules = []gatewayv1.HTTPRouteRule{{BackendRefs: []gatewayv1.HTTPBackendRef{bref}}}
	}
	if err := k8s.Create(ctxFor(t), route); err != nil {
		t.Fatal(err)
	}
	return route
}

func TestHTTPRouteParents(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	other := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("same", 80, "*.example.com"))
	newService(t, ns, "backend", 8080)
	newService(t, other, "backend", 8080)

	newRoute(t, ns, "ok", ns, "gw", "same", []string{"foo.example.com"}, ns, "backend")
	newRoute(t, other, "other-namespace", ns, "gw", "same", nil, other, "backend")
	newRoute(t, ns, "hostname", ns, "gw", "same", []string{"foo.other.test"}, ns, "backend")
	newRoute(t, ns, "missing-backend", ns, "gw", "same", nil, ns, "nope")
	newRoute(t, ns, "cross-backend", ns, "gw", "same", nil, other, "backend")

	tests := []struct {
		ns, route string
		typ       gatewayv1.RouteConditionType
		status    metav1.ConditionStatus
		reason    gatewayv1.RouteConditionReason
	}{
		{ns, "ok", gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, gatewayv1.RouteReasonAccepted},
		{ns, "ok", gatewayv1.RouteConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.RouteReasonResolvedRefs},
		{other, "other-namespace", gatewayv1.RouteConditionAccepted, metav1.ConditionFalse, gatewayv1.RouteReasonNotAllowedByListeners},
		{ns, "hostname", gatewayv1.RouteConditionAccepted, metav1.ConditionFalse, gatewayv1.RouteReasonNoMatchingListenerHostname},
		{ns, "missing-backend", gatewayv1.RouteConditionAccepted, metav1.ConditionTrue, gatewayv1.RouteReasonAccepted},
		{ns, "missing-backend", gatewayv1.RouteConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.RouteReasonBackendNotFound},
		{ns, "cross-backend", gatewayv1.RouteConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.RouteReasonRefNotPermitted},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.route, tt.typ), func(t *testing.T) {
			waitRouteParent(t, tt.ns, tt.route, "gw", string(tt.typ), tt.status, string(tt.reason))
		})
	}

	t.Run("ReferenceGrant permits the cross-namespace backend", func(t *testing.T) {
		grant := &gatewayv1beta1.ReferenceGrant{
			ObjectMeta: metav1.ObjectMeta{Namespace: other, Name: "routes-may-use-backend"},
			Spec: gatewayv1beta1.ReferenceGrantSpec{
				From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "HTTPRoute", Namespace: gatewayv1.Namespace(ns)}},
				To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Service"}},
			},
		}
		if err := k8s.Create(ctx, grant); err != nil {
			t.Fatal(err)
		}
		waitRouteParent(t, ns, "cross-backend", "gw", string(gatewayv1.RouteConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.RouteReasonResolvedRefs))
	})

	t.Run("other controllers' parent entries are kept", func(t *testing.T) {
		key := client.ObjectKey{Namespace: ns, Name: "ok"}
		route := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ok"}}
		updateStatus(t, route, func() {
			route.Status.Parents = append(route.Status.Parents, gatewayv1.RouteParentStatus{
				ParentRef:      gatewayv1.ParentReference{Name: "their-gateway"},
				ControllerName: "example.com/other-controller",
				Conditions: []metav1.Condition{{
					Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted",
					LastTransitionTime: metav1.Now(), ObservedGeneration: route.Generation,
				}},
			})
		})
		// A spec change makes the operator rewrite its own entry.
		update(t, route, func() { route.Spec.Hostnames = append(route.Spec.Hostnames, "bar.example.com") })
		testenv.Eventually(t, waitTimeout, "both entries, ours at the new generation", func() error {
			got := &gatewayv1.HTTPRoute{}
			if err := k8s.Get(ctx, key, got); err != nil {
				return err
			}
			var ours, other bool
			for _, p := range got.Status.Parents {
				switch p.ControllerName {
				case translate.ControllerName:
					for _, c := range p.Conditions {
						if c.ObservedGeneration != got.Generation {
							return fmt.Errorf("our %s observedGeneration %d, generation %d", c.Type, c.ObservedGeneration, got.Generation)
						}
					}
					ours = true
				case "example.com/other-controller":
					other = true
				}
			}
			if !ours || !other {
				return fmt.Errorf("parents %+v", got.Status.Parents)
			}
			return nil
		})
	})

	t.Run("status is written only when it changes", func(t *testing.T) {
		gw, err := getGateway(t, ns, "gw")
		if err != nil {
			t.Fatal(err)
		}
		route := &gatewayv1.HTTPRoute{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ok"}, route); err != nil {
			t.Fatal(err)
		}
		class := &gatewayv1.GatewayClass{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gc), class); err != nil {
			t.Fatal(err)
		}
		// Another Gateway's status proves that at least one full
		// reconcile ran after the versions above were read.
		third := newNamespace(t, nil)
		newGateway(t, third, gc.Name, "probe", httpListener("http", 80, ""))
		waitGateway(t, third, "probe", "Accepted", metav1.ConditionTrue, "Accepted")

		gwAfter, err := getGateway(t, ns, "gw")
		if err != nil {
			t.Fatal(err)
		}
		routeAfter := &gatewayv1.HTTPRoute{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "ok"}, routeAfter); err != nil {
			t.Fatal(err)
		}
		classAfter := &gatewayv1.GatewayClass{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(gc), classAfter); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			kind          string
			before, after string
		}{
			{"Gateway", gw.ResourceVersion, gwAfter.ResourceVersion},
			{"HTTPRoute", route.ResourceVersion, routeAfter.ResourceVersion},
			{"GatewayClass", class.ResourceVersion, classAfter.ResourceVersion},
		} {
			if c.before != c.after {
				t.Errorf("%s was written by a no-op reconcile: resourceVersion %s → %s", c.kind, c.before, c.after)
			}
		}
	})
}
