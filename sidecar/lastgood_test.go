package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestLastGoodFallback: a new pod whose current config nginx -t refuses
// serves the last-good config (the newest one a replica applied, written
// by the operator) instead of nothing, is ready, and reports both: the
// last-good config as applied, the current one as rejected with nginx's
// message. The next good config replaces it as ever.
func TestLastGoodFallback(t *testing.T) {
	p, c, ns, pod, _ := reportingPod(t, "lastgood")
	backend := okBackend(t)
	cert := newCert(t)
	lastGood := httpConfig(p.ip, backend, 1, cert, "")
	lastGoodDir := filepath.Join(p.dir, "last-good")
	if err := os.MkdirAll(lastGoodDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := kubeletvolume.WriteKeys(lastGoodDir, lastGood.configFiles, 0o644); err != nil {
		t.Fatal(err)
	}
	p.extraSidecarArgs = append(p.extraSidecarArgs, "--last-good-dir", inside(lastGoodDir))

	bad := httpConfig(p.ip, backend, 2, cert, "    location /typo { retrun 200; }")
	p.write(bad)
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	waitReport(t, c, ns, pod, dataplane.PodReport{
		AppliedHash: lastGood.hash(), RejectedHash: bad.hash(), RejectedMessage: `unknown directive "retrun" in routes.conf:`,
	})
	testenv.Eventually(t, 10*time.Second, "ready while serving the last-good config", func() error { return p.ready(200) })

	fixed := httpConfig(p.ip, backend, 3, cert, "")
	p.write(fixed)
	p.waitServed("/", "v=3")
	waitReport(t, c, ns, pod, dataplane.PodReport{AppliedHash: fixed.hash()})
}

// TestNoLastGoodNoFallback: without a last-good config (the optional
// ConfigMap does not exist yet: an empty mount) a refused first config
// leaves the pod with nothing live, as before.
func TestNoLastGoodNoFallback(t *testing.T) {
	p, c, ns, pod, _ := reportingPod(t, "nolastgood")
	backend := okBackend(t)
	lastGoodDir := filepath.Join(p.dir, "last-good")
	if err := os.MkdirAll(lastGoodDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p.extraSidecarArgs = append(p.extraSidecarArgs, "--last-good-dir", inside(lastGoodDir))
	bad := httpConfig(p.ip, backend, 2, newCert(t), "    location /typo { retrun 200; }")
	p.write(bad)
	p.startSidecar()
	waitReport(t, c, ns, pod, dataplane.PodReport{RejectedHash: bad.hash(), RejectedMessage: `unknown directive "retrun"`})
	if _, err := os.Lstat(filepath.Join(p.run, "live")); !os.IsNotExist(err) {
		t.Errorf("live config after a refused first config without last-good: %v", err)
	}
}
