package controller

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// normalizeParents is what sameRouteParents compares: every entry with its
// parentRef's defaults filled.
func normalizeParents(in []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
	out := make([]gatewayv1.RouteParentStatus, len(in))
	for i, p := range in {
		p = *p.DeepCopy()
		p.ParentRef = normalizeParentRef(p.ParentRef)
		out[i] = p
	}
	return out
}

// TestSameRouteParents: sameRouteParents answers as the reflection-based
// comparison of the normalized entries it replaces, for entries that differ
// in each field; and the types have no field it does not compare.
func TestSameRouteParents(t *testing.T) {
	if n := reflect.TypeOf(gatewayv1.RouteParentStatus{}).NumField(); n != 3 {
		t.Errorf("RouteParentStatus has %d fields: compare the new ones in sameRouteParents", n)
	}
	if n := reflect.TypeOf(gatewayv1.ParentReference{}).NumField(); n != 6 {
		t.Errorf("ParentReference has %d fields: compare the new ones in sameParentRef", n)
	}
	if n := reflect.TypeOf(metav1.Condition{}).NumField(); n != 6 {
		t.Errorf("Condition has %d fields: compare the new ones in sameConditions", n)
	}
	at := time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)
	base := func() gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{
			ParentRef:      gatewayv1.ParentReference{Name: "gw", Namespace: ptr.To(gatewayv1.Namespace("ns")), SectionName: ptr.To(gatewayv1.SectionName("http"))},
			ControllerName: "example.com/ctl",
			Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, Reason: "Accepted", Message: "ok",
				ObservedGeneration: 2, LastTransitionTime: metav1.NewTime(at)}},
		}
	}
	variants := map[string]func(p *gatewayv1.RouteParentStatus){
		"same":             func(*gatewayv1.RouteParentStatus) {},
		"group defaulted":  func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Group = ptr.To(gatewayv1.Group(gatewayv1.GroupName)) },
		"kind defaulted":   func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Kind = ptr.To(gatewayv1.Kind("Gateway")) },
		"other group":      func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Group = ptr.To(gatewayv1.Group("example.com")) },
		"other kind":       func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Kind = ptr.To(gatewayv1.Kind("ListenerSet")) },
		"no namespace":     func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Namespace = nil },
		"other name":       func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Name = "gw2" },
		"no section":       func(p *gatewayv1.RouteParentStatus) { p.ParentRef.SectionName = nil },
		"port":             func(p *gatewayv1.RouteParentStatus) { p.ParentRef.Port = ptr.To(gatewayv1.PortNumber(80)) },
		"controller":       func(p *gatewayv1.RouteParentStatus) { p.ControllerName = "example.com/other" },
		"no conditions":    func(p *gatewayv1.RouteParentStatus) { p.Conditions = nil },
		"empty conditions": func(p *gatewayv1.RouteParentStatus) { p.Conditions = []metav1.Condition{} },
		"status":           func(p *gatewayv1.RouteParentStatus) { p.Conditions[0].Status = metav1.ConditionFalse },
		"reason":           func(p *gatewayv1.RouteParentStatus) { p.Conditions[0].Reason = "Other" },
		"message":          func(p *gatewayv1.RouteParentStatus) { p.Conditions[0].Message = "other" },
		"type":             func(p *gatewayv1.RouteParentStatus) { p.Conditions[0].Type = "ResolvedRefs" },
		"generation":       func(p *gatewayv1.RouteParentStatus) { p.Conditions[0].ObservedGeneration = 3 },
		"time": func(p *gatewayv1.RouteParentStatus) {
			p.Conditions[0].LastTransitionTime = metav1.NewTime(at.Add(time.Second))
		},
		"same time, other zone": func(p *gatewayv1.RouteParentStatus) {
			p.Conditions[0].LastTransitionTime = metav1.NewTime(at.In(time.FixedZone("x", 3600)))
		},
		"two conditions": func(p *gatewayv1.RouteParentStatus) {
			p.Conditions = append(p.Conditions, metav1.Condition{Type: "ResolvedRefs", Status: metav1.ConditionTrue})
		},
	}
	for name, change := range variants {
		a, b := base(), base()
		change(&b)
		for _, pair := range [][2][]gatewayv1.RouteParentStatus{
			{{a}, {b}}, {{a, a}, {a, b}}, {{a}, {a, b}}, {nil, {b}}, {nil, {}},
		} {
			want := equality.Semantic.DeepEqual(normalizeParents(pair[0]), normalizeParents(pair[1]))
			if got := sameRouteParents(pair[0], pair[1]); got != want {
				t.Errorf("%s, %d and %d entries: sameRouteParents %v, the reflection %v", name, len(pair[0]), len(pair[1]), got, want)
			}
		}
	}
}
