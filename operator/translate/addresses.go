package translate

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// requestedAddress validates a Gateway's spec.addresses and returns the
// address its Service asks the load balancer for (Service
// spec.loadBalancerIP), "" when none is asked for.
//
// Only IPAddress entries are supported: a LoadBalancer Service has no
// portable way to ask for a hostname or a named address, so those are
// refused (Accepted False, UnsupportedAddress). An entry without a value
// asks for any address, which is what the load balancer gives anyway. An
// entry with a value asks for that address; spec.loadBalancerIP holds
// one, so the first such entry is asked for and any further one cannot be
// (the controller reports it as not usable, since the Service never gets
// it). A Service of another type than LoadBalancer cannot ask for one.
func requestedAddress(addrs []gatewayv1.GatewaySpecAddress, serviceType corev1.ServiceType) (string, error) {
	request := ""
	for i, a := range addrs {
		typ := gatewayv1.IPAddressType
		if a.Type != nil {
			typ = *a.Type
		}
		if typ != gatewayv1.IPAddressType {
			return "", fmt.Errorf("spec.addresses[%d].type: %q is not supported: only IPAddress (the Gateway's LoadBalancer Service can be asked for an IP address only)",
				i, typ)
		}
		if a.Value == "" {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || ip.Zone() != "" {
			return "", fmt.Errorf("spec.addresses[%d].value: %q is not an IP address", i, a.Value)
		}
		if serviceType != corev1.ServiceTypeLoadBalancer {
			return "", fmt.Errorf("spec.addresses[%d].value: %s cannot be requested: the Gateway's Service is of type %s (GatewayParameters spec.service.type); only a LoadBalancer Service asks for an address",
				i, a.Value, serviceType)
		}
		if request == "" {
			request = ip.String()
		}
	}
	return request, nil
}
