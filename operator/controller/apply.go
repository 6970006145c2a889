package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// annotationDesiredHash records, on each owned object, the hash of what the
// operator last applied. A field the operator stops setting (say a removed
// spec.infrastructure label) leaves the live object a superset of the new
// desired one; the changed hash is what tells the operator to apply again,
// so that server-side apply removes the field. It is the full SHA-256 (an
// equal hash skips the apply, so two desired objects must never share one).
const annotationDesiredHash = "gateway.nginx-operator.dev/desired-hash"

// applyOwned server-side applies each object of the set that differs from
// the live one, and refuses to take over an object of the same name that
// another owner created.
func (r *Reconciler) applyOwned(ctx context.Context, owner resources.Owner, set resources.Set) error {
	var errs []error
	for _, desired := range set.Objects() {
		if err := r.applyOne(ctx, owner, desired); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (r *Reconciler) applyOne(ctx context.Context, owner resources.Owner, desired client.Object) error {
	kind := desired.GetObjectKind().GroupVersionKind().Kind
	want, err := toApplyMap(desired)
	if err != nil {
		return err
	}
	live := newEmpty(desired)
	switch err := r.client.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		// The cache only holds labelled objects: ask the API server whether
		// someone else's object has this name before creating ours.
		if err := r.reader.Get(ctx, client.ObjectKeyFromObject(desired), live); err == nil && !controlledBy(live, owner.UID) {
			return fmt.Errorf("%s %s/%s exists and is not owned by Gateway %s", kind, desired.GetNamespace(), desired.GetName(), owner.Name)
		} else if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	case err != nil:
		return err
	default:
		if !controlledBy(live, owner.UID) && metav1.GetControllerOf(live) != nil {
			return fmt.Errorf("%s %s/%s is controlled by another object", kind, desired.GetNamespace(), desired.GetName())
		}
		if !controlledBy(live, owner.UID) && live.GetLabels()[dataplane.LabelManagedBy] != dataplane.ManagedByValue {
			// Caches that hold every object of a kind (ConfigMaps, for
			// BackendTLSPolicies) show others' objects too: never take one over.
			return fmt.Errorf("%s %s/%s exists and is not owned by Gateway %s", kind, desired.GetNamespace(), desired.GetName(), owner.Name)
		}
		have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
		if err != nil {
			return err
		}
		// Typed objects from the cache carry no apiVersion and kind.
		have["apiVersion"], have["kind"] = want.GetAPIVersion(), want.GetKind()
		if live.GetAnnotations()[annotationDesiredHash] == want.GetAnnotations()[annotationDesiredHash] && isSubset(want.Object, have) {
			return nil
		}
	}
	log.FromContext(ctx).Info("applying", "kind", kind, "namespace", desired.GetNamespace(), "name", desired.GetName())
	if err := r.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(want), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s/%s: %w", kind, desired.GetNamespace(), desired.GetName(), err)
	}
	return nil
}

// toApplyMap converts a typed object to the unstructured apply
// configuration we send: without status and null fields (which the typed
// zero values produce), and with the desired-hash annotation.
func toApplyMap(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	m = pruneNulls(m)
	sum, err := json.Marshal(m) // map keys marshal sorted: a stable hash
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	h := sha256.Sum256(sum)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationDesiredHash] = hex.EncodeToString(h[:])
	u.SetAnnotations(annotations)
	return u, nil
}

func pruneNulls(m map[string]any) map[string]any {
	for k, v := range m {
		switch v := v.(type) {
		case nil:
			delete(m, k)
		case map[string]any:
			m[k] = pruneNulls(v)
		case []any:
			for i, item := range v {
				if sub, ok := item.(map[string]any); ok {
					v[i] = pruneNulls(sub)
				}
			}
		}
	}
	return m
}

// isSubset reports whether every field set in want has the same value in
// have: fields the API server defaults or other managers add are ignored,
// the way server-side apply ignores them.
func isSubset(want, have any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			if !isSubset(wv, h[k]) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(w) != len(h) {
			return false
		}
		for i := range w {
			if !isSubset(w[i], h[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, have)
	}
}

func newEmpty(obj client.Object) client.Object {
	out := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(client.Object)
	return out
}

func controlledBy(obj client.Object, uid types.UID) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == uid
}

// ownedLists are the kinds the operator creates per Gateway. The Secret and
// Service caches are unfiltered, so their lists are narrowed by label.
func ownedLists() []client.ObjectList {
	return []client.ObjectList{
		&appsv1.DeploymentList{}, &corev1.ServiceList{}, &corev1.SecretList{}, &corev1.ConfigMapList{},
		&rbacv1.RoleBindingList{}, &rbacv1.RoleList{}, &corev1.ServiceAccountList{},
	}
}

// deleteUnserved deletes the owned objects of Gateways that still exist but
// are no longer served (not accepted, or their class is no longer ours).
// Objects of deleted Gateways are left to the garbage collector, which
// follows the owner references.
func (r *Reconciler) deleteUnserved(ctx context.Context, gateways map[types.NamespacedName]*gatewayv1.Gateway, served map[types.NamespacedName]metav1.Condition) error {
	var errs []error
	for _, list := range ownedLists() {
		if err := r.client.List(ctx, list, client.MatchingLabels{dataplane.LabelManagedBy: dataplane.ManagedByValue}); err != nil {
			errs = append(errs, err)
			continue
		}
		items, err := metaItems(list)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, obj := range items {
			ref := metav1.GetControllerOf(obj)
			if ref == nil || ref.Kind != "Gateway" || ref.APIVersion != gatewayv1.GroupVersion.String() {
				continue
			}
			key := types.NamespacedName{Namespace: obj.GetNamespace(), Name: ref.Name}
			gw := gateways[key]
			if _, isServed := served[key]; gw == nil || gw.UID != ref.UID || isServed {
				continue
			}
			log.FromContext(ctx).Info("deleting object of a Gateway no longer served", "kind", fmt.Sprintf("%T", obj), "namespace", obj.GetNamespace(), "name", obj.GetName())
			if err := r.client.Delete(ctx, obj, client.Preconditions{UID: ptr.To(obj.GetUID())}); client.IgnoreNotFound(err) != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func metaItems(list client.ObjectList) ([]client.Object, error) {
	v := reflect.ValueOf(list).Elem().FieldByName("Items")
	if !v.IsValid() {
		return nil, fmt.Errorf("%T has no Items", list)
	}
	out := make([]client.Object, 0, v.Len())
	for i := 0; i < v.Len(); i++ {
		out = append(out, v.Index(i).Addr().Interface().(client.Object))
	}
	return out, nil
}
