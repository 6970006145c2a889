package controller

import (
	"fmt"
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

func ipAddress(value string) gatewayv1.GatewaySpecAddress {
	return gatewayv1.GatewaySpecAddress{Type: ptr.To(gatewayv1.IPAddressType), Value: value}
}

func TestAddressesNotUsable(t *testing.T) {
	svc := func(asked string, ingress ...string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "gw-nginx"}}
		s.Spec.LoadBalancerIP = asked //nolint:staticcheck // the field the operator sets
		for _, ip := range ingress {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		return s
	}
	tests := []struct {
		name      string
		requested []gatewayv1.GatewaySpecAddress
		svc       *corev1.Service
		want      []string // message parts; nil: usable
	}{
		{name: "no value asks for any address", requested: []gatewayv1.GatewaySpecAddress{ipAddress("")}, svc: svc("")},
		{name: "assigned", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.240")}, svc: svc("198.18.0.240", "198.18.0.240")},
		{name: "assigned, spelled otherwise", requested: []gatewayv1.GatewaySpecAddress{ipAddress("2001:db8:0::1")}, svc: svc("2001:db8::1", "2001:db8::1")},
		{name: "refused by the load balancer", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251")}, svc: svc("198.18.0.251"),
			want: []string{"spec.addresses[0] 198.18.0.251 is not assigned", "outside the load balancer's address pools", "Service gw-nginx has: none"}},
		{name: "a second address cannot be asked for", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.240"), ipAddress("198.18.0.241")},
			svc: svc("198.18.0.240", "198.18.0.240"), want: []string{"spec.addresses[1] 198.18.0.241 cannot be requested", "has: 198.18.0.240"}},
		{name: "no Service yet", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.240")},
			want: []string{"spec.addresses[0] 198.18.0.240 cannot be requested", "(not created yet) has: none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, bad := AddressesNotUsable(tt.requested, tt.svc)
			if bad != (tt.want != nil) {
				t.Fatalf("not usable = %v (%q), want %v", bad, c.Message, tt.want != nil)
			}
			if !bad {
				return
			}
			if c.Type != "Programmed" || c.Status != metav1.ConditionFalse || c.Reason != string(gatewayv1.GatewayReasonAddressNotUsable) {
				t.Errorf("condition %s=%s/%s", c.Type, c.Status, c.Reason)
			}
			for _, part := range tt.want {
				if !strings.Contains(c.Message, part) {
					t.Errorf("message %q lacks %q", c.Message, part)
				}
			}
		})
	}
}

// TestGatewayStaticAddresses (envtest; no load balancer and no pods): the
// first address of spec.addresses is asked for in the Service's
// spec.loadBalancerIP; while the Service has not got every named address
// the Gateway is Programmed False/AddressNotUsable; once it has them, the
// data plane decides again (Pending here: no pods run). A Hostname address
// is refused in translation; an address without value asks for nothing.
func TestGatewayStaticAddresses(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(gc.Name),
			Listeners:        []gatewayv1.Listener{httpListener("http", 80, "")},
			Addresses: []gatewayv1.GatewaySpecAddress{
				{Type: ptr.To(gatewayv1.HostnameAddressType), Value: "gw.example.com"},
				ipAddress("198.18.0.240"), ipAddress("198.18.0.241"),
			},
		},
	}
	if err := k8s.Create(ctx, gw); err != nil {
		t.Fatal(err)
	}
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionFalse, string(gatewayv1.GatewayReasonUnsupportedAddress))

	update(t, gw, func() { gw.Spec.Addresses = gw.Spec.Addresses[1:] })
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionTrue, string(gatewayv1.GatewayReasonAccepted))
	key := client.ObjectKey{Namespace: ns, Name: resources.Name("gw")}
	svc := &corev1.Service{}
	waitLoadBalancerIP := func(want string) {
		t.Helper()
		testenv.Eventually(t, waitTimeout, fmt.Sprintf("Service spec.loadBalancerIP %q", want), func() error {
			if err := k8s.Get(ctx, key, svc); err != nil {
				return err
			}
			if got := svc.Spec.LoadBalancerIP; got != want { //nolint:staticcheck // the field the operator sets
				return fmt.Errorf("loadBalancerIP %q", got)
			}
			return nil
		})
	}
	waitLoadBalancerIP("198.18.0.240")
	got := waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonAddressNotUsable))
	t.Logf("Programmed: %+v", got.Status.Conditions)
	waitListener(t, ns, "gw", "http", "Programmed", metav1.ConditionFalse, string(gatewayv1.ListenerReasonPending))

	// The load balancer assigns the one asked for: the second is still not usable.
	updateStatus(t, svc, func() {
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.18.0.240"}}
	})
	testenv.Eventually(t, waitTimeout, "only the second address is not usable", func() error {
		gw, err := getGateway(t, ns, "gw")
		if err != nil {
			return err
		}
		if err := hasCondition(gw.Status.Conditions, "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonAddressNotUsable)); err != nil {
			return err
		}
		for _, c := range gw.Status.Conditions {
			if c.Type == "Programmed" && (strings.Contains(c.Message, "198.18.0.240 ") || !strings.Contains(c.Message, "198.18.0.241")) {
				return fmt.Errorf("message %q", c.Message)
			}
		}
		return nil
	})

	update(t, gw, func() { gw.Spec.Addresses = gw.Spec.Addresses[:1] })
	waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))

	// An address without value asks for none: the Service drops the field.
	update(t, gw, func() { gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{ipAddress("")} })
	waitLoadBalancerIP("")
	waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
}
