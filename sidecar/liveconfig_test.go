package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
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
	// (the names it parses are the ones the sidecar exports).
	resp, err := http.Get("http://" + p.metricsAddr + dataplane.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	text, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	dp, err := status.ParseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
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
