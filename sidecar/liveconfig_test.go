package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/status"
)

// getJSON reads one of the sidecar's live config views into v.
func (p *gatewayPod) getJSON(path string, v any) error {
	resp, err := http.Get("http://" + p.healthAddr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if strings.Contains(string(body), "PRIVATE KEY") {
		return fmt.Errorf("GET %s: the answer holds a private key", path)
	}
	return json.Unmarshal(body, v)
}

// TestLiveConfigServesTheAppliedTreeWithoutKeys: with real nginx, the
// sidecar's /config/live answers the tree nginx runs, named by its hash,
// every file but the private keys (a .key file, and a key inside a file of
// another name), and follows a reload to the next config.
func TestLiveConfigServesTheAppliedTreeWithoutKeys(t *testing.T) {
	p := newPod(t)
	cert := newCert(t)
	backend := okBackend(t)
	check := func(c config) {
		t.Helper()
		var live dataplane.LiveConfig
		testenv.Eventually(t, 20*time.Second, "live config of "+c.hash()[:12], func() error {
			if err := p.getJSON(dataplane.LiveConfigPath, &live); err != nil {
				return err
			}
			if live.Hash != c.hash() {
				return fmt.Errorf("hash %q, want %q", live.Hash, c.hash())
			}
			return nil
		})
		want := map[string]string{}
		for name, data := range c.configFiles {
			want[name] = string(data)
		}
		want["tls.crt"] = string(cert.cert)
		if !maps.Equal(live.Files, want) {
			t.Errorf("files %v, want %v", slices.Sorted(maps.Keys(live.Files)), slices.Sorted(maps.Keys(want)))
		}
		if want := []string{"bundle.pem", "tls.key"}; !slices.Equal(live.Withheld, want) {
			t.Errorf("withheld %v, want %v", live.Withheld, want)
		}
	}
	v1 := httpConfig(p.ip, backend, 1, cert, "")
	v1.secretFiles["bundle.pem"] = append(append([]byte{}, cert.cert...), cert.key...)
	v1.configFiles[dataplane.SourceFile] = []byte(`{"Version":1}`)
	p.serve(v1, "v=1")
	check(v1)

	v2 := httpConfig(p.ip, backend, 2, cert, "")
	v2.secretFiles["bundle.pem"] = v1.secretFiles["bundle.pem"]
	p.write(v2)
	p.waitServed("/", "v=2")
	check(v2)

	// What `kubectl nginx-gateway status` reads of this sidecar's metrics
	// (the names it parses are the ones the sidecar exports). The worker
	// generations are counted every generationsPoll, so a read right after
	// the reload may come before the first count of the new workers.
	var dp *status.DataPlane
	testenv.Eventually(t, 5*time.Second, "worker generations counted", func() error {
		resp, err := http.Get("http://" + p.metricsAddr + dataplane.MetricsPath)
		if err != nil {
			return err
		}
		text, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if dp, err = status.ParseMetrics(text); err != nil {
			return err
		}
		if dp.WorkerGenerations < 1 {
			return fmt.Errorf("worker generations %d", dp.WorkerGenerations)
		}
		return nil
	})
	if dp.Reloads < 1 || dp.LastReload == nil || time.Since(*dp.LastReload) > time.Minute || dp.LastReloadSeconds <= 0 ||
		dp.Validations < 1 || dp.LastValidation == nil || dp.WorkerGenerations < 1 {
		t.Errorf("status reads %+v after one start and one reload", dp)
	}

	var eps dataplane.LiveEndpoints
	if err := p.getJSON(dataplane.LiveEndpointsPath, &eps); err != nil {
		t.Fatal(err)
	}
	if eps.Synced || len(eps.Upstreams) != 0 {
		t.Errorf("endpoints without API access: %+v, want none and not synced", eps)
	}
}

// TestLiveConfigReadOncePerAppliedHash: the handler reads and hashes the
// staged tree once per applied hash. A tree changed on disk after the
// first answer would fail the hash check (503) if it were read again; the
// same hash keeps getting the first answer, and the next applied hash gets
// its own tree.
func TestLiveConfigReadOncePerAppliedHash(t *testing.T) {
	staging := t.TempDir()
	stage := func(files map[string][]byte) string {
		hash := dataplane.Hash(files)
		dir := filepath.Join(staging, hash)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return hash
	}
	var applied appliedHash
	h := liveConfigHandler(staging, &applied)
	get := func() (int, dataplane.LiveConfig) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, dataplane.LiveConfigPath, nil))
		var live dataplane.LiveConfig
		if rec.Code == http.StatusOK {
			if err := json.Unmarshal(rec.Body.Bytes(), &live); err != nil {
				t.Fatal(err)
			}
		}
		return rec.Code, live
	}

	if code, live := get(); code != http.StatusOK || live.Hash != "" || len(live.Files) != 0 {
		t.Fatalf("nothing applied: %d %+v", code, live)
	}
	h1 := stage(map[string][]byte{"nginx.conf": []byte("one"), "tls.key": []byte("secret")})
	applied.set(h1)
	if code, live := get(); code != http.StatusOK || live.Hash != h1 || live.Files["nginx.conf"] != "one" || !slices.Equal(live.Withheld, []string{"tls.key"}) {
		t.Fatalf("first config: %d %+v", code, live)
	}
	if err := os.WriteFile(filepath.Join(staging, h1, "nginx.conf"), []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, live := get(); code != http.StatusOK || live.Hash != h1 || live.Files["nginx.conf"] != "one" {
		t.Fatalf("same hash again: %d %+v; want the first answer, not a re-read", code, live)
	}

	h2 := stage(map[string][]byte{"nginx.conf": []byte("two")})
	applied.set(h2)
	if code, live := get(); code != http.StatusOK || live.Hash != h2 || live.Files["nginx.conf"] != "two" || len(live.Withheld) != 0 {
		t.Fatalf("next config: %d %+v", code, live)
	}
	// Back to the first hash, whose tree no longer hashes to it: read again,
	// and refused rather than served wrong.
	applied.set(h1)
	if code, _ := get(); code != http.StatusServiceUnavailable {
		t.Errorf("a changed tree under the applied hash: %d, want 503", code)
	}
}
