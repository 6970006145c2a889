package controller

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AddressesNotUsable is the Gateway's Programmed condition when an address
// its spec.addresses names is not among those its Service got from the load
// balancer (status.loadBalancer.ingress): False, AddressNotUsable, naming
// each such address and what to check. ok is false when every named
// address is there (or none is named: an entry without a value asks for
// any address, and the Service's is what the Gateway gets).
//
// Translation has already refused every entry that is not an IPAddress and
// asked for the first named one in the Service's spec.loadBalancerIP; a
// further one cannot be asked for, so it is reported here as well. A load
// balancer that refuses an address (outside its pools, held by another
// Service) tells only through an event on the Service, so an address it is
// still assigning is reported the same way until it is there; the message
// says both.
func AddressesNotUsable(requested []gatewayv1.GatewaySpecAddress, svc *corev1.Service) (metav1.Condition, bool) {
	got := map[netip.Addr]bool{}
	var have []string
	if svc != nil {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(ing.IP); err == nil {
				got[ip] = true
				have = append(have, ip.String())
			}
		}
	}
	asked := ""
	if svc != nil {
		asked = svc.Spec.LoadBalancerIP //nolint:staticcheck // the portable way to ask for an address (docs/design.md)
	}
	var problems []string
	for i, a := range requested {
		if a.Value == "" || (a.Type != nil && *a.Type != gatewayv1.IPAddressType) {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || got[ip] {
			continue
		}
		if asked != ip.String() {
			problems = append(problems, fmt.Sprintf("spec.addresses[%d] %s cannot be requested: a Service asks its load balancer for one address (spec.loadBalancerIP), the first one named", i, a.Value))
			continue
		}
		problems = append(problems, fmt.Sprintf("spec.addresses[%d] %s is not assigned to the Service by its load balancer: it is outside the load balancer's address pools, another Service holds it, or the load balancer is still assigning it (`kubectl describe service` shows its events)", i, a.Value))
	}
	if len(problems) == 0 {
		return metav1.Condition{}, false
	}
	assigned := "none"
	if len(have) > 0 {
		assigned = strings.Join(have, ", ")
	}
	name := "(not created yet)"
	if svc != nil {
		name = svc.Name
	}
	return metav1.Condition{
		Type:    string(gatewayv1.GatewayConditionProgrammed),
		Status:  metav1.ConditionFalse,
		Reason:  string(gatewayv1.GatewayReasonAddressNotUsable),
		Message: fmt.Sprintf("%s; Service %s has: %s", strings.Join(problems, "; "), name, assigned),
	}, true
}
