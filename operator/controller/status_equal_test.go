package controller

import (
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
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

// TestOursAlreadyIn: the status writer's shortcut says a merge gives the
// route's status back only when it does (sameRouteParents of the merge),
// and says so for a status the operator wrote and nothing changed since.
func TestOursAlreadyIn(t *testing.T) {
	written, later := metav1.NewTime(time.Date(2026, 11, 29, 16, 0, 0, 0, time.UTC)), metav1.NewTime(time.Date(2026, 11, 29, 17, 0, 0, 0, time.UTC))
	entry := func(controller gatewayv1.GatewayController, gw string, conds ...metav1.Condition) gatewayv1.RouteParentStatus {
		return gatewayv1.RouteParentStatus{ParentRef: gatewayv1.ParentReference{Name: gatewayv1.ObjectName(gw)}, ControllerName: controller, Conditions: conds}
	}
	cond := func(typ, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: metav1.ConditionTrue, Reason: reason, Message: typ + " ok", ObservedGeneration: 1}
	}
	ours := []gatewayv1.RouteParentStatus{
		entry(translate.ControllerName, "gw", cond("Accepted", "Accepted"), cond("ResolvedRefs", "ResolvedRefs")),
		entry(translate.ControllerName, "gw2", cond("Accepted", "Accepted")),
	}
	other := entry("example.com/other", "gw", cond("Accepted", "Theirs"))
	wrote := mergeRouteParents([]gatewayv1.RouteParentStatus{other}, ours, written)
	edit := func(f func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
		s := make([]gatewayv1.RouteParentStatus, len(wrote))
		for i := range wrote {
			wrote[i].DeepCopyInto(&s[i])
		}
		return f(s)
	}
	for name, c := range map[string]struct {
		current, ours []gatewayv1.RouteParentStatus
		want          bool
	}{
		"as written":    {wrote, ours, true},
		"written alone": {mergeRouteParents(nil, ours, written), ours, true},
		"none of ours":  {[]gatewayv1.RouteParentStatus{other}, nil, true},
		"ours gone":     {wrote, nil, false},
		"a parent more": {wrote, append(ours[:2:2], entry(translate.ControllerName, "gw3", cond("Accepted", "Accepted"))), false},
		"other message": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			s[1].Conditions[0].Message = "x"
			return s
		}), ours, false},
		"other status": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			s[1].Conditions[1].Status = metav1.ConditionFalse
			return s
		}), ours, false},
		"other generation": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			s[2].Conditions[0].ObservedGeneration = 2
			return s
		}), ours, false},
		"ours first": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus { return append(s[1:], s[0]) }), ours, false},
		"conditions swapped": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			c := s[1].Conditions
			c[0], c[1] = c[1], c[0]
			return s
		}), ours, false},
		"a parent twice": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			s[2].ParentRef.Name = "gw"
			return s
		}), []gatewayv1.RouteParentStatus{ours[0], ours[0]}, false},
		"a condition twice": {edit(func(s []gatewayv1.RouteParentStatus) []gatewayv1.RouteParentStatus {
			s[1].Conditions[1] = s[1].Conditions[0]
			return s
		}), []gatewayv1.RouteParentStatus{entry(translate.ControllerName, "gw", cond("Accepted", "Accepted"), cond("Accepted", "Accepted")), ours[1]}, false},
		"another controller": {wrote, []gatewayv1.RouteParentStatus{entry("example.com/other", "gw")}, false},
	} {
		got := oursAlreadyIn(c.current, c.ours)
		if got != c.want {
			t.Errorf("%s: oursAlreadyIn = %v, want %v", name, got, c.want)
		}
		if got && !sameRouteParents(mergeRouteParents(c.current, c.ours, later), c.current) {
			t.Errorf("%s: oursAlreadyIn, and the merge changes the status", name)
		}
	}
}
