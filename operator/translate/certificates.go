package translate

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// certificateNames maps each certificate Secret of a Gateway to its name
// in the model.
type certificateNames map[types.NamespacedName]string

// addCertificates puts one certificate per distinct Secret of the
// programmed listeners into the model, named after the Secret, and returns
// the names for the route kinds that terminate TLS.
func addCertificates(gs *gatewayState, m *model.Gateway) certificateNames {
	names := certificateNames{}
	var namer uniqueNames
	for _, s := range sortedSecrets(gs.listeners) {
		name := namer.take(safeName(s.Namespace) + "_" + safeName(s.Name))
		names[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = name
		m.Certificates = append(m.Certificates, model.Certificate{
			Name:    name,
			CertPEM: append([]byte(nil), s.Data[corev1.TLSCertKey]...),
			KeyPEM:  append([]byte(nil), s.Data[corev1.TLSPrivateKeyKey]...),
		})
	}
	return names
}
