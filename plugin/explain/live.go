package explain

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// readLive reads, with the user's rights, what the translation of Gateway
// nn needs. Lists are cluster-wide, or of the Gateway's namespace when
// the user may not list every namespace (a note says so). Secrets are
// never read: see placeholderSecrets.
func readLive(ctx context.Context, cfg *rest.Config, nn types.NamespacedName) (translate.Input, []string, error) {
	var in translate.Input
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, gatewayv1.Install, gatewayv1beta1.Install, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return in, nil, err
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return in, nil, err
	}
	r := liveReader{c: c, namespace: nn.Namespace}

	var gw gatewayv1.Gateway
	if err := c.Get(ctx, nn, &gw); err != nil {
		if apierrors.IsNotFound(err) {
			return in, nil, fmt.Errorf("Gateway %q not found in namespace %q", nn.Name, nn.Namespace)
		}
		return in, nil, fmt.Errorf("reading Gateway %s: %w", nn, err)
	}
	var gc gatewayv1.GatewayClass
	err = c.Get(ctx, types.NamespacedName{Name: string(gw.Spec.GatewayClassName)}, &gc)
	switch {
	case err == nil:
		if gc.Spec.ControllerName != translate.ControllerName {
			return in, nil, fmt.Errorf("Gateway %s is not served by nginx-gateway-operator: its GatewayClass %q has controllerName %q", nn, gc.Name, gc.Spec.ControllerName)
		}
	case apierrors.IsForbidden(err):
		gc = gatewayv1.GatewayClass{ObjectMeta: metav1.ObjectMeta{Name: string(gw.Spec.GatewayClassName)},
			Spec: gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName}}
		r.notes = append(r.notes, fmt.Sprintf("cannot read GatewayClass %q (%v): taken as ours, without parameters", gc.Name, err))
	case apierrors.IsNotFound(err):
		return in, nil, fmt.Errorf("the GatewayClass %q of Gateway %s does not exist", gw.Spec.GatewayClassName, nn)
	default:
		return in, nil, fmt.Errorf("reading GatewayClass %q: %w", gw.Spec.GatewayClassName, err)
	}
	in.Gateways = []gatewayv1.Gateway{gw}
	in.GatewayClasses = []gatewayv1.GatewayClass{gc}

	var routes gatewayv1.HTTPRouteList
	var listenerSets gatewayv1.ListenerSetList
	var grpcRoutes gatewayv1.GRPCRouteList
	var tlsRoutes gatewayv1.TLSRouteList
	var tcpRoutes gatewayv1.TCPRouteList
	var udpRoutes gatewayv1.UDPRouteList
	var grants gatewayv1beta1.ReferenceGrantList
	var services corev1.ServiceList
	var slices discoveryv1.EndpointSliceList
	var params v1alpha1.GatewayParametersList
	var namespaces corev1.NamespaceList
	for _, l := range []struct {
		what string
		list client.ObjectList
	}{
		{"HTTPRoutes", &routes}, {"ListenerSets", &listenerSets}, {"GRPCRoutes", &grpcRoutes}, {"TLSRoutes", &tlsRoutes}, {"TCPRoutes", &tcpRoutes}, {"UDPRoutes", &udpRoutes},
		{"ReferenceGrants", &grants}, {"Services", &services},
		{"EndpointSlices", &slices}, {"GatewayParameters", &params},
	} {
		if err := r.list(ctx, l.what, l.list); err != nil {
			return in, nil, err
		}
	}
	in.TLSRoutes, in.TCPRoutes, in.UDPRoutes = translate.Pointers(tlsRoutes.Items), translate.Pointers(tcpRoutes.Items), translate.Pointers(udpRoutes.Items)
	in.HTTPRoutes, in.GRPCRoutes, in.ReferenceGrants, in.Services, in.EndpointSlices, in.Parameters = translate.Pointers(routes.Items), translate.Pointers(grpcRoutes.Items), grants.Items, services.Items, slices.Items, params.Items
	in.ListenerSets = listenerSets.Items
	switch err := c.List(ctx, &namespaces); {
	case err == nil:
		in.Namespaces = namespaces.Items
	case apierrors.IsForbidden(err):
		r.notes = append(r.notes, "cannot list Namespaces: allowedRoutes namespace selectors see only the kubernetes.io/metadata.name label")
	default:
		return in, nil, fmt.Errorf("listing Namespaces: %w", err)
	}
	rendercmd.WithNamespaces(&in)
	owners := []listenerOwner{{what: "listener", namespace: gw.Namespace, spec: gw.Spec.Listeners, status: gw.Status.Listeners}}
	for _, ls := range listenerSets.Items {
		ref := ls.Spec.ParentRef
		parentNS := ls.Namespace
		if ref.Namespace != nil && *ref.Namespace != "" {
			parentNS = string(*ref.Namespace)
		}
		if string(ref.Name) != gw.Name || parentNS != gw.Namespace {
			continue
		}
		owner := listenerOwner{what: fmt.Sprintf("ListenerSet %s/%s listener", ls.Namespace, ls.Name), namespace: ls.Namespace}
		for _, l := range ls.Spec.Listeners {
			owner.spec = append(owner.spec, gatewayv1.Listener(l))
		}
		for _, l := range ls.Status.Listeners {
			owner.status = append(owner.status, gatewayv1.ListenerStatus(l))
		}
		owners = append(owners, owner)
	}
	secrets, notes, err := placeholderSecrets(owners)
	if err != nil {
		return in, nil, err
	}
	in.Secrets = secrets
	return in, append(r.notes, notes...), nil
}

type liveReader struct {
	c         client.Client
	namespace string
	notes     []string
}

// list lists every namespace's objects, or the Gateway's namespace's when
// listing every namespace is forbidden.
func (r *liveReader) list(ctx context.Context, what string, list client.ObjectList) error {
	err := r.c.List(ctx, list)
	if err == nil || apimeta.IsNoMatchError(err) {
		return nil // the kind's CRD is not installed (TCPRoute, UDPRoute…): there are none
	}
	if !apierrors.IsForbidden(err) {
		return fmt.Errorf("listing %s: %w", what, err)
	}
	if err := r.c.List(ctx, list, client.InNamespace(r.namespace)); err != nil {
		if apierrors.IsForbidden(err) {
			r.notes = append(r.notes, fmt.Sprintf("cannot list %s, not even in namespace %q: explained without them", what, r.namespace))
			return nil
		}
		return fmt.Errorf("listing %s of namespace %q: %w", what, r.namespace, err)
	}
	r.notes = append(r.notes, fmt.Sprintf("cannot list %s of every namespace: only those of namespace %q are seen", what, r.namespace))
	return nil
}

// listenerOwner is the Gateway, or one of its ListenerSets, with its
// listeners' spec and status; what names them in notes.
type listenerOwner struct {
	what      string
	namespace string
	spec      []gatewayv1.Listener
	status    []gatewayv1.ListenerStatus
}

// placeholderSecrets stands in for the certificate Secrets of the TLS
// listeners of the Gateway and its ListenerSets without reading them: a
// certificate only decides whether a server takes the TLS handshake, and
// the operator already said whether it resolved (the listener's
// ResolvedRefs). A listener whose refs resolved gets a generated key pair
// under each Secret name it references; the others get none, as nginx
// does.
func placeholderSecrets(owners []listenerOwner) ([]corev1.Secret, []string, error) {
	var secrets []corev1.Secret
	var notes []string
	seen := map[types.NamespacedName]bool{}
	var certPEM, keyPEM []byte
	for _, o := range owners {
		resolved := map[gatewayv1.SectionName]bool{}
		for _, ls := range o.status {
			for _, c := range ls.Conditions {
				if c.Type == string(gatewayv1.ListenerConditionResolvedRefs) && c.Status == metav1.ConditionTrue {
					resolved[ls.Name] = true
				}
			}
		}
		for _, l := range o.spec {
			if l.TLS == nil || len(l.TLS.CertificateRefs) == 0 {
				continue
			}
			if !resolved[l.Name] {
				notes = append(notes, fmt.Sprintf("%s %s: its certificates are not resolved (ResolvedRefs is not True): nginx refuses its TLS handshakes", o.what, l.Name))
				continue
			}
			for _, ref := range l.TLS.CertificateRefs {
				key := types.NamespacedName{Namespace: o.namespace, Name: string(ref.Name)}
				if ref.Namespace != nil {
					key.Namespace = string(*ref.Namespace)
				}
				if seen[key] {
					continue
				}
				seen[key] = true
				if certPEM == nil {
					var err error
					if certPEM, keyPEM, err = placeholderKeyPair(); err != nil {
						return nil, nil, err
					}
				}
				secrets = append(secrets, corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name},
					Type:       corev1.SecretTypeTLS,
					Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
				})
			}
		}
	}
	return secrets, notes, nil
}

// placeholderKeyPair is a throwaway self-signed certificate: the
// translation step checks that a certificate Secret holds a key pair.
func placeholderKeyPair() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubectl-nginx_gateway explain placeholder"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, errors.Join(errors.New("encoding the placeholder key"), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), nil
}
