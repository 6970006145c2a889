package controller

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
