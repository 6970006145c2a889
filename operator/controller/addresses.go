package controller

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// AddressVerdict is what the Gateway's spec.addresses make of its
// Programmed condition, from its Service (nil: not created yet) and the
// load balancer's refusals (the newest Warning event on the Service that
// names the address, by address: LoadBalancerRefusals):
//   - ok when every named address is among the Service's
//     status.loadBalancer.ingress (or none is named: an entry without a
//     value asks for any address, and the Service's is what the Gateway
//     gets);
//   - else False/AddressNotUsable when an address cannot be had: a second
//     named one, which the Service cannot ask for (one spec.loadBalancerIP),
//     or the one it asks for when the load balancer refused it (its event's
//     message is quoted);
//   - else False/AddressNotAssigned while the load balancer has neither
//     given the address nor refused it (waiting: look again later, since
//     an event triggers no reconcile).
//
// Translation has already refused every entry that is not an IPAddress
// and put the first named one into the Service's spec.loadBalancerIP.
func AddressVerdict(requested []gatewayv1.GatewaySpecAddress, svc *corev1.Service, refusals map[string]string) (c metav1.Condition, ok, waiting bool) {
	got := map[netip.Addr]bool{}
	var have []string
	asked, name := "", "(not created yet)"
	if svc != nil {
		name = svc.Name
		asked = svc.Spec.LoadBalancerIP //nolint:staticcheck // the portable way to ask for an address (docs/design.md)
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			if ip, err := netip.ParseAddr(ing.IP); err == nil {
				got[ip] = true
				have = append(have, ip.String())
			}
		}
	}
	var unusable, unassigned []string
	for i, a := range requested {
		if a.Value == "" || (a.Type != nil && *a.Type != gatewayv1.IPAddressType) {
			continue
		}
		ip, err := netip.ParseAddr(a.Value)
		if err != nil || got[ip] {
			continue
		}
		switch refusal := refusals[ip.String()]; {
		case svc == nil:
			unassigned = append(unassigned, fmt.Sprintf("spec.addresses[%d] %s: waiting for the Gateway's Service to be created", i, a.Value))
		case asked != ip.String():
			unusable = append(unusable, fmt.Sprintf("spec.addresses[%d] %s cannot be requested: a Service asks its load balancer for one address (spec.loadBalancerIP), the first one named", i, a.Value))
		case refusal != "":
			unusable = append(unusable, fmt.Sprintf("spec.addresses[%d] %s: the load balancer refused it (%s); name an address of its pools that no other Service holds", i, a.Value, refusal))
		default:
			unassigned = append(unassigned, fmt.Sprintf("spec.addresses[%d] %s: waiting for the load balancer to assign it (`kubectl describe service -n %s %s` shows its events)", i, a.Value, svc.Namespace, name))
		}
	}
	if len(unusable)+len(unassigned) == 0 {
		return metav1.Condition{}, true, false
	}
	assigned := "none"
	if len(have) > 0 {
		assigned = strings.Join(have, ", ")
	}
	reason := gatewayv1.GatewayReasonAddressNotUsable
	if len(unusable) == 0 {
		reason = gatewayv1.GatewayReasonAddressNotAssigned
	}
	return metav1.Condition{
		Type:    string(gatewayv1.GatewayConditionProgrammed),
		Status:  metav1.ConditionFalse,
		Reason:  string(reason),
		Message: fmt.Sprintf("%s; Service %s has: %s", strings.Join(append(unusable, unassigned...), "; "), name, assigned),
	}, false, len(unusable) == 0
}

// LoadBalancerRefusals is, for each address a Warning event of the
// Service names, the message of the newest such event: how a load balancer
// tells that it will not give an address (MetalLB: AllocationFailed,
// "\"4.3.2.1\" is not allowed in config"; cloud controllers:
// SyncLoadBalancerFailed). Only the addresses in asked are looked for.
func LoadBalancerRefusals(events []corev1.Event, asked ...string) map[string]string {
	out := map[string]string{}
	newest := map[string]time.Time{}
	for _, e := range events {
		if e.Type != corev1.EventTypeWarning {
			continue
		}
		at := eventTime(e)
		for _, ip := range asked {
			if ip != "" && strings.Contains(e.Message, ip) && !at.Before(newest[ip]) {
				out[ip], newest[ip] = e.Message, at
			}
		}
	}
	return out
}

func eventTime(e corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	}
	return e.CreationTimestamp.Time
}

// How soon a Gateway whose address the load balancer has neither given
// nor refused is looked at again: soon at first (a refusal event comes
// within seconds), then rarely, since each look is a whole translation and
// a load balancer that ignores spec.loadBalancerIP never answers at all.
const (
	addressRecheck     = 5 * time.Second
	addressRecheckSlow = time.Minute
	addressRecheckFast = 2 * time.Minute // how long the first pace lasts
)

// addressRecheckAfter is when to look again at a Gateway waiting for its
// address, from how long its Programmed condition has said so.
func addressRecheckAfter(gw *gatewayv1.Gateway, now time.Time) time.Duration {
	c := meta.FindStatusCondition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed))
	if c != nil && c.Reason == string(gatewayv1.GatewayReasonAddressNotAssigned) && now.Sub(c.LastTransitionTime.Time) > addressRecheckFast {
		return addressRecheckSlow
	}
	return addressRecheck
}

// addressVerdict reads the Gateway's Service from the cache and, when it
// lacks the address it asks for, the Service's events from the API server
// (not cached: they matter only then), and returns AddressVerdict.
func (r *Reconciler) addressVerdict(ctx context.Context, gw *gatewayv1.Gateway, key client.ObjectKey) (c metav1.Condition, ok, waiting bool, err error) {
	svc := &corev1.Service{}
	if err := r.client.Get(ctx, key, svc); err != nil {
		c, ok, waiting = AddressVerdict(gw.Spec.Addresses, nil, nil)
		return c, ok, waiting, client.IgnoreNotFound(err)
	}
	c, ok, waiting = AddressVerdict(gw.Spec.Addresses, svc, nil)
	asked := svc.Spec.LoadBalancerIP //nolint:staticcheck // the portable way to ask for an address (docs/design.md)
	if !waiting || asked == "" {
		return c, ok, waiting, nil
	}
	var events corev1.EventList
	if err := r.reader.List(ctx, &events, client.InNamespace(svc.Namespace),
		client.MatchingFields{"involvedObject.uid": string(svc.UID), "type": corev1.EventTypeWarning}); err != nil {
		return c, ok, waiting, fmt.Errorf("listing the events of Service %s: %w", key, err)
	}
	c, ok, waiting = AddressVerdict(gw.Spec.Addresses, svc, LoadBalancerRefusals(events.Items, asked))
	return c, ok, waiting, nil
}
