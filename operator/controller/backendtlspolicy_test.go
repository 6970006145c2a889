package controller

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// waitPolicyAncestor waits until the BackendTLSPolicy has our ancestor
// entry for Gateway gwName with the condition.
func waitPolicyAncestor(t *testing.T, ns, name, gwName, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("BackendTLSPolicy %s ancestor %s: %s=%s/%s", name, gwName, typ, status, reason), func() error {
		var p gatewayv1.BackendTLSPolicy
		if err := k8s.Get(ctxFor(t), types.NamespacedName{Namespace: ns, Name: name}, &p); err != nil {
			return err
		}
		for _, a := range p.Status.Ancestors {
			if string(a.AncestorRef.Name) == gwName && a.ControllerName == "nginx-operator.dev/gateway-controller" {
				if a.Conditions[0].ObservedGeneration != p.Generation {
					return fmt.Errorf("observedGeneration %d, generation %d", a.Conditions[0].ObservedGeneration, p.Generation)
				}
				return hasCondition(a.Conditions, typ, status, reason)
			}
		}
		return fmt.Errorf("no ancestor %s in %+v", gwName, p.Status.Ancestors)
	})
}

// backendPolicy is a BackendTLSPolicy on the Service "backend" with the
// CA of the ConfigMap "ca" and the hostname backend.example.com.
func backendPolicy(ns, name string) *gatewayv1.BackendTLSPolicy {
	return &gatewayv1.BackendTLSPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: gatewayv1.BackendTLSPolicySpec{
			TargetRefs: []gatewayv1.LocalPolicyTargetReferenceWithSectionName{{
				LocalPolicyTargetReference: gatewayv1.LocalPolicyTargetReference{Kind: "Service", Name: "backend"},
			}},
			Validation: gatewayv1.BackendTLSPolicyValidation{
				CACertificateRefs: []gatewayv1.LocalObjectReference{{Kind: "ConfigMap", Name: "ca"}},
				Hostname:          "backend.example.com",
			},
		},
	}
}

// TestBackendTLSPolicyStatus: a policy on a Service a route uses gets the
// route's Gateway as ancestor; its CA ConfigMap is watched: missing, the
// policy is Accepted False/NoValidCACertificate with ResolvedRefs
// False/InvalidCACertificateRef; created, both turn True; emptied, False
// again. A newer policy on the same target is Conflicted.
func TestBackendTLSPolicyStatus(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	newService(t, ns, "backend", 8080)
	newRoute(t, ns, "web", ns, "gw", "http", nil, ns, "backend")

	policy := func(name string) *gatewayv1.BackendTLSPolicy { return backendPolicy(ns, name) }
	if err := k8s.Create(ctx, policy("a-first")); err != nil {
		t.Fatal(err)
	}
	waitPolicyAncestor(t, ns, "a-first", "gw", string(gatewayv1.PolicyConditionAccepted), metav1.ConditionFalse, string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate))
	waitPolicyAncestor(t, ns, "a-first", "gw", string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), metav1.ConditionFalse, string(gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef))

	caPEM, _ := testenv.SelfSignedCert(t, "backend.example.com")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ca"}, Data: map[string]string{"ca.crt": string(caPEM)}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitPolicyAncestor(t, ns, "a-first", "gw", string(gatewayv1.PolicyConditionAccepted), metav1.ConditionTrue, string(gatewayv1.PolicyReasonAccepted))
	waitPolicyAncestor(t, ns, "a-first", "gw", string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.BackendTLSPolicyReasonResolvedRefs))

	if err := k8s.Create(ctx, policy("b-second")); err != nil {
		t.Fatal(err)
	}
	waitPolicyAncestor(t, ns, "b-second", "gw", string(gatewayv1.PolicyConditionAccepted), metav1.ConditionFalse, string(gatewayv1.PolicyReasonConflicted))

	update(t, cm, func() { cm.Data["ca.crt"] = "" })
	waitPolicyAncestor(t, ns, "a-first", "gw", string(gatewayv1.PolicyConditionAccepted), metav1.ConditionFalse, string(gatewayv1.BackendTLSPolicyReasonNoValidCACertificate))
}

// TestFrontendValidationStatus: a Gateway whose HTTPS listener validates
// client certificates against a ConfigMap that does not exist has the
// listener Accepted False/NoValidCACertificate; the ConfigMap is watched:
// once created the listener is accepted. AllowInsecureFallback sets the
// Gateway's InsecureFrontendValidationMode; a backend client certificate
// sets its ResolvedRefs.
func TestFrontendValidationStatus(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newTLSSecret(t, ns, "cert", "example.com")
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw"},
		Spec: gatewayv1.GatewaySpec{
			GatewayClassName: gatewayv1.ObjectName(gc.Name),
			Listeners:        []gatewayv1.Listener{httpsListener("https", 443, "example.com", ns, "cert")},
			TLS: &gatewayv1.GatewayTLSConfig{
				Backend: &gatewayv1.GatewayBackendTLS{ClientCertificateRef: &gatewayv1.SecretObjectReference{Name: "cert"}},
				Frontend: &gatewayv1.FrontendTLSConfig{Default: gatewayv1.TLSConfig{Validation: &gatewayv1.FrontendTLSValidation{
					CACertificateRefs: []gatewayv1.ObjectReference{{Kind: "ConfigMap", Name: "client-ca"}},
					Mode:              gatewayv1.AllowInsecureFallback,
				}}},
			},
		},
	}
	if err := k8s.Create(ctx, gw); err != nil {
		t.Fatal(err)
	}
	waitListener(t, ns, "gw", "https", string(gatewayv1.ListenerConditionAccepted), metav1.ConditionFalse, string(gatewayv1.ListenerReasonNoValidCACertificate))
	waitListener(t, ns, "gw", "https", string(gatewayv1.ListenerConditionResolvedRefs), metav1.ConditionFalse, string(gatewayv1.ListenerReasonInvalidCACertificateRef))
	waitGateway(t, ns, "gw", string(gatewayv1.GatewayConditionInsecureFrontendValidationMode), metav1.ConditionTrue, string(gatewayv1.GatewayReasonConfigurationChanged))
	waitGateway(t, ns, "gw", string(gatewayv1.GatewayConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.GatewayReasonResolvedRefs))

	caPEM, _ := testenv.SelfSignedCert(t, "client")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "client-ca"}, Data: map[string]string{"ca.crt": string(caPEM)}}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	waitListener(t, ns, "gw", "https", string(gatewayv1.ListenerConditionAccepted), metav1.ConditionTrue, string(gatewayv1.ListenerReasonAccepted))
	waitListener(t, ns, "gw", "https", string(gatewayv1.ListenerConditionResolvedRefs), metav1.ConditionTrue, string(gatewayv1.ListenerReasonResolvedRefs))
}
