package translate

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// backendClientCertName names the Gateway's client certificate towards
// backends in the model: the hyphen keeps it apart from listener
// certificates, whose names are made of safeName parts ([a-z0-9_]).
const backendClientCertName = "backend-client"

// resolveBackendClientCertificate checks spec.tls.backend.clientCertificateRef,
// the certificate nginx presents to backends it speaks TLS to
// (BackendTLSPolicy). A Gateway that sets it gets a ResolvedRefs condition;
// an invalid reference leaves the Gateway accepted, without the certificate.
func (b *translator) resolveBackendClientCertificate(gs *gatewayState) {
	tlsCfg := gs.gw.Spec.TLS
	if tlsCfg == nil || tlsCfg.Backend == nil || tlsCfg.Backend.ClientCertificateRef == nil {
		return
	}
	gen := gs.gw.Generation
	secret, reason, err := resolveCertificate(b.ix, grantRef{Group: gatewayGroup, Kind: kindGateway, Namespace: gs.gw.Namespace}, *tlsCfg.Backend.ClientCertificateRef, "spec.tls.backend.clientCertificateRef")
	var c metav1.Condition
	switch {
	case err == nil:
		gs.backendClientCert = secret
		c = condition(string(gatewayv1.GatewayConditionResolvedRefs), true, string(gatewayv1.GatewayReasonResolvedRefs), "all references are resolved", gen)
	case reason == string(gatewayv1.ListenerReasonRefNotPermitted):
		c = condition(string(gatewayv1.GatewayConditionResolvedRefs), false, string(gatewayv1.GatewayReasonRefNotPermitted), err.Error(), gen)
	default:
		c = condition(string(gatewayv1.GatewayConditionResolvedRefs), false, string(gatewayv1.GatewayReasonInvalidClientCertificateRef), err.Error(), gen)
	}
	gs.resolvedRefs = &c
}

// addBackendClientCertificate puts the Gateway's client certificate towards
// backends into the model.
func addBackendClientCertificate(gs *gatewayState, m *model.Gateway) {
	if s := gs.backendClientCert; s != nil {
		m.BackendClientCertificate = &model.Certificate{
			Name:    backendClientCertName,
			CertPEM: append([]byte(nil), s.Data[corev1.TLSCertKey]...),
			KeyPEM:  append([]byte(nil), s.Data[corev1.TLSPrivateKeyKey]...),
		}
	}
}
