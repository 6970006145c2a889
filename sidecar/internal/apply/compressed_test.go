package apply

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
)

// TestCompressedConfigMap: compressed ConfigMap keys are merged
// decompressed, under the hash of the decompressed files; an archive that
// cannot be decompressed within the bounds, or that shadows another file,
// is a lasting refusal (reported once, not retried) under the hash of the
// files as mounted.
func TestCompressedConfigMap(t *testing.T) {
	conf := []byte("events {}\n")
	corrupt := testenv.Gzip(t, conf)
	corrupt[len(corrupt)-8] ^= 0xff // the CRC
	secret := map[string][]byte{"tls.key": []byte("k")}
	tests := []struct {
		name      string
		config    map[string][]byte
		wantFiles map[string][]byte // on success: the merged tree
		wantErr   string
		// undecodable: the refusal's hash is that of the files as mounted
		undecodable bool
	}{
		{name: "decompressed under the plain name",
			config:    map[string][]byte{"nginx.conf.gz": testenv.Gzip(t, conf), "http.conf": []byte("h")},
			wantFiles: map[string][]byte{"nginx.conf": conf, "http.conf": []byte("h"), "tls.key": []byte("k")}},
		{name: "beyond the file bound", undecodable: true,
			config:  map[string][]byte{"nginx.conf.gz": testenv.Gzip(t, make([]byte, 2000))},
			wantErr: `ConfigMap key "nginx.conf.gz": decompresses to more than 1000 bytes`},
		{name: "corrupt archive", undecodable: true,
			config:  map[string][]byte{"nginx.conf.gz": corrupt},
			wantErr: `ConfigMap key "nginx.conf.gz": corrupt gzip archive`},
		{name: "plain and compressed", undecodable: true,
			config:  map[string][]byte{"nginx.conf.gz": testenv.Gzip(t, conf), "nginx.conf": conf},
			wantErr: `file "nginx.conf" is in the ConfigMap both plain and compressed`},
		{name: "decompressed name is the Secret's",
			config:  map[string][]byte{"nginx.conf": conf, "tls.key.gz": testenv.Gzip(t, []byte("other"))},
			wantErr: `file "tls.key" is in both the ConfigMap and the Secret`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, cfg := newApplierWith(t, t.TempDir(), func(c *Config) { c.Decompression = mount.Limits{File: 1000, Total: 4000} })
			if err := kubeletvolume.WriteKeys(cfg.ConfigDir, tt.config, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := kubeletvolume.WriteKeys(cfg.SecretDir, secret, 0o600); err != nil {
				t.Fatal(err)
			}
			files, refusal, err := a.read()
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantErr == "" {
				if refusal != nil {
					t.Fatalf("refused: %v", refusal)
				}
				if got := mount.Contents(files); len(got) != len(tt.wantFiles) || dataplane.Hash(got) != dataplane.Hash(tt.wantFiles) {
					t.Errorf("merged %v, want %v", sortedNames(got), sortedNames(tt.wantFiles))
				}
				return
			}
			res := a.Apply(context.Background())
			if res.Err == nil || !strings.Contains(res.Message, tt.wantErr) || res.Transient || !res.Changed {
				t.Fatalf("got %+v, want a lasting refusal containing %q", res, tt.wantErr)
			}
			raw := maps.Clone(tt.config)
			maps.Copy(raw, secret)
			if tt.undecodable && res.Hash != dataplane.Hash(raw) {
				t.Errorf("refusal hash %s, want the hash of the mounted files %s", res.Hash, dataplane.Hash(raw))
			}
			if again := a.Apply(context.Background()); again.Changed {
				t.Errorf("the refused config was tried again: %+v", again)
			}
		})
	}
}

func sortedNames(files map[string][]byte) []string { return slices.Sorted(maps.Keys(files)) }
