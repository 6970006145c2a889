package controller

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
		start := time.Now()
		var err error
		if desired == client.Object(set.ConfigMap) {
			err = r.replaceConfigMap(ctx, owner, set.ConfigMap)
			timeStep("config ConfigMap", start)
		} else {
			err = r.applyOne(ctx, owner, desired)
			timeStep("other owned objects", start)
		}
		if err != nil {
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
	switch found, err := r.readOwned(ctx, owner, desired, live); {
	case err != nil:
		return err
	case found:
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

// readOwned reads the live object of desired into live, from the cache,
// and reports whether it exists. It refuses to take over an object of the
// same name that another owner created: the cache only holds labelled
// objects of most kinds, so a name the cache does not know is asked of
// the API server.
func (r *Reconciler) readOwned(ctx context.Context, owner resources.Owner, desired, live client.Object) (bool, error) {
	kind := desired.GetObjectKind().GroupVersionKind().Kind
	notOurs := fmt.Errorf("%s %s/%s exists and is not owned by Gateway %s", kind, desired.GetNamespace(), desired.GetName(), owner.Name)
	switch err := r.client.Get(ctx, client.ObjectKeyFromObject(desired), live); {
	case apierrors.IsNotFound(err):
		// Not in the cache: someone else's, or ours and not seen by the
		// cache yet (created by the reconcile just before).
		switch err := r.reader.Get(ctx, client.ObjectKeyFromObject(desired), live); {
		case apierrors.IsNotFound(err):
			return false, nil
		case err != nil:
			return false, err
		case !controlledBy(live, owner.UID):
			return false, notOurs
		}
		return true, nil
	case err != nil:
		return false, err
	}
	if !controlledBy(live, owner.UID) && metav1.GetControllerOf(live) != nil {
		return false, fmt.Errorf("%s %s/%s is controlled by another object", kind, desired.GetNamespace(), desired.GetName())
	}
	if !controlledBy(live, owner.UID) && live.GetLabels()[dataplane.LabelManagedBy] != dataplane.ManagedByValue {
		// Caches that hold every object of a kind (ConfigMaps, for
		// BackendTLSPolicies) show others' objects too: never take one over.
		return false, notOurs
	}
	return true, nil
}

// replaceConfigMap writes one of a Gateway's config ConfigMaps (its config,
// its last-good config: up to ~1 MiB each, rewritten on every config
// change) whole, by create or by update with the live resourceVersion,
// rather than by server-side apply: the API server took ~2.5x the CPU
// (BenchmarkConfigMapWrite: 128 against 50 ms for 700 KiB of compressed
// files) to merge an applied ConfigMap of that size field by field, and
// the operator saves converting it to an unstructured map, hashing and
// comparing that (the object is compared typed instead). Nothing but the
// operator writes these objects, so it owns every field: labels and
// annotations are exactly the desired ones (a label spec.infrastructure no
// longer asks for goes), and only finalizers of others are kept. An update
// that loses to a write the cache has not seen yet (conflict) is tried once
// more against the API server's copy.
func (r *Reconciler) replaceConfigMap(ctx context.Context, owner resources.Owner, desired *corev1.ConfigMap) error {
	live := &corev1.ConfigMap{}
	found, err := r.readOwned(ctx, owner, desired, live)
	if err != nil {
		return err
	}
	if !found {
		log.FromContext(ctx).Info("creating", "kind", "ConfigMap", "namespace", desired.Namespace, "name", desired.Name)
		err := r.client.Create(ctx, writableConfigMap(desired, nil), client.FieldOwner(FieldManager))
		if !apierrors.IsAlreadyExists(err) {
			if err != nil {
				return fmt.Errorf("creating ConfigMap %s/%s: %w", desired.Namespace, desired.Name, err)
			}
			return nil
		}
		// Created meanwhile: written over below, if ours.
		if live, err = r.readOwnConfigMap(ctx, owner, desired, "a create that found it"); err != nil {
			return err
		}
	}
	for retried := false; ; retried = true {
		if sameConfigMap(desired, live, &r.digests) {
			return nil
		}
		log.FromContext(ctx).Info("updating", "kind", "ConfigMap", "namespace", desired.Namespace, "name", desired.Name)
		start := time.Now()
		err := r.client.Update(ctx, writableConfigMap(desired, live), client.FieldOwner(FieldManager))
		timeStep("ConfigMap update call", start)
		if err == nil {
			return nil
		}
		if !apierrors.IsConflict(err) || retried {
			return fmt.Errorf("updating ConfigMap %s/%s: %w", desired.Namespace, desired.Name, err)
		}
		if live, err = r.readOwnConfigMap(ctx, owner, desired, "a conflict"); err != nil {
			return err
		}
	}
}

// readOwnConfigMap reads desired's ConfigMap from the API server (after
// a write that found the cache behind) and refuses it unless owner
// controls it.
func (r *Reconciler) readOwnConfigMap(ctx context.Context, owner resources.Owner, desired *corev1.ConfigMap, after string) (*corev1.ConfigMap, error) {
	live := &corev1.ConfigMap{}
	if err := r.reader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return nil, fmt.Errorf("reading ConfigMap %s/%s after %s: %w", desired.Namespace, desired.Name, after, err)
	}
	if !controlledBy(live, owner.UID) {
		return nil, fmt.Errorf("ConfigMap %s/%s exists and is not owned by Gateway %s", desired.Namespace, desired.Name, owner.Name)
	}
	return live, nil
}

// writableConfigMap is desired to be written over live (nil: created):
// live's resourceVersion and finalizers, and maps of its own, since the
// client decodes the API server's answer into the object it sends and
// desired's data belongs to the pipeline's memo.
func writableConfigMap(desired, live *corev1.ConfigMap) *corev1.ConfigMap {
	out := &corev1.ConfigMap{
		TypeMeta:   desired.TypeMeta,
		ObjectMeta: *desired.ObjectMeta.DeepCopy(),
		Immutable:  desired.Immutable,
		Data:       maps.Clone(desired.Data),
		BinaryData: maps.Clone(desired.BinaryData),
	}
	if live != nil {
		out.ResourceVersion = live.ResourceVersion
		out.Finalizers = live.Finalizers
	}
	return out
}

// sameConfigMap reports whether live already is desired, in every field
// replaceConfigMap writes. A live copy from the cache has a digest of its
// data in place of the data (digestConfigData), compared with the digest of
// desired's from digests.
func sameConfigMap(desired, live *corev1.ConfigMap, digests *digestMemo) bool {
	liveAnnotations := live.Annotations
	cachedDigest, cached := liveAnnotations[annotationCachedDataDigest]
	if cached {
		liveAnnotations = maps.Clone(liveAnnotations)
		delete(liveAnnotations, annotationCachedDataDigest)
	}
	if !maps.Equal(desired.Labels, live.Labels) || !maps.Equal(desired.Annotations, liveAnnotations) ||
		!equality.Semantic.DeepEqual(desired.OwnerReferences, live.OwnerReferences) || !ptr.Equal(desired.Immutable, live.Immutable) {
		return false
	}
	if cached {
		return digests.digest(desired) == cachedDigest
	}
	return maps.Equal(desired.Data, live.Data) && maps.EqualFunc(desired.BinaryData, live.BinaryData, bytes.Equal)
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
