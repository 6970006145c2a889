package translate

import (
	"reflect"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
)

// listenerWant is a listener's conditions as "True/Reason" or
// "False/Reason"; programmed is "True/Programmed" for a listener the
// translation finds programmable (the controller then composes Programmed
// from the data plane's verdict), "False/Invalid" for one it does not.
type listenerWant struct {
	accepted, resolvedRefs, conflicted, programmed string
}

func condString(c metav1.Condition) string { return string(c.Status) + "/" + c.Reason }

func checkListener(t *testing.T, g GatewayResult, ls gatewayv1.ListenerStatus, want listenerWant) {
	t.Helper()
	got := listenerWant{
		accepted:     condString(findCondition(t, ls.Conditions, "Accepted")),
		resolvedRefs: condString(findCondition(t, ls.Conditions, "ResolvedRefs")),
		conflicted:   condString(findCondition(t, ls.Conditions, "Conflicted")),
		programmed:   "False/Invalid",
	}
	if slices.Contains(g.ProgrammableListeners, string(ls.Name)) {
		got.programmed = "True/Programmed"
	}
	if c := apimeta.FindStatusCondition(ls.Conditions, "Programmed"); c != nil {
		t.Errorf("listener %s has a Programmed condition from the translation step: %+v", ls.Name, c)
	}
	if got != want {
		t.Errorf("listener %s conditions = %+v\nwant %+v", ls.Name, got, want)
	}
}

var (
	okListener = listenerWant{"True/Accepted", "True/ResolvedRefs", "False/NoConflicts", "True/Programmed"}
)

func TestListenerValidation(t *testing.T) {
	badCert := tlsSecret(t, testNS, "bad")
	badCert.Data[corev1.TLSPrivateKeyKey] = []byte("not a key")
	opaque := tlsSecret(t, testNS, "opaque")
	opaque.Type = corev1.SecretTypeOpaque
	passthrough := httpsListener("l", 443, "", secretRef("", "cert"))
	passthrough.TLS.Mode = ptr(gatewayv1.TLSModePassthrough)
	wrongKind := httpsListener("l", 443, "", secretRef("", "cert"))
	wrongKind.TLS.CertificateRefs[0].Kind = ptr(gatewayv1.Kind("ConfigMap"))
	noTLS := httpsListener("l", 443, "")
	noTLS.TLS = nil

	tests := []struct {
		name     string
		listener gatewayv1.Listener
		grants   []gatewayv1beta1.ReferenceGrant
		want     listenerWant
		kinds    int
	}{
		{"http", httpListener("l", 80, ""), nil, okListener, 1},
		{"http with hostname", httpListener("l", 80, "*.example.com"), nil, okListener, 1},
		{"tcp", gatewayv1.Listener{Name: "l", Port: 80, Protocol: gatewayv1.TCPProtocolType}, nil,
			listenerWant{"False/UnsupportedProtocol", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 0},
		{"tls", gatewayv1.Listener{Name: "l", Port: 80, Protocol: gatewayv1.TLSProtocolType}, nil,
			listenerWant{"False/UnsupportedProtocol", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 0},
		{"bad hostname", httpListener("l", 80, "Foo_bar.example.com"), nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"ip hostname", httpListener("l", 80, "10.0.0.1"), nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"bad name", httpListener("L;", 80, ""), nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"bad port", httpListener("l", 0, ""), nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"https", httpsListener("l", 443, "", secretRef("", "cert")), nil, okListener, 1},
		{"https missing secret", httpsListener("l", 443, "", secretRef("", "nope")), nil,
			listenerWant{"True/Accepted", "False/InvalidCertificateRef", "False/NoConflicts", "False/Invalid"}, 1},
		{"https bad key", httpsListener("l", 443, "", secretRef("", "bad")), nil,
			listenerWant{"True/Accepted", "False/InvalidCertificateRef", "False/NoConflicts", "False/Invalid"}, 1},
		{"https opaque secret", httpsListener("l", 443, "", secretRef("", "opaque")), nil,
			listenerWant{"True/Accepted", "False/InvalidCertificateRef", "False/NoConflicts", "False/Invalid"}, 1},
		{"https wrong kind", wrongKind, nil,
			listenerWant{"True/Accepted", "False/InvalidCertificateRef", "False/NoConflicts", "False/Invalid"}, 1},
		{"https no certificateRefs", httpsListener("l", 443, ""), nil,
			listenerWant{"True/Accepted", "False/InvalidCertificateRef", "False/NoConflicts", "False/Invalid"}, 1},
		{"https no tls", noTLS, nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"https passthrough", passthrough, nil,
			listenerWant{"False/UnsupportedValue", "True/ResolvedRefs", "False/NoConflicts", "False/Invalid"}, 1},
		{"https other namespace without grant", httpsListener("l", 443, "", secretRef("certs", "cert")), nil,
			listenerWant{"True/Accepted", "False/RefNotPermitted", "False/NoConflicts", "False/Invalid"}, 1},
		{"https other namespace with grant", httpsListener("l", 443, "", secretRef("certs", "cert")),
			[]gatewayv1beta1.ReferenceGrant{grant("certs", "Gateway", testNS, "Secret", "")}, okListener, 1},
		{"https other namespace with grant for another secret", httpsListener("l", 443, "", secretRef("certs", "cert")),
			[]gatewayv1beta1.ReferenceGrant{grant("certs", "Gateway", testNS, "Secret", "other")},
			listenerWant{"True/Accepted", "False/RefNotPermitted", "False/NoConflicts", "False/Invalid"}, 1},
		{"https grant from another namespace", httpsListener("l", 443, "", secretRef("certs", "cert")),
			[]gatewayv1beta1.ReferenceGrant{grant("certs", "Gateway", "elsewhere", "Secret", "")},
			listenerWant{"True/Accepted", "False/RefNotPermitted", "False/NoConflicts", "False/Invalid"}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{tc.listener, httpListener("other", 8080, "")}
			in.Secrets = []corev1.Secret{tlsSecret(t, testNS, "cert"), tlsSecret(t, "certs", "cert"), badCert, opaque}
			in.ReferenceGrants = tc.grants
			g := gatewayResult(t, Translate(in), testNS, "gw")
			ls := g.Status.Listeners[0]
			checkListener(t, g, ls, tc.want)
			if len(ls.SupportedKinds) != tc.kinds || ls.SupportedKinds == nil {
				t.Errorf("supportedKinds = %#v, want %d entries (non-nil)", ls.SupportedKinds, tc.kinds)
			}
		})
	}
}

func TestListenerConflicts(t *testing.T) {
	tests := []struct {
		name      string
		listeners []gatewayv1.Listener
		want      map[string]string // listener → Conflicted condition
		accepted  string            // Gateway Accepted
	}{
		{"distinct hostnames", []gatewayv1.Listener{httpListener("a", 80, "a.example.com"), httpListener("b", 80, "b.example.com"), httpListener("c", 80, "")},
			map[string]string{"a": "False/NoConflicts", "b": "False/NoConflicts", "c": "False/NoConflicts"}, "True/Accepted"},
		{"same hostname", []gatewayv1.Listener{httpListener("a", 80, "a.example.com"), httpListener("b", 80, "a.example.com"), httpListener("c", 8080, "a.example.com")},
			map[string]string{"a": "True/HostnameConflict", "b": "True/HostnameConflict", "c": "False/NoConflicts"}, "True/ListenersNotValid"},
		{"two without hostname", []gatewayv1.Listener{httpListener("a", 80, ""), httpListener("b", 80, "")},
			map[string]string{"a": "True/HostnameConflict", "b": "True/HostnameConflict"}, "False/ListenersNotValid"},
		{"protocols", []gatewayv1.Listener{httpListener("a", 443, "a.example.com"), httpsListener("b", 443, "b.example.com", secretRef("", "cert"))},
			map[string]string{"a": "True/ProtocolConflict", "b": "True/ProtocolConflict"}, "False/ListenersNotValid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Secrets = []corev1.Secret{tlsSecret(t, testNS, "cert")}
			in.Gateways[0].Spec.Listeners = tc.listeners
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), simpleRule("svc"))}
			g := gatewayResult(t, Translate(in), testNS, "gw")
			for name, want := range tc.want {
				ls := listenerStatusOf(t, g, name)
				if got := condString(findCondition(t, ls.Conditions, "Conflicted")); got != want {
					t.Errorf("%s Conflicted = %s, want %s", name, got, want)
				}
				if programmable := slices.Contains(g.ProgrammableListeners, name); (want != "False/NoConflicts") == programmable {
					t.Errorf("%s programmable = %v with Conflicted %s", name, programmable, want)
				}
				if want != "False/NoConflicts" {
					wantCondition(t, ls.Conditions, "Accepted", metav1.ConditionFalse, "Invalid")
				}
			}
			if got := condString(findCondition(t, g.Status.Conditions, "Accepted")); got != tc.accepted {
				t.Errorf("Gateway Accepted = %s, want %s", got, tc.accepted)
			}
			if g.Model != nil {
				for _, s := range g.Model.HTTPServers {
					for _, l := range s.Listeners {
						if tc.want[l] != "False/NoConflicts" {
							t.Errorf("conflicted listener %s is served by %d %q", l, s.Port, s.Hostname)
						}
					}
				}
			}
		})
	}
}

func TestListenerRouteKinds(t *testing.T) {
	httpRoute := gatewayv1.RouteGroupKind{Group: ptr(gatewayv1.Group(gatewayv1.GroupName)), Kind: "HTTPRoute"}
	tests := []struct {
		name       string
		kinds      []gatewayv1.RouteGroupKind
		wantKinds  []gatewayv1.RouteGroupKind
		wantRefs   string
		wantAttach int32
	}{
		{"default", nil, []gatewayv1.RouteGroupKind{httpRoute}, "True/ResolvedRefs", 1},
		{"HTTPRoute without group", []gatewayv1.RouteGroupKind{{Kind: "HTTPRoute"}}, []gatewayv1.RouteGroupKind{httpRoute}, "True/ResolvedRefs", 1},
		{"only invalid", []gatewayv1.RouteGroupKind{{Kind: "TLSRoute"}, {Group: ptr(gatewayv1.Group("example.com")), Kind: "HTTPRoute"}},
			[]gatewayv1.RouteGroupKind{}, "False/InvalidRouteKinds", 0},
		{"valid and invalid", []gatewayv1.RouteGroupKind{{Kind: "GRPCRoute"}, httpRoute},
			[]gatewayv1.RouteGroupKind{httpRoute}, "False/InvalidRouteKinds", 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Gateways[0].Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Kinds: tc.kinds}
			in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), simpleRule("svc"))}
			out := Translate(in)
			ls := gatewayResult(t, out, testNS, "gw").Status.Listeners[0]
			if !reflect.DeepEqual(ls.SupportedKinds, tc.wantKinds) {
				t.Errorf("supportedKinds = %v, want %v", ls.SupportedKinds, tc.wantKinds)
			}
			if got := condString(findCondition(t, ls.Conditions, "ResolvedRefs")); got != tc.wantRefs {
				t.Errorf("ResolvedRefs = %s, want %s", got, tc.wantRefs)
			}
			if ls.AttachedRoutes != tc.wantAttach {
				t.Errorf("attachedRoutes = %d, want %d", ls.AttachedRoutes, tc.wantAttach)
			}
			if tc.wantAttach == 0 {
				wantCondition(t, routeStatus(t, out, testNS, "r").Conditions, "Accepted", metav1.ConditionFalse, "NotAllowedByListeners")
			}
		})
	}
}

func TestListenerAllowedNamespaces(t *testing.T) {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"gw": "yes"}}
	tests := []struct {
		name     string
		from     gatewayv1.FromNamespaces
		selector *metav1.LabelSelector
		want     map[string]bool // route namespace → attached
	}{
		{"same", gatewayv1.NamespacesFromSame, nil, map[string]bool{testNS: true, "labelled": false, "plain": false}},
		{"all", gatewayv1.NamespacesFromAll, nil, map[string]bool{testNS: true, "labelled": true, "plain": true}},
		{"selector", gatewayv1.NamespacesFromSelector, sel, map[string]bool{testNS: false, "labelled": true, "plain": false}},
		{"none", gatewayv1.NamespacesFromNone, nil, map[string]bool{testNS: false, "labelled": false, "plain": false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := baseInput()
			in.Namespaces = append(in.Namespaces, namespace("labelled", map[string]string{"gw": "yes"}), namespace("plain", nil))
			in.Gateways[0].Spec.Listeners[0].AllowedRoutes = &gatewayv1.AllowedRoutes{Namespaces: &gatewayv1.RouteNamespaces{From: ptr(tc.from), Selector: tc.selector}}
			for ns := range tc.want {
				in.HTTPRoutes = append(in.HTTPRoutes, route(ns, "r", parent(testNS, "gw", "")))
			}
			out := Translate(in)
			attached := int32(0)
			for ns, want := range tc.want {
				st := routeStatus(t, out, ns, "r")
				if want {
					attached++
					wantCondition(t, st.Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
				} else {
					wantCondition(t, st.Conditions, "Accepted", metav1.ConditionFalse, "NotAllowedByListeners")
				}
			}
			if got := gatewayResult(t, out, testNS, "gw").Status.Listeners[0].AttachedRoutes; got != attached {
				t.Errorf("attachedRoutes = %d, want %d", got, attached)
			}
		})
	}
}

func TestHTTPSCertificatesInModel(t *testing.T) {
	in := baseInput()
	in.Secrets = []corev1.Secret{tlsSecret(t, testNS, "a-cert"), tlsSecret(t, testNS, "b.cert"), tlsSecret(t, "certs", "a-cert")}
	in.ReferenceGrants = []gatewayv1beta1.ReferenceGrant{grant("certs", "Gateway", testNS, "Secret", "")}
	in.Gateways[0].Spec.Listeners = []gatewayv1.Listener{
		httpsListener("wild", 443, "*.example.com", secretRef("", "a-cert")),
		httpsListener("exact", 443, "x.example.com", secretRef("", "b.cert"), secretRef("certs", "a-cert")),
		httpsListener("any", 443, "", secretRef("", "a-cert")),
	}
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", ""), hostnames("y.example.com"), simpleRule("svc"))}
	g := gatewayResult(t, Translate(in), testNS, "gw")
	var names []string
	for _, c := range g.Model.Certificates {
		names = append(names, c.Name)
		if len(c.CertPEM) == 0 || len(c.KeyPEM) == 0 {
			t.Errorf("certificate %s is empty", c.Name)
		}
	}
	if want := []string{"certs_a_cert", "default_a_cert", "default_b_cert"}; !reflect.DeepEqual(names, want) {
		t.Errorf("certificates = %v, want %v", names, want)
	}
	for _, tc := range []struct {
		host string
		want []string
	}{
		{"", []string{"default_a_cert"}},
		{"*.example.com", []string{"default_a_cert"}},
		{"x.example.com", []string{"default_b_cert", "certs_a_cert"}},
		{"y.example.com", []string{"default_a_cert"}},
	} {
		s := server(t, g.Model, 443, tc.host)
		if s.TLS == nil || !reflect.DeepEqual(s.TLS.CertificateNames, tc.want) {
			t.Errorf("server %q TLS = %+v, want %v", tc.host, s.TLS, tc.want)
		}
	}
}

func TestHTTPSListenerServesRoutes(t *testing.T) {
	in := baseInput()
	in.Secrets = []corev1.Secret{tlsSecret(t, testNS, "cert")}
	in.Gateways[0].Spec.Listeners = append(in.Gateways[0].Spec.Listeners, httpsListener("https", 443, "secure.example.com", secretRef("", "cert")))
	in.HTTPRoutes = []gatewayv1.HTTPRoute{route(testNS, "r", parent("", "gw", "https"), simpleRule("svc", prefix("/app")))}
	out := Translate(in)
	wantCondition(t, routeStatus(t, out, testNS, "r").Conditions, "Accepted", metav1.ConditionTrue, "Accepted")
	g := gatewayResult(t, out, testNS, "gw")
	s := server(t, g.Model, 443, "secure.example.com")
	if s.TLS == nil || !reflect.DeepEqual(s.TLS.CertificateNames, []string{"default_cert"}) {
		t.Errorf("TLS = %+v", s.TLS)
	}
	location(t, s, "/app", "PathPrefix")
	if d := server(t, g.Model, 443, ""); !d.Default || d.TLS != nil || len(d.Locations) != 0 {
		t.Errorf("default HTTPS server = %+v", d)
	}
	if d := server(t, g.Model, 80, ""); len(d.Locations) != 0 {
		t.Errorf("route attached to https only reached port 80: %+v", d.Locations)
	}
}
