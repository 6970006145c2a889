package controller

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// apiServerCPU is the CPU time (user + system) of the envtest API server
// and etcd that this process started.
func apiServerCPU() time.Duration {
	var total time.Duration
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		comm, _ := os.ReadFile(d + "/comm")
		status, _ := os.ReadFile(d + "/status")
		name := strings.TrimSpace(string(comm))
		if (name != "kube-apiserver" && name != "etcd") || !strings.Contains(string(status), fmt.Sprintf("\nPPid:\t%d\n", os.Getpid())) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		total += testenv.ProcessCPU(pid)
	}
	return total
}

// BenchmarkConfigMapWrite compares the ways to write a Gateway's config
// ConfigMap of its size at a few thousand routes (700 KiB of compressed
// files, which change whole on every change, in binaryData): server-side
// apply (as an unstructured map, as the operator applies its other objects,
// or as a typed apply configuration), an update with the resourceVersion
// (replaceConfigMap), and a JSON merge patch of the data. server-cpu-ms/op
// is the envtest API server's and etcd's CPU time per write, the cost that
// wall time on a shared machine hides.
func BenchmarkConfigMapWrite(b *testing.B) {
	ctx := context.Background()
	ns := fmt.Sprintf("cmw-%d", time.Now().UnixNano())
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = k8s.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	})
	payload := make([]byte, 700<<10)
	for _, mode := range []string{"ssa-unstructured", "ssa-typed", "update", "merge-patch"} {
		b.Run(mode, func(b *testing.B) {
			name := fmt.Sprintf("cm-%s-%d", mode, time.Now().UnixNano())
			var rv string
			cpu0 := apiServerCPU()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				_, _ = rand.Read(payload)
				bin := map[string][]byte{"servers.conf.gz": payload[:500<<10], "ngo-source.json.gz": payload[500<<10:]}
				data := map[string]string{"nginx.conf": fmt.Sprint("events {}", i)}
				cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
					ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"a": "b"}}, Data: data, BinaryData: bin}
				var err error
				switch mode {
				case "ssa-unstructured":
					m, _ := runtime.DefaultUnstructuredConverter.ToUnstructured(cm)
					delete(m["metadata"].(map[string]any), "creationTimestamp")
					err = k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(&unstructured.Unstructured{Object: m}), client.FieldOwner(FieldManager), client.ForceOwnership)
				case "ssa-typed":
					ac := corev1ac.ConfigMap(name, ns).WithLabels(cm.Labels).WithData(data).WithBinaryData(bin)
					err = k8s.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership)
				case "update":
					if rv == "" {
						err = k8s.Create(ctx, cm)
					} else {
						cm.ResourceVersion = rv
						err = k8s.Update(ctx, cm, client.FieldOwner(FieldManager))
					}
					rv = cm.ResourceVersion
				case "merge-patch":
					p, _ := json.Marshal(map[string]any{"data": data, "binaryData": bin})
					if i == 0 {
						err = k8s.Create(ctx, cm)
					} else {
						err = k8s.Patch(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, client.RawPatch(types.MergePatchType, p), client.FieldOwner(FieldManager))
					}
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((apiServerCPU()-cpu0).Microseconds())/1000/float64(b.N), "server-cpu-ms/op")
		})
	}
}
