package nodeagent

import (
	"net"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIPPoolClaim(t *testing.T) {
	p := newIPPool(net.ParseIP("198.18.0.240"), net.ParseIP("198.18.0.241"))
	if err := p.claim("a", net.ParseIP("198.18.0.241")); err != nil {
		t.Fatalf("claim of a free address: %v", err)
	}
	if err := p.claim("b", net.ParseIP("198.18.0.241")); err == nil || !strings.Contains(err.Error(), "held by a") {
		t.Errorf("claim of a held address: %v", err)
	}
	if err := p.claim("b", net.ParseIP("198.18.0.242")); err == nil || !strings.Contains(err.Error(), "not in") {
		t.Errorf("claim outside the range: %v", err)
	}
	// An owner that claims another address gives its old one up.
	if err := p.claim("a", net.ParseIP("198.18.0.240")); err != nil {
		t.Fatal(err)
	}
	if err := p.claim("b", net.ParseIP("198.18.0.241")); err != nil {
		t.Errorf("the address a gave up: %v", err)
	}
	if got := DefaultNetwork().LBRefusedAddress().String(); got != "198.18.0.254" {
		t.Errorf("LBRefusedAddress = %s", got)
	}
}

func TestRequestedIP(t *testing.T) {
	tests := []struct {
		lbIP        string
		annotations map[string]string
		want        string // "" none, "error"
	}{
		{},
		{lbIP: "198.18.0.240", want: "198.18.0.240"},
		{annotations: map[string]string{"metallb.universe.tf/loadBalancerIPs": "198.18.0.241"}, want: "198.18.0.241"},
		{annotations: map[string]string{"metallb.io/loadBalancerIPs": " 198.18.0.242 "}, want: "198.18.0.242"},
		{lbIP: "198.18.0.240", annotations: map[string]string{"metallb.io/loadBalancerIPs": "198.18.0.241"}, want: "error"},
		{annotations: map[string]string{"metallb.io/loadBalancerIPs": "198.18.0.241,198.18.0.242"}, want: "error"},
		{lbIP: "2001:db8::1", want: "error"},
		{lbIP: "gw.example.com", want: "error"},
	}
	for _, tt := range tests {
		svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations}, Spec: corev1.ServiceSpec{LoadBalancerIP: tt.lbIP}}
		ip, err := requestedIP(svc)
		got := ""
		switch {
		case err != nil:
			got = "error"
		case ip != nil:
			got = ip.String()
		}
		if got != tt.want {
			t.Errorf("loadBalancerIP %q annotations %v: %s (%v), want %s", tt.lbIP, tt.annotations, got, err, tt.want)
		}
	}
}
