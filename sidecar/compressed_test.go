package main

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
)

// operatorConfig is version's config as the operator stores it: files
// padded beyond the size the operator keeps plain, encoded by
// operator/resources (gzipped keys), and the hash the operator expects.
func operatorConfig(t *testing.T, p *gatewayPod, backend string, version int, cert certPair) (mounted config, hash string) {
	t.Helper()
	padding := strings.Repeat("    # padding: a config this large is stored gzipped\n", 8000)
	c := httpConfig(p.ip, backend, version, cert, padding)
	files := render.Files{Config: c.configFiles, Secret: c.secretFiles}
	set := resources.Objects(resources.Owner{Namespace: "ns", Name: "gw"}, model.Infrastructure{}, files, resources.Options{})
	if len(set.ConfigMap.Data) != 1 || set.ConfigMap.Data[dataplane.SecretsHashKey] == "" || len(set.ConfigMap.BinaryData) == 0 {
		t.Fatalf("the operator stored the %d-byte config plain: %v", len(c.configFiles["routes.conf"]), slices.Sorted(maps.Keys(set.ConfigMap.Data)))
	}
	cm := maps.Clone(set.ConfigMap.BinaryData)
	for k := range cm {
		if !strings.HasSuffix(k, dataplane.GzipSuffix) {
			t.Fatalf("ConfigMap key %q is not compressed", k)
		}
	}
	return config{configFiles: cm, secretFiles: set.Secret.Data}, resources.ConfigHash(files)
}

// TestCompressedConfigMap: a ConfigMap the operator gzipped is applied
// through kubelet-style updates and served, and the pod reports the hash
// the operator computed from the uncompressed files. A bomb and a corrupt
// archive are refused and reported while nginx keeps serving; the next
// good config clears the rejection.
func TestCompressedConfigMap(t *testing.T) {
	p, c, ns, pod, gw := reportingPod(t, "compressed")
	backend := okBackend(t)
	cert := newCert(t)

	v1, hash1 := operatorConfig(t, p, backend, 1, cert)
	p.write(v1)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: hash1})
	live, err := filepath.EvalSymlinks(filepath.Join(p.run, "live"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(live, "routes.conf")); err != nil {
		t.Errorf("live tree has no routes.conf: %v", err)
	}
	if _, err := os.Stat(filepath.Join(live, "routes.conf.gz")); err == nil {
		t.Error("live tree holds the compressed key")
	}

	v2, hash2 := operatorConfig(t, p, backend, 2, cert)
	p.write(v2)
	p.waitServed("/", "v=2")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: hash2})

	valid := v2.configFiles["routes.conf.gz"]
	corrupt := bytes.Clone(valid)
	corrupt[len(corrupt)-8] ^= 0xff // the CRC
	for _, tc := range []struct {
		name, message string
		routes        []byte
	}{
		{"bomb", `ConfigMap key "routes.conf.gz": decompresses to more than 64 MiB`, testenv.GzipZeros(t, dataplane.MaxDecompressedFileSize+1)},
		{"corrupt", `ConfigMap key "routes.conf.gz": corrupt gzip archive`, corrupt},
	} {
		bad := config{configFiles: maps.Clone(v2.configFiles), secretFiles: v2.secretFiles}
		bad.configFiles["routes.conf.gz"] = tc.routes
		p.write(bad)
		// Undecodable: reported under the hash of the files as mounted.
		waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: hash2, RejectedHash: bad.hash(), RejectedMessage: tc.message})
		waitEvent(t, c, ns, gw, dataplane.EventReasonConfigRejected, tc.message)
		if code, body, err := p.get("http", "/"); err != nil || body != "v=2" {
			t.Errorf("%s: after the refused config nginx answers %d %q (%v), want v=2", tc.name, code, body, err)
		}
	}
	if got := p.metric("validation_failures_total"); got != 0 {
		t.Errorf("validation failures: %v; refused archives must not reach nginx -t", got)
	}

	v3, hash3 := operatorConfig(t, p, backend, 3, cert)
	p.write(v3)
	p.waitServed("/", "v=3")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: hash3})
}
