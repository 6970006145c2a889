package translate

import (
	"strings"
	"testing"

	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// nginx matches locations on the decoded request path, so the model holds
// Exact and PathPrefix values decoded; escapes that nginx would refuse or
// normalize away are refused with the field named.
func TestEscapedMatchPaths(t *testing.T) {
	tests := []struct {
		name, value string
		typ         gatewayv1.PathMatchType
		// wantPath is the model location; "" means refused with wantError.
		wantPath  string
		wantKind  model.PathMatchKind
		wantError string
	}{
		{"plain exact", "/plain", gatewayv1.PathMatchExact, "/plain", model.PathExact, ""},
		{"UTF-8 exact", "/caf%C3%A9", gatewayv1.PathMatchExact, "/café", model.PathExact, ""},
		{"lower-case hex", "/caf%c3%a9", gatewayv1.PathMatchExact, "/café", model.PathExact, ""},
		{"space prefix", "/a%20b/", gatewayv1.PathMatchPathPrefix, "/a b", model.PathPrefix, ""},
		{"escaped percent stays one", "/100%25", gatewayv1.PathMatchExact, "/100%", model.PathExact, ""},
		{"escaped percent is not decoded twice", "/a%2541", gatewayv1.PathMatchExact, "/a%41", model.PathExact, ""},
		{"quote and semicolon", "/%22%3B%7B", gatewayv1.PathMatchPathPrefix, `/";{`, model.PathPrefix, ""},
		{"dots inside an element", "/a%2e%2eb", gatewayv1.PathMatchExact, "/a..b", model.PathExact, ""},
		{"NUL", "/a%00", gatewayv1.PathMatchExact, "", "", "decodes to control character"},
		{"CRLF", "/a%0d%0ab", gatewayv1.PathMatchPathPrefix, "", "", "decodes to control character"},
		{"DEL", "/a%7F", gatewayv1.PathMatchExact, "", "", "decodes to control character"},
		{"not UTF-8", "/%FF", gatewayv1.PathMatchExact, "", "", "does not decode to UTF-8"},
		{"dot-dot segment", "/a/%2e%2e/b", gatewayv1.PathMatchPathPrefix, "", "", "nginx normalizes away"},
		{"dot segment at the end", "/a/%2E", gatewayv1.PathMatchExact, "", "", "nginx normalizes away"},
		{"encoded slash", "/a%2Fb", gatewayv1.PathMatchExact, "", "", "must not contain"},
		{"truncated escape", "/a%2", gatewayv1.PathMatchExact, "", "", "invalid %-escape"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), simpleRule("svc", pathMatch(tc.typ, tc.value)))}
			out := Translate(in)
			st := routeStatus(t, out, testNS, "r")
			if tc.wantPath == "" {
				wantCondition(t, st.Conditions, "Accepted", "False", "UnsupportedValue")
				msg := findCondition(t, st.Conditions, "Accepted").Message
				if !strings.HasPrefix(msg, "spec.rules[0].matches[0].path.value: ") || !strings.Contains(msg, tc.wantError) {
					t.Errorf("message = %q, want the field and %q", msg, tc.wantError)
				}
				return
			}
			wantCondition(t, st.Conditions, "Accepted", "True", "Accepted")
			loc := location(t, server(t, gatewayResult(t, out, testNS, "gw").Model, 80, ""), tc.wantPath, tc.wantKind)
			if len(loc.Candidates) != 1 {
				t.Errorf("candidates = %+v", loc.Candidates)
			}
		})
	}
}

// An exact match and a prefix that are the same path once decoded share
// one location, and the exact one is tested with a regex on the decoded
// path.
func TestEscapedExactAndPrefixShareALocation(t *testing.T) {
	in := baseInput()
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""),
		simpleRule("svc", exact("/caf%C3%A9")), simpleRule("svc", prefix("/caf%C3%A9")))}
	out := Translate(in)
	srv := server(t, gatewayResult(t, out, testNS, "gw").Model, 80, "")
	loc := location(t, srv, "/café", model.PathPrefix)
	if len(loc.Candidates) != 2 || len(loc.Candidates[0].Conditions) != 1 || loc.Candidates[0].Conditions[0].Value != `^/café$` {
		t.Errorf("candidates = %+v", loc.Candidates)
	}
}
