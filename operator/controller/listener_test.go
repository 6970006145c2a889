package controller

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// newTLSSecret creates a kubernetes.io/tls Secret with a fresh self-signed
// certificate for hosts.
func newTLSSecret(t *testing.T, ns, name string, hosts ...string) {
	t.Helper()
	certPEM, keyPEM := testenv.SelfSignedCert(t, hosts...)
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       certPEM,
			corev1.TLSPrivateKeyKey: keyPEM,
		},
	}
	if err := k8s.Create(ctxFor(t), secret); err != nil {
		t.Fatal(err)
	}
}

func httpsListener(name string, port int32, hostname, certNamespace, certName string) gatewayv1.Listener {
	ref := gatewayv1.SecretObjectReference{Name: gatewayv1.ObjectName(certName)}
	if certNamespace != "" {
		ref.Namespace = ptr.To(gatewayv1.Namespace(certNamespace))
	}
	return gatewayv1.Listener{
		Name: gatewayv1.SectionName(name), Port: port, Protocol: gatewayv1.HTTPSProtocolType,
		Hostname: ptr.To(gatewayv1.Hostname(hostname)),
		TLS: &gatewayv1.ListenerTLSConfig{
			Mode:            ptr.To(gatewayv1.TLSModeTerminate),
			CertificateRefs: []gatewayv1.SecretObjectReference{ref},
		},
	}
}

func TestListenerConditions(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	certs := newNamespace(t, nil)
	gc := newClass(t, nil)
	newTLSSecret(t, ns, "cert", "*.example.com")
	newTLSSecret(t, certs, "foreign-cert", "*.example.com")

	badKinds := httpListener("bad-kinds", 81, "")
	badKinds.AllowedRoutes = &gatewayv1.AllowedRoutes{Kinds: []gatewayv1.RouteGroupKind{{Kind: "TCPRoute"}}}
	gw := newGateway(t, ns, gc.Name, "gw",
		httpListener("http", 80, ""),
		httpsListener("https-ok", 443, "ok.example.com", "", "cert"),
		httpsListener("https-missing", 443, "missing.example.com", "", "nope"),
		httpsListener("https-foreign", 443, "foreign.example.com", certs, "foreign-cert"),
		httpListener("conflict-http", 8443, "a.example.com"),
		httpsListener("conflict-https", 8443, "b.example.com", "", "cert"),
		badKinds,
	)

	tests := []struct {
		listener string
		typ      gatewayv1.ListenerConditionType
		status   metav1.ConditionStatus
		reason   gatewayv1.ListenerConditionReason
	}{
		{"http", gatewayv1.ListenerConditionAccepted, metav1.ConditionTrue, gatewayv1.ListenerReasonAccepted},
		{"http", gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.ListenerReasonResolvedRefs},
		{"http", gatewayv1.ListenerConditionConflicted, metav1.ConditionFalse, gatewayv1.ListenerReasonNoConflicts},
		{"https-ok", gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionTrue, gatewayv1.ListenerReasonResolvedRefs},
		{"https-missing", gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.ListenerReasonInvalidCertificateRef},
		{"https-missing", gatewayv1.ListenerConditionProgrammed, metav1.ConditionFalse, gatewayv1.ListenerReasonInvalid},
		{"https-foreign", gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.ListenerReasonRefNotPermitted},
		{"conflict-http", gatewayv1.ListenerConditionConflicted, metav1.ConditionTrue, gatewayv1.ListenerReasonProtocolConflict},
		{"conflict-https", gatewayv1.ListenerConditionConflicted, metav1.ConditionTrue, gatewayv1.ListenerReasonProtocolConflict},
		{"bad-kinds", gatewayv1.ListenerConditionResolvedRefs, metav1.ConditionFalse, gatewayv1.ListenerReasonInvalidRouteKinds},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s", tt.listener, tt.typ), func(t *testing.T) {
			waitListener(t, ns, "gw", tt.listener, string(tt.typ), tt.status, string(tt.reason))
		})
	}

	t.Run("supportedKinds and attachedRoutes", func(t *testing.T) {
		route := &gatewayv1.HTTPRoute{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "r"},
			Spec: gatewayv1.HTTPRouteSpec{CommonRouteSpec: gatewayv1.CommonRouteSpec{ParentRefs: []gatewayv1.ParentReference{
				{Name: "gw", SectionName: ptr.To(gatewayv1.SectionName("http"))},
			}}},
		}
		if err := k8s.Create(ctx, route); err != nil {
			t.Fatal(err)
		}
		testenv.Eventually(t, waitTimeout, "listener http attachedRoutes 1", func() error {
			got, err := getGateway(t, ns, "gw")
			if err != nil {
				return err
			}
			l, err := listenerStatus(got, "http")
			if err != nil {
				return err
			}
			if l.AttachedRoutes != 1 {
				return fmt.Errorf("attachedRoutes %d", l.AttachedRoutes)
			}
			if len(l.SupportedKinds) != 2 || l.SupportedKinds[0].Kind != "HTTPRoute" || l.SupportedKinds[1].Kind != "GRPCRoute" {
				return fmt.Errorf("supportedKinds %+v", l.SupportedKinds)
			}
			other, err := listenerStatus(got, "https-ok")
			if err != nil {
				return err
			}
			if other.AttachedRoutes != 0 {
				return fmt.Errorf("https-ok attachedRoutes %d", other.AttachedRoutes)
			}
			return nil
		})
	})

	t.Run("ReferenceGrant resolves the foreign certificate", func(t *testing.T) {
		grant := &gatewayv1beta1.ReferenceGrant{
			ObjectMeta: metav1.ObjectMeta{Namespace: certs, Name: "gateways-may-read-certs"},
			Spec: gatewayv1beta1.ReferenceGrantSpec{
				From: []gatewayv1beta1.ReferenceGrantFrom{{Group: gatewayv1.GroupName, Kind: "Gateway", Namespace: gatewayv1.Namespace(ns)}},
				To:   []gatewayv1beta1.ReferenceGrantTo{{Group: "", Kind: "Secret"}},
			},
		}
		if err := k8s.Create(ctx, grant); err != nil {
			t.Fatal(err)
		}
		waitListener(t, ns, "gw", "https-foreign", string(gatewayv1.ListenerConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.ListenerReasonResolvedRefs))
	})

	t.Run("observedGeneration follows the spec", func(t *testing.T) {
		update(t, gw, func() { gw.Spec.Listeners = append(gw.Spec.Listeners, httpListener("added", 9090, "")) })
		testenv.Eventually(t, waitTimeout, "observedGeneration", func() error {
			got, err := getGateway(t, ns, "gw")
			if err != nil {
				return err
			}
			if got.Generation < 2 {
				return fmt.Errorf("generation %d", got.Generation)
			}
			for _, c := range got.Status.Conditions {
				if c.ObservedGeneration != got.Generation {
					return fmt.Errorf("%s observedGeneration %d, generation %d", c.Type, c.ObservedGeneration, got.Generation)
				}
			}
			l, err := listenerStatus(got, "added")
			if err != nil {
				return err
			}
			for _, c := range l.Conditions {
				if c.ObservedGeneration != got.Generation {
					return fmt.Errorf("listener %s observedGeneration %d", c.Type, c.ObservedGeneration)
				}
			}
			return nil
		})
	})
}
