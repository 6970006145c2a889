package controller

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// caBundleKey is the one key of a ConfigMap that is not ours the cache
// keeps: a BackendTLSPolicy's CA bundle.
const caBundleKey = "ca.crt"

// keepConfigMapDataWeUse drops, in the cache, every key of a ConfigMap that
// is not ours except ca.crt (a BackendTLSPolicy may reference it): the
// cache sees every ConfigMap of the cluster, so it holds as little of them
// as it can. Of a Gateway's config ConfigMaps it keeps only a digest of
// their data (digestConfigData).
func keepConfigMapDataWeUse(obj any) (any, error) {
	cm, ok := obj.(*corev1.ConfigMap)
	if ok && isConfigConfigMap(cm) {
		digestConfigData(cm)
		return stripUnread(cm)
	}
	if !ok || cm.Labels[dataplane.LabelManagedBy] == dataplane.ManagedByValue {
		return stripUnread(obj)
	}
	ca, has := cm.Data[caBundleKey]
	cm.Data, cm.BinaryData = nil, nil
	if has {
		cm.Data = map[string]string{caBundleKey: ca}
	}
	return stripUnread(cm)
}

// readBackendTLSPolicies lists the BackendTLSPolicies, then the CA
// ConfigMaps they and the Gateways (spec.tls.frontend, already in the
// input) reference, and only those, into the input.
func readBackendTLSPolicies(ctx context.Context, c client.Reader, in *translate.Input) error {
	var list gatewayv1.BackendTLSPolicyList
	if err := c.List(ctx, &list); err != nil {
		return fmt.Errorf("listing BackendTLSPolicies: %w", err)
	}
	in.BackendTLSPolicies = list.Items
	var refs []types.NamespacedName
	for _, p := range list.Items {
		for _, ref := range p.Spec.Validation.CACertificateRefs {
			if ref.Group == "" && ref.Kind == "ConfigMap" {
				refs = append(refs, types.NamespacedName{Namespace: p.Namespace, Name: string(ref.Name)})
			}
		}
	}
	for _, gw := range in.Gateways {
		refs = append(refs, frontendCARefs(&gw)...)
	}
	seen := map[types.NamespacedName]bool{}
	for _, key := range refs {
		if seen[key] {
			continue
		}
		seen[key] = true
		var cm corev1.ConfigMap
		if err := c.Get(ctx, key, &cm); err != nil {
			if apierrors.IsNotFound(err) {
				continue // the translation reports it missing
			}
			return fmt.Errorf("reading ConfigMap %s: %w", key, err)
		}
		in.ConfigMaps = append(in.ConfigMaps, cm)
	}
	return nil
}

// frontendCARefs are the ConfigMaps a Gateway's client certificate
// validation references.
func frontendCARefs(gw *gatewayv1.Gateway) []types.NamespacedName {
	if gw.Spec.TLS == nil || gw.Spec.TLS.Frontend == nil {
		return nil
	}
	validations := []*gatewayv1.FrontendTLSValidation{gw.Spec.TLS.Frontend.Default.Validation}
	for _, pp := range gw.Spec.TLS.Frontend.PerPort {
		validations = append(validations, pp.TLS.Validation)
	}
	var out []types.NamespacedName
	for _, v := range validations {
		if v == nil {
			continue
		}
		for _, ref := range v.CACertificateRefs {
			if ref.Group != "" || ref.Kind != "ConfigMap" {
				continue
			}
			key := types.NamespacedName{Namespace: gw.Namespace, Name: string(ref.Name)}
			if ref.Namespace != nil && *ref.Namespace != "" {
				key.Namespace = string(*ref.Namespace)
			}
			out = append(out, key)
		}
	}
	return out
}

// writeBackendTLSPolicyStatuses replaces, in each policy's
// status.ancestors, the entries of our controller with the translated ones,
// keeping other controllers' entries.
func (r *Reconciler) writeBackendTLSPolicyStatuses(ctx context.Context, policies []gatewayv1.BackendTLSPolicy, ours map[types.NamespacedName][]gatewayv1.PolicyAncestorStatus, now metav1.Time) error {
	var errs []error
	for i := range policies {
		p := &policies[i]
		key := client.ObjectKeyFromObject(p)
		ancestors := mergeAncestors(p.Status.Ancestors, ours[key], now)
		if equality.Semantic.DeepEqual(ancestors, p.Status.Ancestors) {
			continue
		}
		orig := p.DeepCopy()
		p.Status.Ancestors = ancestors
		if err := r.client.Status().Patch(ctx, p, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			errs = append(errs, fmt.Errorf("writing status of BackendTLSPolicy %s: %w", key, err))
			continue
		}
		r.recordRefusals(p, parentRefusalEvents("ancestor", orig.Status.Ancestors, ancestors, policyAncestorEntry))
	}
	return errors.Join(errs...)
}

// mergeAncestors is mergeOurEntries for policy ancestors.
func mergeAncestors(current, ours []gatewayv1.PolicyAncestorStatus, now metav1.Time) []gatewayv1.PolicyAncestorStatus {
	return mergeOurEntries(current, ours, now, policyAncestorEntry)
}

func policyAncestorEntry(a *gatewayv1.PolicyAncestorStatus) parentEntry {
	return parentEntry{a.ControllerName, a.AncestorRef, &a.Conditions}
}
