package resources

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
)

// maxConfigMapBytes is the API server's bound on a ConfigMap's data plus
// binaryData (the raw bytes, before any base64).
const maxConfigMapBytes = 1 << 20

func TestConfigMapContent(t *testing.T) {
	big := bytes.Repeat([]byte("location /x { return 200; }\n"), plainConfigLimit/20)
	tests := []struct {
		name           string
		files          map[string][]byte
		wantData       []string // keys of data
		wantBinary     []string // keys of binaryData
		wantCompressed bool
	}{
		{name: "empty", files: nil},
		{name: "small text stays plain", files: map[string][]byte{"nginx.conf": []byte("events {}\n"), "http.conf": []byte("x")},
			wantData: []string{"http.conf", "nginx.conf"}},
		{name: "small binary stays plain in binaryData", files: map[string][]byte{"nginx.conf": []byte("a"), "blob": {0xff}},
			wantData: []string{"nginx.conf"}, wantBinary: []string{"blob"}},
		{name: "exactly the limit stays plain", files: map[string][]byte{"nginx.conf": bytes.Repeat([]byte("a"), plainConfigLimit)},
			wantData: []string{"nginx.conf"}},
		{name: "over the limit compresses every file", files: map[string][]byte{"nginx.conf": []byte("a"), "http.conf": big, "blob": {0xff}},
			wantBinary: []string{"blob.gz", "http.conf.gz", "nginx.conf.gz"}, wantCompressed: true},
		{name: "a name ending in .gz is never plain", files: map[string][]byte{"nginx.conf": []byte("a"), "x.gz": []byte("b")},
			wantBinary: []string{"nginx.conf.gz", "x.gz.gz"}, wantCompressed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := EncodeConfig(tt.files)
			data, binary := enc.Data, enc.Binary
			if got := slices.Sorted(maps.Keys(data)); !slices.Equal(got, tt.wantData) {
				t.Errorf("data keys = %v, want %v", got, tt.wantData)
			}
			if got := slices.Sorted(maps.Keys(binary)); !slices.Equal(got, tt.wantBinary) {
				t.Errorf("binaryData keys = %v, want %v", got, tt.wantBinary)
			}
			// Round trip, the sidecar's way.
			got := decodeConfigMap(t, &corev1.ConfigMap{Data: data, BinaryData: binary})
			if !maps.EqualFunc(got, tt.files, bytes.Equal) {
				t.Errorf("round trip changed the files: %d files, want %d", len(got), len(tt.files))
			}
			enc2 := EncodeConfig(maps.Clone(tt.files))
			again, againBinary := enc2.Data, enc2.Binary
			if !maps.Equal(data, again) || !maps.EqualFunc(binary, againBinary, bytes.Equal) {
				t.Error("the same files encode to different bytes")
			}
			if tt.wantCompressed {
				for key, gz := range binary {
					if mtime := gz[4:8]; !bytes.Equal(mtime, []byte{0, 0, 0, 0}) || gz[3] != 0 {
						t.Errorf("%s: gzip header has flags %#x, mtime %v; want none", key, gz[3], mtime)
					}
				}
			}
		})
	}
}

// TestLargeConfigMapFits renders Gateways of 3,000 and 5,000 routes and
// checks that their ConfigMap fits, with room to spare, and carries the
// same hash as the rendered files.
func TestLargeConfigMapFits(t *testing.T) {
	for _, routes := range []int{3000, 5000} {
		t.Run(fmt.Sprint(routes), func(t *testing.T) {
			files, err := render.Render(largeModel(routes))
			if err != nil {
				t.Fatal(err)
			}
			set := Objects(testOwner, testInfra(), files, Options{})
			rendered, stored := totalSize(files.Config), configMapSize(set.ConfigMap)
			t.Logf("%d routes: rendered %d bytes, ConfigMap %d bytes (%.1f×)", routes, rendered, stored, float64(rendered)/float64(stored))
			if stored > maxConfigMapBytes/2 {
				t.Errorf("ConfigMap of %d routes is %d bytes, want under half of %d", routes, stored, maxConfigMapBytes)
			}
			if plain := withoutSecretsHash(set.ConfigMap.Data); len(plain) != 0 {
				t.Errorf("a %d-byte config kept plain keys %v", rendered, slices.Sorted(maps.Keys(plain)))
			}
			decoded := decodeConfigMap(t, set.ConfigMap)
			if !maps.EqualFunc(decoded, files.Config, bytes.Equal) {
				t.Fatal("the ConfigMap does not decode to the rendered files")
			}
			merged := maps.Clone(decoded)
			maps.Copy(merged, set.Secret.Data)
			if got, want := dataplane.Hash(merged), ConfigHash(files); got != want {
				t.Errorf("hash of the decoded ConfigMap and Secret %s, ConfigHash %s", got, want)
			}
			again := Objects(testOwner, testInfra(), files, Options{}).ConfigMap
			if !maps.EqualFunc(set.ConfigMap.BinaryData, again.BinaryData, bytes.Equal) {
				t.Error("building twice gives different ConfigMap bytes")
			}
		})
	}
}

// TestEncodeConfigKeepingReusesOnlyTheSameFiles: after a change of one file,
// the unchanged file keeps the earlier compressed bytes (the same slice),
// and the result is EncodeConfig's, byte for byte, whatever the earlier
// compressed sizes that size the buffers.
func TestEncodeConfigKeepingReusesOnlyTheSameFiles(t *testing.T) {
	files, err := render.Render(largeModel(1000))
	if err != nil {
		t.Fatal(err)
	}
	first := EncodeConfig(files.Config)
	changed := maps.Clone(files.Config)
	changed["servers.conf"] = append(slices.Clone(changed["servers.conf"]), "# changed\n"...)
	same := SameFiles(changed, files.Config)
	if same["servers.conf"] || !same["upstreams.conf"] {
		t.Fatalf("SameFiles named %v", slices.Sorted(maps.Keys(same)))
	}
	got := EncodeConfigKeeping(changed, same, first)
	if want := EncodeConfig(changed); !maps.EqualFunc(got.Binary, want.Binary, bytes.Equal) || got.Data != nil {
		t.Error("EncodeConfigKeeping differs from EncodeConfig")
	}
	if &got.Binary["upstreams.conf.gz"][0] != &first.Binary["upstreams.conf.gz"][0] {
		t.Error("an unchanged file was compressed again")
	}
}

func BenchmarkConfigMap5000Routes(b *testing.B) {
	files, err := render.Render(largeModel(5000))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(totalSize(files.Config)))
	for b.Loop() {
		EncodeConfig(files.Config)
	}
}

// largeModel is a Gateway of n hostnames, each with one HTTPRoute of two
// rules (a canary matched by header and query parameter, and a default)
// and its own Service: the shape of operator/render's benchmark.
func largeModel(n int) *model.Gateway {
	gw := &model.Gateway{Namespace: "default", Name: "large", Settings: model.Settings{
		WorkerConnections: 512, AccessLogFormat: "json", WorkerShutdownTimeoutSeconds: 10,
	}}
	gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{Port: 80, Default: true})
	for i := range n {
		up := model.Upstream{
			Name: fmt.Sprintf("default_svc%d_80", i), ServiceNamespace: "default", ServiceName: fmt.Sprintf("svc%d", i), ServicePort: 80,
			Protocol: model.ProtocolHTTP1,
		}
		gw.Upstreams = append(gw.Upstreams, up)
		routeRef := func(rule int) model.RouteRef {
			return model.RouteRef{Kind: "HTTPRoute", Namespace: "default", Name: fmt.Sprintf("route-%d", i), RuleIndex: rule}
		}
		backends := []model.Backend{{Upstream: up.Name, Weight: 1}}
		main := &model.Rule{ID: fmt.Sprintf("r%d", 2*i), Route: routeRef(0), Backends: backends}
		canary := &model.Rule{ID: fmt.Sprintf("r%d", 2*i+1), Route: routeRef(1), Backends: backends,
			RequestHeaders: model.HeaderModifier{Set: []model.Header{{Name: "X-Canary", Value: "1"}}}}
		gw.HTTPServers = append(gw.HTTPServers, model.HTTPServer{
			Port: 80, Hostname: fmt.Sprintf("app-%d.a-rather-long-domain-name-for-testing.example.com", i),
			Locations: []model.Location{
				{Path: "/api", Match: model.PathPrefix, Candidates: []model.Candidate{
					{Rule: canary, Conditions: []model.Condition{
						{Kind: model.ConditionHeader, Name: "x-canary", Value: "yes"},
						{Kind: model.ConditionQueryParam, Name: "v", Value: fmt.Sprint(i)},
					}},
					{Rule: main},
				}},
				{Path: "/", Match: model.PathPrefix, Candidates: []model.Candidate{{Rule: main}}},
			},
		})
	}
	return gw
}

// withoutSecretsHash is a ConfigMap's data without dataplane.SecretsHashKey.
func withoutSecretsHash(data map[string]string) map[string]string {
	out := maps.Clone(data)
	delete(out, dataplane.SecretsHashKey)
	return out
}

// decodeConfigMap is the ConfigMap's files as the sidecar writes them.
func decodeConfigMap(t *testing.T, cm *corev1.ConfigMap) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, text := range cm.Data {
		if strings.HasPrefix(name, ".") {
			continue // dataplane.SecretsHashKey: the sidecar reads no hidden key as a file
		}
		out[name] = []byte(text)
	}
	for key, content := range cm.BinaryData {
		name, compressed := strings.CutSuffix(key, dataplane.GzipSuffix)
		if !compressed {
			out[key] = content
			continue
		}
		zr, err := gzip.NewReader(bytes.NewReader(content))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if _, dup := out[name]; dup {
			t.Fatalf("%s is stored twice", name)
		}
		out[name] = plain
	}
	return out
}

func configMapSize(cm *corev1.ConfigMap) int {
	n := 0
	for _, v := range cm.Data {
		n += len(v)
	}
	return n + totalSize(cm.BinaryData)
}

func totalSize(files map[string][]byte) int {
	n := 0
	for _, v := range files {
		n += len(v)
	}
	return n
}
