package render

import (
	"bytes"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func regexpQuote(s string) string { return regexp.QuoteMeta(s) }

// merged is the flat tree the sidecar builds: config and secret files in
// one folder.
func merged(f Files) map[string][]byte {
	out := map[string][]byte{}
	maps.Copy(out, f.Config)
	maps.Copy(out, f.Secret)
	return out
}

func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGolden renders every case, compares it byte for byte with
// testdata/<case>/ and checks it with `nginx -t`.
func TestGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			files, err := Render(tc.gw(t))
			if err != nil {
				t.Fatal(err)
			}
			tree := merged(files)
			dir := filepath.Join("testdata", tc.name)
			if *update {
				if err := os.RemoveAll(dir); err != nil {
					t.Fatal(err)
				}
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				writeTree(t, dir, tree)
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("%v (run go test ./operator/render -update)", err)
			}
			var onDisk []string
			for _, e := range entries {
				onDisk = append(onDisk, e.Name())
			}
			rendered := slices.Sorted(maps.Keys(tree))
			if !slices.Equal(onDisk, rendered) {
				t.Fatalf("files: rendered %v, golden %v", rendered, onDisk)
			}
			for _, name := range rendered {
				want, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(want, tree[name]) {
					t.Errorf("%s differs from golden (run go test ./operator/render -update and review the diff):\n%s", name, tree[name])
				}
			}
			for name := range files.Secret {
				if _, ok := files.Config[name]; ok {
					t.Errorf("%s is in both Config and Secret", name)
				}
			}
			for name, data := range files.Config {
				if bytes.Contains(data, []byte("PRIVATE KEY")) {
					t.Errorf("%s: a private key in the ConfigMap", name)
				}
			}
			tmp := t.TempDir()
			writeTree(t, tmp, tree)
			// Strict: nginx warnings (e.g. a conflicting server name) fail too.
			if err := testenv.NginxTestStrict(tmp); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestDeterministic renders each case twice (from separately built
// models) and expects identical files.
func TestDeterministic(t *testing.T) {
	for _, tc := range goldenCases() {
		a, err := Render(tc.gw(t))
		if err != nil {
			t.Fatal(err)
		}
		b, err := Render(tc.gw(t))
		if err != nil {
			t.Fatal(err)
		}
		ma, mb := merged(a), merged(b)
		if len(ma) != len(mb) {
			t.Fatalf("%s: %d files, then %d", tc.name, len(ma), len(mb))
		}
		for name := range ma {
			if !bytes.Equal(ma[name], mb[name]) {
				t.Errorf("%s: %s differs between two renders", tc.name, name)
			}
		}
	}
}
