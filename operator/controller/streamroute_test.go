package controller

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// TestStreamRouteParents checks, through the API server, that the operator
// watches TCPRoutes, UDPRoutes and TLSRoutes and writes their statuses, and
// that a TCP and a UDP listener on one port number are two Service ports.
func TestStreamRouteParents(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	passthrough := gatewayv1.Listener{Name: "tls", Port: 8443, Protocol: gatewayv1.TLSProtocolType,
		TLS: &gatewayv1.ListenerTLSConfig{Mode: ptr.To(gatewayv1.TLSModePassthrough)}}
	newGateway(t, ns, gc.Name, "gw",
		gatewayv1.Listener{Name: "tcp", Port: 5353, Protocol: gatewayv1.TCPProtocolType},
		gatewayv1.Listener{Name: "udp", Port: 5353, Protocol: gatewayv1.UDPProtocolType},
		passthrough)
	newService(t, ns, "backend", 8080)
	parent := func(section string) gatewayv1.CommonRouteSpec {
		return gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{{Name: "gw", SectionName: ptr.To(gatewayv1.SectionName(section))}}}
	}
	backends := func(name string) []gatewayv1.BackendRef {
		return []gatewayv1.BackendRef{{BackendObjectReference: gatewayv1.BackendObjectReference{
			Name: gatewayv1.ObjectName(name), Port: ptr.To(gatewayv1.PortNumber(8080))}}}
	}
	tcp := &gatewayv1.TCPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tcp"}, Spec: gatewayv1.TCPRouteSpec{
		CommonRouteSpec: parent("tcp"), Rules: []gatewayv1.TCPRouteRule{{BackendRefs: backends("backend")}}}}
	// The backend Service has only a TCP port 8080: no UDP port to proxy to.
	udp := &gatewayv1.UDPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "udp"}, Spec: gatewayv1.UDPRouteSpec{
		CommonRouteSpec: parent("udp"), Rules: []gatewayv1.UDPRouteRule{{BackendRefs: backends("backend")}}}}
	tls := &gatewayv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "tls"}, Spec: gatewayv1.TLSRouteSpec{
		CommonRouteSpec: parent("tls"), Hostnames: []gatewayv1.Hostname{"db.example.com"},
		Rules: []gatewayv1.TLSRouteRule{{BackendRefs: backends("backend")}}}}
	// A TLSRoute on the TCP listener is not allowed there.
	misplaced := &gatewayv1.TLSRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "misplaced"}, Spec: gatewayv1.TLSRouteSpec{
		CommonRouteSpec: parent("tcp"), Hostnames: []gatewayv1.Hostname{"db.example.com"},
		Rules: []gatewayv1.TLSRouteRule{{BackendRefs: backends("backend")}}}}
	for _, obj := range []client.Object{tcp, udp, tls, misplaced} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}

	accepted, resolved := string(gatewayv1.RouteConditionAccepted), string(gatewayv1.RouteConditionResolvedRefs)
	waitParentOf(t, tcp, &tcp.Status.Parents, "gw", accepted, metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
	waitParentOf(t, tcp, &tcp.Status.Parents, "gw", resolved, metav1.ConditionTrue, string(gatewayv1.RouteReasonResolvedRefs))
	waitParentOf(t, udp, &udp.Status.Parents, "gw", accepted, metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
	waitParentOf(t, udp, &udp.Status.Parents, "gw", resolved, metav1.ConditionFalse, string(gatewayv1.RouteReasonBackendNotFound))
	waitParentOf(t, tls, &tls.Status.Parents, "gw", accepted, metav1.ConditionTrue, string(gatewayv1.RouteReasonAccepted))
	waitParentOf(t, misplaced, &misplaced.Status.Parents, "gw", accepted, metav1.ConditionFalse, string(gatewayv1.RouteReasonNotAllowedByListeners))

	testenv.Eventually(t, waitTimeout, "the Service has TCP and UDP 5353 and TCP 8443", func() error {
		svc := &corev1.Service{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}, svc); err != nil {
			return err
		}
		var got []string
		for _, p := range svc.Spec.Ports {
			got = append(got, fmt.Sprintf("%s/%d", p.Protocol, p.Port))
		}
		if want := []string{"TCP/5353", "UDP/5353", "TCP/8443"}; !slices.Equal(got, want) {
			return fmt.Errorf("ports %v, want %v", got, want)
		}
		return nil
	})
}
