package addresses

import (
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// FromService returns the addresses clients reach the Gateway at, in the
// order the Service lists them, without duplicates.
func FromService(svc *corev1.Service) []gatewayv1.GatewayStatusAddress {
	var out []gatewayv1.GatewayStatusAddress
	seen := map[string]bool{}
	add := func(value string) {
		if value == "" || value == corev1.ClusterIPNone || seen[value] {
			return
		}
		seen[value] = true
		kind := gatewayv1.HostnameAddressType
		if net.ParseIP(value) != nil {
			kind = gatewayv1.IPAddressType
		}
		out = append(out, gatewayv1.GatewayStatusAddress{Type: &kind, Value: value})
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		add(ing.IP)
		add(ing.Hostname)
	}
	if len(out) > 0 {
		return out
	}
	for _, ip := range svc.Spec.ExternalIPs {
		add(ip)
	}
	if len(out) > 0 {
		return out
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 {
		ips = []string{svc.Spec.ClusterIP}
	}
	for _, ip := range ips {
		add(ip)
	}
	return out
}

// Equal says whether two address lists are the same, in order.
func Equal(a, b []gatewayv1.GatewayStatusAddress) bool {
	return slices.EqualFunc(a, b, func(x, y gatewayv1.GatewayStatusAddress) bool {
		return x.Value == y.Value && typeOf(x) == typeOf(y)
	})
}

func typeOf(a gatewayv1.GatewayStatusAddress) gatewayv1.AddressType {
	if a.Type == nil {
		return gatewayv1.IPAddressType // the API's default
	}
	return *a.Type
}
