package translate

import (
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

func TestHostnameIntersection(t *testing.T) {
	tests := []struct {
		listener string
		route    []string
		want     []string
	}{
		{"", nil, []string{""}},
		{"", []string{"a.example.com"}, []string{"a.example.com"}},
		{"a.example.com", nil, []string{"a.example.com"}},
		{"a.example.com", []string{"a.example.com", "b.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"a.example.com", "a.b.example.com", "example.com", "x.org"}, []string{"a.b.example.com", "a.example.com"}},
		{"a.example.com", []string{"*.example.com"}, []string{"a.example.com"}},
		{"*.example.com", []string{"*.a.example.com", "*.com"}, []string{"*.a.example.com", "*.example.com"}},
		{"*.example.com", []string{"*.example.org"}, nil},
	}
	for _, tc := range tests {
		if got := intersectHostnames(tc.listener, tc.route); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("intersect(%q, %v) = %v, want %v", tc.listener, tc.route, got, tc.want)
		}
	}
}

// TestRefusedRouteIsLeftOut: a route refused downstream (Input.Refused) is
// Accepted False with the given message on every parent and serves
// nothing, while the other routes of its Gateway are served as before.
func TestRefusedRouteIsLeftOut(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = []*gatewayv1.HTTPRoute{
		route(testNS, "good", parent("", "gw", ""), simpleRule("svc", prefix("/good"))),
		route(testNS, "poison", parent("", "gw", ""), simpleRule("svc", prefix("/poison"))),
	}
	msg := "spec.rules[0].filters[0].responseHeaderModifier.set[0].value: 4200 bytes once escaped; nginx takes at most 4095"
	in.Refused = map[RouteKey]string{{Kind: kindHTTPRoute, NamespacedName: types.NamespacedName{Namespace: testNS, Name: "poison"}}: msg}
	out := Translate(in)

	poison := routeStatus(t, out, testNS, "poison")
	wantCondition(t, poison.Conditions, "Accepted", metav1.ConditionFalse, "UnsupportedValue")
	if got := findCondition(t, poison.Conditions, "Accepted").Message; got != msg {
		t.Errorf("Accepted message = %q, want %q", got, msg)
	}
	wantCondition(t, routeStatus(t, out, testNS, "good").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")

	g := gatewayResult(t, out, testNS, "gw")
	var served []string
	for _, s := range g.Model.HTTPServers {
		for _, l := range s.Locations {
			for _, c := range l.Candidates {
				served = append(served, c.Rule.Route.Name+" "+l.Path)
			}
		}
	}
	if strings.Contains(strings.Join(served, ","), "poison") || !strings.Contains(strings.Join(served, ","), "good") {
		t.Errorf("served %v, want the good route only", served)
	}
	if got := g.Status.Listeners[0].AttachedRoutes; got != 1 {
		t.Errorf("attachedRoutes = %d, want 1 (the refused route is not attached)", got)
	}
}

// TestReferencesRecordLookups: the translation reports every Service and
// Secret it looked up, found or not, so the controller can ignore changes
// to the others; an object behind a missing ReferenceGrant is not looked up.
func TestReferencesRecordLookups(t *testing.T) {
	in := baseInput()
	in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners,
		httpsListener("https", 443, "", secretRef("", "missing-cert")))
	in.HTTPRoutes = []*gatewayv1.HTTPRoute{
		route(testNS, "r", parent("", "gw", ""), simpleRule("svc"), simpleRule("not-yet")),
		route(testNS, "cross", parent("", "gw", ""), rule(gatewayv1.HTTPRouteRule{BackendRefs: []gatewayv1.HTTPBackendRef{backend("other", "svc", 80, nil)}})),
	}
	refs := Translate(in).References
	nn := func(ns, name string) types.NamespacedName { return types.NamespacedName{Namespace: ns, Name: name} }
	for _, want := range []types.NamespacedName{nn(testNS, "svc"), nn(testNS, "not-yet")} {
		if !refs.Services[want] {
			t.Errorf("Service %s not among the references %v", want, refs.Services)
		}
	}
	if refs.Services[nn("other", "svc")] {
		t.Error("a Service no ReferenceGrant allows was looked up")
	}
	if !refs.Secrets[nn(testNS, "missing-cert")] {
		t.Errorf("missing Secret not among the references %v", refs.Secrets)
	}
}
