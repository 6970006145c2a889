package translate

import (
	"sort"
	"testing"
)

func TestSupportedFeatures(t *testing.T) {
	out := Translate(baseInput())
	st := out.GatewayClasses["nginx"]
	if len(st.SupportedFeatures) != len(SupportedFeatures) || len(SupportedFeatures) == 0 {
		t.Fatalf("supportedFeatures = %v", st.SupportedFeatures)
	}
	names := make([]string, len(st.SupportedFeatures))
	for i, f := range st.SupportedFeatures {
		names[i] = string(f.Name)
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("supportedFeatures not sorted: %v", names)
	}
	for _, must := range []string{"Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant", "TCPRoute", "UDPRoute", "TLSRoute", "TLSRouteModeTerminate", "TLSRouteModeMixed"} {
		if sort.SearchStrings(names, must) == len(names) || names[sort.SearchStrings(names, must)] != must {
			t.Errorf("supportedFeatures lacks %s", must)
		}
	}
	// HTTPRouteRetry and its variants: not without the experimental
	// HTTPRoute CRD (the golden case retry has it, and the claims).
	for _, mustNot := range []string{"HTTPRouteRetry", "HTTPRouteRetryBackendTimeout", "HTTPRouteRetryConnectionError"} {
		i := sort.SearchStrings(names, mustNot)
		if i < len(names) && names[i] == mustNot {
			t.Errorf("supportedFeatures claims %s", mustNot)
		}
	}
}

// TestAttachedRoutesCountsEachRouteOnce: a listener's attachedRoutes
// counts routes, not the parentRefs that select it: a route naming the
// Gateway twice (once by sectionName) counts once, beside a second route.
func TestAttachedRoutesCountsEachRouteOnce(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = append(in.HTTPRoutes,
		route(testNS, "twice", parent("", "gw", ""), parent("", "gw", "http"), simpleRule("svc", prefix("/a"))),
		route(testNS, "once", parent("", "gw", ""), simpleRule("svc", prefix("/b"))))
	gw := gatewayResult(t, Translate(in), testNS, "gw")
	if got := gw.Status.Listeners[0].AttachedRoutes; got != 2 {
		t.Errorf("attachedRoutes = %d, want 2", got)
	}
}
