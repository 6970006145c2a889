package translate

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// caCertKey is the ConfigMap key a BackendTLSPolicy's CA bundle is read
// from (the spec's "Core" support).
const caCertKey = "ca.crt"

// tlsTarget is what a BackendTLSPolicy targets: a Service, or one of its
// ports by name (sectionName); "" is the whole Service.
type tlsTarget struct {
	namespace, service, section string
}

// tlsPolicyState is a BackendTLSPolicy after validation.
type tlsPolicyState struct {
	policy *gatewayv1.BackendTLSPolicy
	// accepted and resolvedRefs are the conditions of every ancestor.
	accepted, resolvedRefs metav1.Condition
	// tls is what nginx does towards the targeted ports; nil when the
	// policy cannot be honoured (any invalid reference, an unsupported
	// field): then connections to those ports must fail, and the backends
	// answer 500.
	tls *model.UpstreamTLS
}

// backendTLSPolicies are the policies in force, by target. A conflicted
// policy (an older one took its target) is in all but not in byTarget.
type backendTLSPolicies struct {
	byTarget map[tlsTarget]*tlsPolicyState
	all      []*tlsPolicyState
}

// resolveBackendTLSPolicies validates every BackendTLSPolicy and decides
// which one holds each target: the oldest by creation time, then by
// namespace/name, as the spec orders them; the others are Conflicted.
func resolveBackendTLSPolicies(ix *index, policies []gatewayv1.BackendTLSPolicy) backendTLSPolicies {
	sorted := sortedByNamespacedName(policies)
	slices.SortStableFunc(sorted, func(a, b *gatewayv1.BackendTLSPolicy) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	out := backendTLSPolicies{byTarget: map[tlsTarget]*tlsPolicyState{}}
	for _, p := range sorted {
		st := validateBackendTLSPolicy(ix, p)
		out.all = append(out.all, st)
		targets, conflicted := []tlsTarget{}, false
		for _, ref := range p.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != kindService {
				continue // not a target of ours; the CRD allows only Service today
			}
			t := tlsTarget{namespace: p.Namespace, service: string(ref.Name)}
			if ref.SectionName != nil {
				t.section = string(*ref.SectionName)
			}
			if _, taken := out.byTarget[t]; taken {
				conflicted = true
			}
			targets = append(targets, t)
		}
		if conflicted {
			st.accepted = condition(string(gatewayv1.PolicyConditionAccepted), false, string(gatewayv1.PolicyReasonConflicted),
				"an older BackendTLSPolicy targets the same Service and sectionName", p.Generation)
			continue
		}
		for _, t := range targets {
			out.byTarget[t] = st
		}
	}
	return out
}

// validateBackendTLSPolicy checks a policy's validation block and builds
// what nginx does with it.
func validateBackendTLSPolicy(ix *index, p *gatewayv1.BackendTLSPolicy) *tlsPolicyState {
	gen := p.Generation
	accepted := func(ok bool, reason gatewayv1.PolicyConditionReason, msg string) metav1.Condition {
		return condition(string(gatewayv1.PolicyConditionAccepted), ok, string(reason), msg, gen)
	}
	resolved := func(ok bool, reason gatewayv1.PolicyConditionReason, msg string) metav1.Condition {
		return condition(string(gatewayv1.BackendTLSPolicyConditionResolvedRefs), ok, string(reason), msg, gen)
	}
	st := &tlsPolicyState{
		policy:       p,
		accepted:     accepted(true, gatewayv1.PolicyReasonAccepted, "Accepted"),
		resolvedRefs: resolved(true, gatewayv1.BackendTLSPolicyReasonResolvedRefs, "Resolved"),
	}
	v := p.Spec.Validation

	// References first: ResolvedRefs is reported even when another field
	// makes the policy unusable.
	var bundle []byte
	var bad []string
	kindOnly := true
	for i, ref := range v.CACertificateRefs {
		field := fmt.Sprintf("spec.validation.caCertificateRefs[%d]", i)
		if ref.Group != "" || ref.Kind != "ConfigMap" {
			bad = append(bad, fmt.Sprintf("%s: kind %s/%s is not supported (core ConfigMap is)", field, ref.Group, ref.Kind))
			continue
		}
		kindOnly = false
		pemData, err := caBundle(ix, types.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)})
		if err != nil {
			bad = append(bad, field+": "+err.Error())
			continue
		}
		bundle = append(bundle, pemData...)
	}
	if len(bad) > 0 {
		reason := gatewayv1.BackendTLSPolicyReasonInvalidCACertificateRef
		if kindOnly {
			reason = gatewayv1.BackendTLSPolicyReasonInvalidKind
		}
		st.resolvedRefs = resolved(false, reason, strings.Join(bad, "; "))
		if len(bad) == len(v.CACertificateRefs) {
			st.accepted = accepted(false, gatewayv1.BackendTLSPolicyReasonNoValidCACertificate, "no valid CA certificate: "+strings.Join(bad, "; "))
		}
		return st // connections through an invalid reference must fail
	}

	if v.WellKnownCACertificates != nil && *v.WellKnownCACertificates != "" {
		st.accepted = accepted(false, gatewayv1.PolicyReasonInvalid, fmt.Sprintf(
			"spec.validation.wellKnownCACertificates: %q is not supported: the gateway image has no system CA bundle; reference the CA in caCertificateRefs",
			*v.WellKnownCACertificates))
		return st
	}
	if len(bundle) == 0 {
		st.accepted = accepted(false, gatewayv1.BackendTLSPolicyReasonNoValidCACertificate, "spec.validation: no CA certificate: caCertificateRefs is empty")
		return st
	}
	host := string(v.Hostname)
	if err := checkHostname("spec.validation.hostname", host, false); err != nil {
		st.accepted = accepted(false, gatewayv1.PolicyReasonInvalid, err.Error())
		return st
	}
	if err := checkSubjectAltNames(host, v.SubjectAltNames); err != nil {
		st.accepted = accepted(false, gatewayv1.PolicyReasonInvalid, err.Error())
		return st
	}
	st.tls = &model.UpstreamTLS{Hostname: host, CAPEM: bundle}
	return st
}

// checkSubjectAltNames accepts only the subjectAltNames nginx can verify.
// nginx checks the backend's certificate against one name, proxy_ssl_name,
// which is also the SNI it sends; the spec wants Hostname as SNI and the
// SANs, not Hostname, for authentication. The two agree only when the SANs
// are exactly the Hostname itself; anything else (another hostname, a URI)
// is refused rather than verified against the wrong name.
func checkSubjectAltNames(host string, sans []gatewayv1.SubjectAltName) error {
	for i, san := range sans {
		if san.Type != gatewayv1.HostnameSubjectAltNameType || string(san.Hostname) != host {
			return fmt.Errorf("spec.validation.subjectAltNames[%d]: not supported: nginx verifies the backend certificate "+
				"against the SNI name (spec.validation.hostname) only, so a subjectAltName other than that hostname cannot be checked", i)
		}
	}
	return nil
}

// caBundle reads and checks the CA bundle of a ConfigMap: key ca.crt, PEM
// CERTIFICATE blocks only, each a parseable CA certificate (nginx refuses a
// file it cannot read at reload, which would stop every route).
func caBundle(ix *index, key types.NamespacedName) ([]byte, error) {
	ix.noteConfigMap(key)
	cm, ok := ix.configMaps[key]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s not found", key.Name)
	}
	data, ok := cm.Data[caCertKey]
	if !ok {
		return nil, fmt.Errorf("ConfigMap %s has no key %s", key.Name, caCertKey)
	}
	rest, n := []byte(data), 0
	var out []byte
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("ConfigMap %s key %s: a PEM block of type %q (only CERTIFICATE blocks are allowed)", key.Name, caCertKey, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("ConfigMap %s key %s: certificate %d: %v", key.Name, caCertKey, n+1, err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes})...)
		n++
	}
	if n == 0 || strings.TrimSpace(string(rest)) != "" {
		return nil, fmt.Errorf("ConfigMap %s key %s: not a PEM bundle of certificates", key.Name, caCertKey)
	}
	return out, nil
}

// noteConfigMap records that a ConfigMap was looked up, found or not.
func (ix *index) noteConfigMap(key types.NamespacedName) {
	if ix.looked.ConfigMaps == nil {
		ix.looked.ConfigMaps = map[types.NamespacedName]bool{}
	}
	ix.looked.ConfigMaps[key] = true
}

// policyFor returns the policy that holds a Service port: the one naming
// the port, else the one naming the whole Service.
func (ps backendTLSPolicies) policyFor(namespace, service, portName string) *tlsPolicyState {
	if portName != "" {
		if st, ok := ps.byTarget[tlsTarget{namespace, service, portName}]; ok {
			return st
		}
	}
	return ps.byTarget[tlsTarget{namespace, service, ""}]
}

// tlsRefused reports whether the Service port of an upstream is held by a
// BackendTLSPolicy that cannot be honoured: its backends answer 500.
func (b *translator) tlsRefused(key upstreamKey) bool {
	u, ok := b.upstreams[key]
	return ok && u.tlsRefused
}

// backendTLSPolicyStatuses gives each policy one ancestor per Gateway of
// ours whose attached routes send traffic (backends or mirrors) to a
// Service port the policy targets.
func (b *translator) backendTLSPolicyStatuses(gateways []*gatewayState) map[types.NamespacedName][]gatewayv1.PolicyAncestorStatus {
	out := map[types.NamespacedName][]gatewayv1.PolicyAncestorStatus{}
	for _, st := range b.tlsPolicies.all {
		nn := types.NamespacedName{Namespace: st.policy.Namespace, Name: st.policy.Name}
		out[nn] = []gatewayv1.PolicyAncestorStatus{}
		for _, gs := range gateways {
			if !b.gatewayUsesPolicy(gs, st.policy) {
				continue
			}
			conds := []metav1.Condition{st.accepted, st.resolvedRefs}
			sortConditions(conds)
			out[nn] = append(out[nn], gatewayv1.PolicyAncestorStatus{
				AncestorRef: gatewayv1.ParentReference{
					Group:     ptrTo(gatewayv1.Group(gatewayGroup)),
					Kind:      ptrTo(gatewayv1.Kind(kindGateway)),
					Namespace: ptrTo(gatewayv1.Namespace(gs.key.Namespace)),
					Name:      gatewayv1.ObjectName(gs.key.Name),
				},
				ControllerName: ControllerName,
				Conditions:     conds,
			})
		}
	}
	return out
}

// gatewayUsesPolicy reports whether a route attached to the Gateway sends
// traffic to a Service port the policy targets.
func (b *translator) gatewayUsesPolicy(gs *gatewayState, p *gatewayv1.BackendTLSPolicy) bool {
	targets := func(key upstreamKey) bool {
		if key.Namespace != p.Namespace {
			return false
		}
		for _, ref := range p.Spec.TargetRefs {
			if ref.Group != "" || ref.Kind != kindService || string(ref.Name) != key.Name {
				continue
			}
			if ref.SectionName == nil {
				return true
			}
			svc, ok := b.ix.services[types.NamespacedName{Namespace: key.Namespace, Name: key.Name}]
			if !ok {
				continue
			}
			if sp := servicePort(svc, key.Port, corev1.ProtocolTCP); sp != nil && sp.Name == string(*ref.SectionName) {
				return true
			}
		}
		return false
	}
	for _, a := range gs.attachments {
		rules, ok := servedRules(a.route)
		if !ok {
			continue
		}
		for _, r := range rules {
			for _, be := range r.backends {
				if targets(be.key) {
					return true
				}
			}
			for _, m := range r.mirrors {
				if targets(m.key) {
					return true
				}
			}
		}
	}
	return false
}
