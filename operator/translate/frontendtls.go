package translate

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Client certificate validation on HTTPS listeners (Gateway
// spec.tls.frontend): per port, the perPort entry of the listener's port or
// the default. The CA bundles come from ConfigMaps (key ca.crt), in the
// Gateway's namespace or another one a ReferenceGrant opens.

// frontendValidation is the validation of one port's HTTPS listeners.
type frontendValidation struct {
	caPEM            []byte
	insecureFallback bool
}

// applyFrontendValidation resolves the validation of each accepted HTTPS
// listener. A listener with an invalid reference gets ResolvedRefs False;
// with no valid one, Accepted False/NoValidCACertificate (it is not served:
// serving it without the validation asked for would let every client in).
func (b *translator) applyFrontendValidation(gs *gatewayState) {
	tlsCfg := gs.gw.Spec.TLS
	if tlsCfg == nil || tlsCfg.Frontend == nil {
		return
	}
	fe := tlsCfg.Frontend
	if fe.Default.Validation != nil && fe.Default.Validation.Mode == gatewayv1.AllowInsecureFallback || anyInsecurePort(fe.PerPort) {
		c := condition(string(gatewayv1.GatewayConditionInsecureFrontendValidationMode), true, string(gatewayv1.GatewayReasonConfigurationChanged),
			"spec.tls.frontend: AllowInsecureFallback accepts clients without a valid certificate", gs.gw.Generation)
		gs.insecureFrontend = &c
	}
	for _, l := range gs.listeners {
		b.applyFrontendValidationTo(gs, l)
	}
}

// applyFrontendValidationTo resolves the validation of one listener of the
// Gateway or of one of its ListenerSets: the Gateway's spec.tls.frontend
// holds per port, whoever defines the listener.
func (b *translator) applyFrontendValidationTo(gs *gatewayState, l *listenerState) {
	tlsCfg := gs.gw.Spec.TLS
	if tlsCfg == nil || tlsCfg.Frontend == nil || !l.accepted || l.protocol != gatewayv1.HTTPSProtocolType {
		return
	}
	fe := tlsCfg.Frontend
	cfg, field := fe.Default, "spec.tls.frontend.default"
	for i, pp := range fe.PerPort {
		if int32(pp.Port) == l.port {
			cfg, field = pp.TLS, fmt.Sprintf("spec.tls.frontend.perPort[%d].tls", i)
			break
		}
	}
	if cfg.Validation == nil {
		return
	}
	b.resolveFrontendValidation(gs, l, cfg.Validation, field+".validation")
}

func anyInsecurePort(pp []gatewayv1.TLSPortConfig) bool {
	for _, p := range pp {
		if p.TLS.Validation != nil && p.TLS.Validation.Mode == gatewayv1.AllowInsecureFallback {
			return true
		}
	}
	return false
}

func (b *translator) resolveFrontendValidation(gs *gatewayState, l *listenerState, v *gatewayv1.FrontendTLSValidation, field string) {
	var bundle []byte
	var bad []string
	reason := ""
	for i, ref := range v.CACertificateRefs {
		f := fmt.Sprintf("%s.caCertificateRefs[%d]", field, i)
		if ref.Group != "" || ref.Kind != "ConfigMap" {
			bad = append(bad, fmt.Sprintf("%s: kind %s/%s is not supported (core ConfigMap is)", f, ref.Group, ref.Kind))
			reason = firstNonEmpty(reason, string(gatewayv1.ListenerReasonInvalidCACertificateKind))
			continue
		}
		ns := gs.gw.Namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			ns = string(*ref.Namespace)
		}
		if !b.ix.referenceAllowed(
			grantRef{Group: gatewayGroup, Kind: kindGateway, Namespace: gs.gw.Namespace},
			grantRef{Group: "", Kind: "ConfigMap", Namespace: ns, Name: string(ref.Name)},
		) {
			bad = append(bad, fmt.Sprintf("%s: ConfigMap %s/%s is in another namespace and no ReferenceGrant allows it", f, ns, ref.Name))
			reason = firstNonEmpty(reason, string(gatewayv1.ListenerReasonRefNotPermitted))
			continue
		}
		pemData, err := caBundle(b.ix, types.NamespacedName{Namespace: ns, Name: string(ref.Name)})
		if err != nil {
			bad = append(bad, f+": "+err.Error())
			reason = firstNonEmpty(reason, string(gatewayv1.ListenerReasonInvalidCACertificateRef))
			continue
		}
		bundle = append(bundle, pemData...)
	}
	if len(bad) > 0 && l.refsReason == "" {
		l.refsReason, l.refsMessage = reason, strings.Join(bad, "; ")
	}
	if len(bad) > 0 && len(bundle) == 0 {
		l.accepted, l.acceptedReason, l.acceptedMessage = false, string(gatewayv1.ListenerReasonNoValidCACertificate),
			"no valid CA certificate for client certificate validation: "+strings.Join(bad, "; ")
		return
	}
	if len(bad) > 0 {
		// Some references are invalid: connections must not be validated
		// against a partial bundle the user did not ask for.
		l.accepted, l.acceptedReason, l.acceptedMessage = false, string(gatewayv1.ListenerReasonInvalidCACertificateRef), strings.Join(bad, "; ")
		return
	}
	l.clientValidation = &frontendValidation{caPEM: bundle, insecureFallback: v.Mode == gatewayv1.AllowInsecureFallback}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// clientValidationModel is a listener's validation as the model has it.
func clientValidationModel(l *listenerState) *model.ClientValidation {
	if l.clientValidation == nil {
		return nil
	}
	return &model.ClientValidation{CAPEM: l.clientValidation.caPEM, InsecureFallback: l.clientValidation.insecureFallback}
}

// insecureFrontendCondition is the Gateway's InsecureFrontendValidationMode
// condition, nil when no port falls back.
func (gs *gatewayState) insecureFrontendCondition() []metav1.Condition {
	if gs.insecureFrontend == nil {
		return nil
	}
	return []metav1.Condition{*gs.insecureFrontend}
}
