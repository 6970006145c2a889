package addresses

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestFromService(t *testing.T) {
	ip := func(v string) gatewayv1.GatewayStatusAddress {
		return gatewayv1.GatewayStatusAddress{Type: ptr.To(gatewayv1.IPAddressType), Value: v}
	}
	host := func(v string) gatewayv1.GatewayStatusAddress {
		return gatewayv1.GatewayStatusAddress{Type: ptr.To(gatewayv1.HostnameAddressType), Value: v}
	}
	for _, tc := range []struct {
		name string
		svc  corev1.Service
		want []gatewayv1.GatewayStatusAddress
	}{
		{
			name: "load balancer ingress wins, IPs and hostnames in order",
			svc: corev1.Service{
				Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5", ExternalIPs: []string{"198.51.100.1"}},
				Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{
					{IP: "203.0.113.1"}, {Hostname: "lb.example.com"}, {IP: "2001:db8::1"}, {IP: "203.0.113.1"},
				}}},
			},
			want: []gatewayv1.GatewayStatusAddress{ip("203.0.113.1"), host("lb.example.com"), ip("2001:db8::1")},
		},
		{
			name: "external IPs without load balancer",
			svc:  corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5", ExternalIPs: []string{"198.51.100.1", "198.51.100.2"}}},
			want: []gatewayv1.GatewayStatusAddress{ip("198.51.100.1"), ip("198.51.100.2")},
		},
		{
			name: "cluster IPs, dual stack",
			svc:  corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5", ClusterIPs: []string{"10.0.0.5", "fd00::5"}}},
			want: []gatewayv1.GatewayStatusAddress{ip("10.0.0.5"), ip("fd00::5")},
		},
		{
			name: "cluster IP only in the legacy field",
			svc:  corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.0.0.5"}},
			want: []gatewayv1.GatewayStatusAddress{ip("10.0.0.5")},
		},
		{
			name: "headless: nothing",
			svc:  corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, ClusterIPs: []string{corev1.ClusterIPNone}}},
			want: nil,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FromService(&tc.svc)
			if !Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEqual(t *testing.T) {
	a := []gatewayv1.GatewayStatusAddress{{Value: "10.0.0.1"}}
	b := []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.IPAddressType), Value: "10.0.0.1"}}
	c := []gatewayv1.GatewayStatusAddress{{Type: ptr.To(gatewayv1.HostnameAddressType), Value: "10.0.0.1"}}
	if !Equal(a, b) {
		t.Error("a missing type is the API's default IPAddress")
	}
	if Equal(b, c) || Equal(a, nil) {
		t.Error("different types or lengths compare equal")
	}
}

// TestDecide: a replica applies when the Gateway shows other addresses than
// the Service's, never when it shows the same, and settles the same
// disagreement (the Gateway shows A again where it applied B over A) again
// only after the hold.
func TestDecide(t *testing.T) {
	addr := func(vs ...string) []gatewayv1.GatewayStatusAddress {
		var out []gatewayv1.GatewayStatusAddress
		for _, v := range vs {
			out = append(out, gatewayv1.GatewayStatusAddress{Type: ptr.To(gatewayv1.IPAddressType), Value: v})
		}
		return out
	}
	gateway := func(uid types.UID, shown ...string) *gatewayv1.Gateway {
		return &gatewayv1.Gateway{ObjectMeta: metav1.ObjectMeta{UID: uid}, Status: gatewayv1.GatewayStatus{Addresses: addr(shown...)}}
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const hold = 30 * time.Second
	// This replica overwrote 10.0.0.9 with 10.0.0.1 at t0.
	wrote := applied{gateway: "uid", over: addr("10.0.0.9"), addresses: addr("10.0.0.1"), at: t0}
	for _, tc := range []struct {
		name      string
		last      applied
		gw        *gatewayv1.Gateway
		want      []gatewayv1.GatewayStatusAddress
		now       time.Time
		apply     bool
		wantRetry time.Duration
	}{
		{"already shown: no write", applied{}, gateway("uid", "10.0.0.1"), addr("10.0.0.1"), t0, false, 0},
		{"shown by this replica's own write: no write", wrote, gateway("uid", "10.0.0.1"), addr("10.0.0.1"), t0.Add(time.Second), false, 0},
		{"first write", applied{}, gateway("uid"), addr("10.0.0.1"), t0, true, 0},
		{"removing every address", wrote, gateway("uid", "10.0.0.1"), nil, t0.Add(time.Second), true, 0},
		{"the Service changed since the last write", wrote, gateway("uid", "10.0.0.1"), addr("10.0.0.2"), t0.Add(time.Second), true, 0},
		{"a stale write by another replica, seen by one that has not overwritten it", applied{}, gateway("uid", "10.0.0.9"), addr("10.0.0.1"), t0, true, 0},
		{"other addresses than the ones overwritten: write at once", wrote, gateway("uid", "10.0.0.8"), addr("10.0.0.1"), t0.Add(time.Second), true, 0},
		{"the overwritten addresses back within the hold: wait", wrote, gateway("uid", "10.0.0.9"), addr("10.0.0.1"), t0.Add(10 * time.Second), false, 20 * time.Second},
		{"the overwritten addresses back after the hold: write again", wrote, gateway("uid", "10.0.0.9"), addr("10.0.0.1"), t0.Add(hold), true, 0},
		{"a new Gateway of the same name", wrote, gateway("new-uid", "10.0.0.9"), addr("10.0.0.1"), t0.Add(time.Second), true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			apply, retry := tc.last.decide(tc.gw, tc.want, tc.now, hold)
			if apply != tc.apply || retry != tc.wantRetry {
				t.Errorf("decide = %v, %s; want %v, %s", apply, retry, tc.apply, tc.wantRetry)
			}
		})
	}
}
