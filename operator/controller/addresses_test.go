package controller

import (
	"fmt"
	"strings"
	"testing"
	"time"

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

func TestAddressVerdict(t *testing.T) {
	svc := func(asked string, ingress ...string) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw-nginx"}}
		s.Spec.LoadBalancerIP = asked //nolint:staticcheck // the field the operator sets
		for _, ip := range ingress {
			s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
		}
		return s
	}
	refused := map[string]string{"198.18.0.254": `Failed to allocate IP for "ns/gw-nginx": 198.18.0.254 is not allowed in config`}
	tests := []struct {
		name       string
		requested  []gatewayv1.GatewaySpecAddress
		svc        *corev1.Service
		wantReason gatewayv1.GatewayConditionReason // "": ok
		want       []string                         // message parts
	}{
		{name: "no value asks for any address", requested: []gatewayv1.GatewaySpecAddress{ipAddress("")}, svc: svc("")},
		{name: "assigned", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251")}, svc: svc("198.18.0.251", "198.18.0.251")},
		{name: "assigned, spelled otherwise", requested: []gatewayv1.GatewaySpecAddress{ipAddress("2001:db8:0::1")}, svc: svc("2001:db8::1", "2001:db8::1")},
		{name: "not assigned yet", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251")}, svc: svc("198.18.0.251"),
			wantReason: gatewayv1.GatewayReasonAddressNotAssigned, want: []string{"spec.addresses[0] 198.18.0.251: waiting for the load balancer", "kubectl describe service -n ns gw-nginx", "Service gw-nginx has: none"}},
		{name: "refused by the load balancer", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.254")}, svc: svc("198.18.0.254"),
			wantReason: gatewayv1.GatewayReasonAddressNotUsable, want: []string{"spec.addresses[0] 198.18.0.254: the load balancer refused it (Failed to allocate", "not allowed in config"}},
		{name: "a second address cannot be asked for", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251"), ipAddress("198.18.0.252")},
			svc: svc("198.18.0.251", "198.18.0.251"), wantReason: gatewayv1.GatewayReasonAddressNotUsable,
			want: []string{"spec.addresses[1] 198.18.0.252 cannot be requested", "has: 198.18.0.251"}},
		{name: "not usable wins over not assigned", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251"), ipAddress("198.18.0.252")},
			svc: svc("198.18.0.251"), wantReason: gatewayv1.GatewayReasonAddressNotUsable, want: []string{"[1] 198.18.0.252 cannot be requested", "[0] 198.18.0.251: waiting"}},
		{name: "no Service yet", requested: []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251")},
			wantReason: gatewayv1.GatewayReasonAddressNotAssigned, want: []string{"waiting for the Gateway's Service to be created", "(not created yet) has: none"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok, waiting := AddressVerdict(tt.requested, tt.svc, refused)
			if ok != (tt.wantReason == "") {
				t.Fatalf("ok = %v (%s: %q), want %v", ok, c.Reason, c.Message, tt.wantReason == "")
			}
			if ok {
				return
			}
			if c.Type != "Programmed" || c.Status != metav1.ConditionFalse || c.Reason != string(tt.wantReason) {
				t.Errorf("condition %s=%s/%s, want False/%s", c.Type, c.Status, c.Reason, tt.wantReason)
			}
			if waiting != (tt.wantReason == gatewayv1.GatewayReasonAddressNotAssigned) {
				t.Errorf("waiting = %v with reason %s", waiting, c.Reason)
			}
			for _, part := range tt.want {
				if !strings.Contains(c.Message, part) {
					t.Errorf("message %q lacks %q", c.Message, part)
				}
			}
		})
	}
}

// TestLoadBalancerRefusals: the newest Warning event naming an address
// (by series, last timestamp or event time) gives its message; Normal
// events and events about other addresses do not count.
func TestLoadBalancerRefusals(t *testing.T) {
	at := func(s int) metav1.Time { return metav1.NewTime(time.Unix(1000+int64(s), 0)) }
	events := []corev1.Event{
		{Type: corev1.EventTypeWarning, Message: `"198.18.0.254" is not allowed in config`, LastTimestamp: at(1)},
		{Type: corev1.EventTypeWarning, Message: `198.18.0.254 is held by ns/other`, LastTimestamp: at(5)},
		{Type: corev1.EventTypeWarning, Message: `198.18.0.254 older, in a series`, LastTimestamp: at(9), Series: &corev1.EventSeries{LastObservedTime: metav1.NewMicroTime(time.Unix(1003, 0))}},
		{Type: corev1.EventTypeNormal, Message: `IPAllocated 198.18.0.254`, LastTimestamp: at(20)},
		{Type: corev1.EventTypeWarning, Message: `10.0.0.1 is not allowed in config`, LastTimestamp: at(30)},
	}
	got := LoadBalancerRefusals(events, "198.18.0.254", "198.18.0.251")
	want := map[string]string{"198.18.0.254": "198.18.0.254 is held by ns/other"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refusals %v, want %v", got, want)
	}
}

// TestGatewayStaticAddresses (envtest; no load balancer and no pods, so
// the test writes what one would: the Service's status, and its refusal as
// a Warning event like MetalLB's): a Hostname address is refused in
// translation; the first named address is asked for in the Service's
// spec.loadBalancerIP; Programmed is False/AddressNotAssigned while the load
// balancer neither gave nor refused it, AddressNotUsable once it refused it
// (its event's message quoted, noticed without any other change) or for a
// second named address; once the Service has them the data plane decides
// again (Pending here: no pods run). An address without value asks for
// nothing.
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
				{Type: ptr.To(gatewayv1.HostnameAddressType), Value: "gw.example.com"}, ipAddress("198.18.0.254"),
			},
		},
	}
	if err := k8s.Create(ctx, gw); err != nil {
		t.Fatal(err)
	}
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionFalse, string(gatewayv1.GatewayReasonUnsupportedAddress))
	waitRefusalEvent(t, ns, "gw", string(gatewayv1.GatewayReasonUnsupportedAddress), "Accepted False", "spec.addresses[0]")

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
	// waitProgrammed waits for Programmed False/reason with a message that
	// contains every part.
	waitProgrammed := func(reason gatewayv1.GatewayConditionReason, parts ...string) {
		t.Helper()
		testenv.Eventually(t, waitTimeout, fmt.Sprintf("Programmed False/%s %q", reason, parts), func() error {
			gw, err := getGateway(t, ns, "gw")
			if err != nil {
				return err
			}
			if err := hasCondition(gw.Status.Conditions, "Programmed", metav1.ConditionFalse, string(reason)); err != nil {
				return err
			}
			for _, c := range gw.Status.Conditions {
				for _, part := range parts {
					if c.Type == "Programmed" && !strings.Contains(c.Message, part) {
						return fmt.Errorf("message %q lacks %q", c.Message, part)
					}
				}
			}
			return nil
		})
	}
	waitLoadBalancerIP("198.18.0.254")
	waitProgrammed(gatewayv1.GatewayReasonAddressNotAssigned, "198.18.0.254: waiting for the load balancer")
	waitListener(t, ns, "gw", "http", "Programmed", metav1.ConditionFalse, string(gatewayv1.ListenerReasonPending))

	refusal := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "gw-nginx."},
		InvolvedObject: corev1.ObjectReference{
			APIVersion: "v1", Kind: "Service", Namespace: ns, Name: svc.Name, UID: svc.UID,
		},
		Type: corev1.EventTypeWarning, Reason: "AllocationFailed",
		Message:       fmt.Sprintf(`Failed to allocate IP for "%s/%s": "198.18.0.254" is not allowed in config`, ns, svc.Name),
		LastTimestamp: metav1.Now(), Source: corev1.EventSource{Component: "metallb-controller"},
	}
	if err := k8s.Create(ctx, refusal); err != nil {
		t.Fatal(err)
	}
	waitProgrammed(gatewayv1.GatewayReasonAddressNotUsable, "198.18.0.254: the load balancer refused it", "is not allowed in config")
	waitRefusalEvent(t, ns, "gw", string(gatewayv1.GatewayReasonAddressNotUsable), "Programmed False", "spec.addresses[0] 198.18.0.254")

	update(t, gw, func() {
		gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{ipAddress("198.18.0.251"), ipAddress("198.18.0.252")}
	})
	waitLoadBalancerIP("198.18.0.251")
	waitProgrammed(gatewayv1.GatewayReasonAddressNotUsable, "[1] 198.18.0.252 cannot be requested", "[0] 198.18.0.251: waiting")
	// The load balancer assigns the one asked for: the second is still not usable.
	updateStatus(t, svc, func() {
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "198.18.0.251"}}
	})
	waitProgrammed(gatewayv1.GatewayReasonAddressNotUsable, "[1] 198.18.0.252 cannot be requested", "has: 198.18.0.251")

	update(t, gw, func() { gw.Spec.Addresses = gw.Spec.Addresses[:1] })
	waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))

	// An address without value asks for none: the Service drops the field.
	update(t, gw, func() { gw.Spec.Addresses = []gatewayv1.GatewaySpecAddress{ipAddress("")} })
	waitLoadBalancerIP("")
	waitGateway(t, ns, "gw", "Programmed", metav1.ConditionFalse, string(gatewayv1.GatewayReasonPending))
}

// TestAddressRecheckAfter: a Gateway that has waited for its address
// longer than addressRecheckFast is looked at every minute, not every 5 s.
func TestAddressRecheckAfter(t *testing.T) {
	now := time.Unix(10_000, 0)
	gw := func(reason gatewayv1.GatewayConditionReason, since time.Duration) *gatewayv1.Gateway {
		return &gatewayv1.Gateway{Status: gatewayv1.GatewayStatus{Conditions: []metav1.Condition{{
			Type: "Programmed", Status: metav1.ConditionFalse, Reason: string(reason), LastTransitionTime: metav1.NewTime(now.Add(-since)),
		}}}}
	}
	for _, tt := range []struct {
		gw   *gatewayv1.Gateway
		want time.Duration
	}{
		{&gatewayv1.Gateway{}, addressRecheck},
		{gw(gatewayv1.GatewayReasonAddressNotAssigned, time.Minute), addressRecheck},
		{gw(gatewayv1.GatewayReasonAddressNotAssigned, 3*time.Minute), addressRecheckSlow},
		{gw(gatewayv1.GatewayReasonPending, time.Hour), addressRecheck},
	} {
		if got := addressRecheckAfter(tt.gw, now); got != tt.want {
			t.Errorf("%+v: %s, want %s", tt.gw.Status.Conditions, got, tt.want)
		}
	}
}
