package addresses

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
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

func TestLeaseName(t *testing.T) {
	for _, tc := range []struct{ gateway, want string }{
		{"gw", "gw-nginx-gateway-addresses"},
	} {
		if got := LeaseName(tc.gateway); got != tc.want {
			t.Errorf("LeaseName(%q) = %q, want %q", tc.gateway, got, tc.want)
		}
	}
	long := strings.Repeat("a", 253)
	got := LeaseName(long)
	if len(got) > 253 || !strings.HasSuffix(got, "-nginx-gateway-addresses") {
		t.Errorf("LeaseName of a 253-character name: %q (%d)", got, len(got))
	}
	if LeaseName(long) == LeaseName(strings.Repeat("a", 252)+"b") {
		t.Error("two long names share a lease")
	}
}
