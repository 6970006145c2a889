package controller

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"io"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// annotationCachedDataDigest is set only in the operator's cache, never on
// the API server: on a Gateway's config and last-good ConfigMaps it
// replaces their data (configDataDigest of data and binaryData). Those are
// the operator's largest objects (~1.5 MiB each at 5,000 routes) and it
// only ever compares them with what it would write (sameConfigMap): the
// cache keeps 64 hex digits instead of a second copy of the memo's
// encoded files, and each Get copies no megabytes out of it.
const annotationCachedDataDigest = "cache.gateway.nginx-operator.dev/data-sha256"

// isConfigConfigMap reports whether cm is one of the operator's config
// ConfigMaps of a Gateway (its config or its last-good config), by name:
// an annotation could be copied onto others from spec.infrastructure.
func isConfigConfigMap(cm *corev1.ConfigMap) bool {
	if cm.Labels[dataplane.LabelManagedBy] != dataplane.ManagedByValue {
		return false
	}
	gw := cm.Labels[dataplane.LabelGatewayName]
	return gw != "" && (cm.Name == resources.Name(gw) || cm.Name == resources.LastGoodName(gw))
}

// digestConfigData replaces, in a cached copy, the data of a config
// ConfigMap with its digest.
func digestConfigData(cm *corev1.ConfigMap) {
	annotations := maps.Clone(cm.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[annotationCachedDataDigest] = configDataDigest(cm.Data, cm.BinaryData)
	cm.Annotations, cm.Data, cm.BinaryData = annotations, nil, nil
}

// configDataDigest is the SHA-256 of a ConfigMap's data and binaryData,
// each key and value length-prefixed, in key order.
func configDataDigest(data map[string]string, binaryData map[string][]byte) string {
	h := sha256.New()
	write := func(s string) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s)))
		_, _ = io.WriteString(h, s)
	}
	for _, k := range slices.Sorted(maps.Keys(data)) {
		write("d" + k)
		write(data[k])
	}
	for _, k := range slices.Sorted(maps.Keys(binaryData)) {
		write("b" + k)
		_ = binary.Write(h, binary.BigEndian, uint64(len(binaryData[k])))
		h.Write(binaryData[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// digestMemo remembers the digests of the data the reconciler would write,
// by ConfigMap and config hash: a follow-up reconcile of the same config
// (a status it wrote, a pod's report) compares without hashing a megabyte
// again. The config hash covers every file the data encodes.
type digestMemo struct {
	mu      sync.Mutex
	digests map[digestKey]string
}

type digestKey struct {
	namespace, name, configHash string
}

// keepDigests bounds the memo: a few configs per Gateway are compared at
// a time (the newest, the last-good).
const keepDigests = 64

func (m *digestMemo) digest(cm *corev1.ConfigMap) string {
	key := digestKey{cm.Namespace, cm.Name, cm.Annotations[dataplane.AnnotationConfigHash]}
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.digests[key]; ok && key.configHash != "" {
		return d
	}
	d := configDataDigest(cm.Data, cm.BinaryData)
	if m.digests == nil || len(m.digests) >= keepDigests {
		m.digests = map[digestKey]string{}
	}
	m.digests[key] = d
	return d
}
