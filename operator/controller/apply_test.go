package controller

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// TestDesiredHashIsFullSHA256: an equal desired-hash skips the apply, so it
// is the whole digest, and it changes with the object.
func TestDesiredHashIsFullSHA256(t *testing.T) {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "gw-nginx"},
		Data:       map[string]string{"nginx.conf": "events {}\n"},
	}
	u, err := toApplyMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	h := u.GetAnnotations()[annotationDesiredHash]
	if len(h) != hex.EncodedLen(sha256.Size) {
		t.Fatalf("desired hash %q: %d hex digits, want %d", h, len(h), hex.EncodedLen(sha256.Size))
	}
	cm.Data["nginx.conf"] = "events { }\n"
	u2, err := toApplyMap(cm)
	if err != nil {
		t.Fatal(err)
	}
	if u2.GetAnnotations()[annotationDesiredHash] == h {
		t.Error("a changed object keeps its desired hash")
	}
}

// staleConfigMaps is the API server seen through a cache that has not yet
// seen the last write of one ConfigMap: Get of it returns an older copy,
// or NotFound when old has no resourceVersion (the cache has not seen its
// create).
type staleConfigMaps struct {
	client.Client
	old *corev1.ConfigMap
}

func (s staleConfigMaps) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if cm, ok := obj.(*corev1.ConfigMap); ok && key == client.ObjectKeyFromObject(s.old) {
		if s.old.ResourceVersion == "" {
			return apierrors.NewNotFound(corev1.Resource("configmaps"), key.Name)
		}
		s.old.DeepCopyInto(cm)
		return nil
	}
	return s.Client.Get(ctx, key, obj, opts...)
}

// TestReplaceConfigMap: a config ConfigMap is created, then written whole
// over the live one (a label and a key no longer wanted go, another
// manager's finalizer stays), and an update from a stale cache that loses
// to the resourceVersion check is written again over the API server's copy,
// as is one the cache has not seen created.
func TestReplaceConfigMap(t *testing.T) {
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	owner := resources.Owner{Namespace: ns, Name: "gw", UID: "gateway-uid"}
	desired := func(label string, data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-nginx",
				Labels: map[string]string{dataplane.LabelManagedBy: dataplane.ManagedByValue, label: "yes"},
				OwnerReferences: []metav1.OwnerReference{{APIVersion: gatewayv1.GroupVersion.String(), Kind: "Gateway",
					Name: "gw", UID: owner.UID, Controller: ptr.To(true)}}},
			Data: data, BinaryData: binary,
		}
	}
	r := &Reconciler{client: k8s, reader: k8s}
	key := client.ObjectKey{Namespace: ns, Name: "gw-nginx"}
	read := func() *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, key, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}

	first := desired("first", map[string]string{"nginx.conf": "one", "gone.conf": "x"}, map[string][]byte{"a.gz": {1, 2}})
	if err := r.replaceConfigMap(ctx, owner, first); err != nil {
		t.Fatal(err)
	}
	live := read()
	live.Finalizers = []string{"example.com/keep"}
	if err := k8s.Update(ctx, live); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cm := read()
		cm.Finalizers = nil
		_ = k8s.Update(context.Background(), cm)
	})
	stale := read()

	second := desired("second", map[string]string{"nginx.conf": "two"}, map[string][]byte{"a.gz": {3}})
	if err := r.replaceConfigMap(ctx, owner, second); err != nil {
		t.Fatal(err)
	}
	got := read()
	if !sameConfigMap(second, got, &digestMemo{}) || !slices.Equal(got.Finalizers, []string{"example.com/keep"}) {
		t.Fatalf("after the second write: labels %v, data %v, binaryData %v, finalizers %v", got.Labels, got.Data, got.BinaryData, got.Finalizers)
	}
	if second.BinaryData["a.gz"][0] != 3 || len(second.Data) != 1 {
		t.Errorf("the desired object was changed by the write: %v %v", second.Data, second.BinaryData)
	}

	// The cache still shows the object before the second write.
	third := desired("third", map[string]string{"nginx.conf": "three"}, nil)
	if err := (&Reconciler{client: staleConfigMaps{k8s, stale}, reader: k8s}).replaceConfigMap(ctx, owner, third); err != nil {
		t.Fatalf("a write from a stale cache: %v", err)
	}
	if got := read(); !sameConfigMap(third, got, &digestMemo{}) {
		t.Fatalf("after a write from a stale cache: labels %v, data %v, binaryData %v", got.Labels, got.Data, got.BinaryData)
	}

	// The cache has not seen the object's create yet: written over.
	fourth := desired("fourth", map[string]string{"nginx.conf": "four"}, nil)
	unseen := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gw-nginx"}}
	if err := (&Reconciler{client: staleConfigMaps{k8s, unseen}, reader: k8s}).replaceConfigMap(ctx, owner, fourth); err != nil {
		t.Fatalf("a write the cache has not seen the create of: %v", err)
	}
	if got := read(); !sameConfigMap(fourth, got, &digestMemo{}) {
		t.Fatalf("after a write the cache had not seen the create of: labels %v, data %v", got.Labels, got.Data)
	}

	// Someone else's ConfigMap of that name is never written.
	if err := r.replaceConfigMap(ctx, resources.Owner{Namespace: ns, Name: "gw", UID: "another-uid"}, first); err == nil {
		t.Error("wrote over a ConfigMap of another Gateway")
	}
}
