package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

func TestIsSubset(t *testing.T) {
	tests := []struct {
		name string
		want any
		have any
		ok   bool
	}{
		{name: "equal scalars", want: "a", have: "a", ok: true},
		{name: "different scalars", want: int64(1), have: int64(2)},
		{name: "defaulted fields ignored", want: map[string]any{"a": "x"}, have: map[string]any{"a": "x", "b": "y"}, ok: true},
		{name: "missing field", want: map[string]any{"a": "x", "c": "z"}, have: map[string]any{"a": "x"}},
		{name: "empty map matches absent", want: map[string]any{"emptyDir": map[string]any{}}, have: map[string]any{}, ok: true},
		{name: "empty map matches defaulted", want: map[string]any{"emptyDir": map[string]any{}}, have: map[string]any{"emptyDir": map[string]any{"medium": ""}}, ok: true},
		{name: "list element defaulted", want: []any{map[string]any{"port": int64(80)}}, have: []any{map[string]any{"port": int64(80), "nodePort": int64(30000)}}, ok: true},
		{name: "list longer", want: []any{"a"}, have: []any{"a", "b"}},
		{name: "list element changed", want: []any{"a", "b"}, have: []any{"a", "c"}},
		{name: "map replaced by scalar", want: map[string]any{"a": map[string]any{"b": "c"}}, have: map[string]any{"a": "b"}},
	}
	for _, tt := range tests {
		if got := isSubset(tt.want, tt.have); got != tt.ok {
			t.Errorf("%s: isSubset = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestWithTransitionTimes(t *testing.T) {
	then := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	previous := []metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, LastTransitionTime: then},
		{Type: "Programmed", Status: metav1.ConditionTrue, LastTransitionTime: then},
	}
	got := withTransitionTimes([]metav1.Condition{
		{Type: "Accepted", Status: metav1.ConditionTrue, Message: "new message"},
		{Type: "Programmed", Status: metav1.ConditionFalse},
		{Type: "ResolvedRefs", Status: metav1.ConditionTrue},
	}, previous, now)
	want := []metav1.Time{then, now, now}
	for i, c := range got {
		if !c.LastTransitionTime.Equal(&want[i]) {
			t.Errorf("%s lastTransitionTime = %v, want %v", c.Type, c.LastTransitionTime, want[i])
		}
	}
}

func TestMergeRouteParents(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	then := metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	group := gatewayv1.Group(gatewayv1.GroupName)
	kind := gatewayv1.Kind("Gateway")
	other := gatewayv1.RouteParentStatus{ControllerName: "example.com/other", ParentRef: gatewayv1.ParentReference{Name: "their-gw"}}
	oursOld := gatewayv1.RouteParentStatus{
		ControllerName: translate.ControllerName,
		// As read back: with the defaults the CRD schema fills in.
		ParentRef:  gatewayv1.ParentReference{Name: "gw", Group: &group, Kind: &kind},
		Conditions: []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue, LastTransitionTime: then}},
	}
	stale := gatewayv1.RouteParentStatus{ControllerName: translate.ControllerName, ParentRef: gatewayv1.ParentReference{Name: "gone"}}
	oursNew := gatewayv1.RouteParentStatus{
		ControllerName: translate.ControllerName,
		ParentRef:      gatewayv1.ParentReference{Name: "gw"},
		Conditions:     []metav1.Condition{{Type: "Accepted", Status: metav1.ConditionTrue}},
	}
	got := mergeRouteParents([]gatewayv1.RouteParentStatus{oursOld, other, stale}, []gatewayv1.RouteParentStatus{oursNew}, now)
	if len(got) != 2 || got[0].ControllerName != "example.com/other" || got[1].ParentRef.Name != "gw" {
		t.Fatalf("merged = %+v", got)
	}
	if !got[1].Conditions[0].LastTransitionTime.Equal(&then) {
		t.Errorf("unchanged condition got a new transition time %v", got[1].Conditions[0].LastTransitionTime)
	}
	if got := mergeRouteParents([]gatewayv1.RouteParentStatus{other, oursOld}, nil, now); len(got) != 1 || got[0].ControllerName != "example.com/other" {
		t.Errorf("a route no longer attached keeps our entry: %+v", got)
	}
}
