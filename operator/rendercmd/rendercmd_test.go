package rendercmd

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestRenderGolden(t *testing.T) {
	tests := []struct {
		name    string
		inputs  []string
		golden  string
		gateway string // ns/name whose tree must pass nginx -t
		skipped []string
	}{
		{
			name:    "folder",
			inputs:  []string{"testdata/basic"},
			golden:  "testdata/basic.golden.yaml",
			gateway: "apps/web",
			skipped: []string{"ServiceAccount"},
		},
		{
			name:    "files",
			inputs:  []string{"testdata/basic/gateway.yaml", "testdata/basic/backends.yaml", "testdata/basic/routes.yml", "testdata/basic/stream-routes.yaml"},
			golden:  "testdata/basic.golden.yaml",
			gateway: "apps/web",
			skipped: []string{"ServiceAccount"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := t.TempDir()
			var stdout, stderr bytes.Buffer
			if err := Run(tt.inputs, out, &stdout, &stderr); err != nil {
				t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
			}
			for _, kind := range tt.skipped {
				if !strings.Contains(stderr.String(), kind) {
					t.Errorf("stderr does not mention the skipped %s: %q", kind, stderr.String())
				}
			}
			testenv.Golden(t, tt.golden, stdout.Bytes(), *update)

			tree := filepath.Join(out, filepath.FromSlash(tt.gateway))
			if _, err := os.Stat(filepath.Join(tree, "nginx.conf")); err != nil {
				t.Fatalf("no nginx.conf in %s: %v", tree, err)
			}
			keys, _ := filepath.Glob(filepath.Join(tree, "*.key"))
			if len(keys) == 0 {
				t.Errorf("no TLS key written next to nginx.conf in %s", tree)
			}
			testenv.RequireNginxTest(t, tree)

			// Same input, same bytes: statuses and files.
			again := t.TempDir()
			var stdout2 bytes.Buffer
			if err := Run(tt.inputs, again, &stdout2, &bytes.Buffer{}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stdout.Bytes(), stdout2.Bytes()) {
				t.Error("two runs printed different statuses")
			}
			requireSameTree(t, tree, filepath.Join(again, filepath.FromSlash(tt.gateway)))
		})
	}
}

// TestRenderSamples renders the samples users apply (config/samples, a
// folder that also holds a kustomization.yaml) and checks the tree with nginx.
func TestRenderSamples(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := Run([]string{filepath.Join(testenv.RepoRoot(), "config", "samples")}, out, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "reason: Programmed") {
		t.Errorf("the sample Gateway is not Programmed:\n%s", stdout.String())
	}
	testenv.RequireNginxTest(t, filepath.Join(out, "default", "gateway"))
}

func requireSameTree(t *testing.T, a, b string) {
	t.Helper()
	entries, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadDir(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(other) {
		t.Fatalf("%d files vs %d", len(entries), len(other))
	}
	for _, e := range entries {
		x, err := os.ReadFile(filepath.Join(a, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", e.Name())
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "no input", args: nil, want: 2},
		{name: "unknown flag", args: []string{"-x"}, want: 2},
		{name: "stray argument", args: []string{"-f", "testdata/basic", "extra"}, want: 2},
		{name: "missing file", args: []string{"-f", "testdata/does-not-exist.yaml"}, want: 1},
		{name: "broken YAML", args: []string{"-f", "testdata/broken.yaml"}, want: 1},
		{name: "statuses only", args: []string{"-f", "testdata/basic"}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := Main(tt.args, &stdout, &stderr); got != tt.want {
				t.Errorf("exit code %d, want %d; stderr: %s", got, tt.want, stderr.String())
			}
		})
	}
}

func TestReadInputDefaults(t *testing.T) {
	dir := t.TempDir()
	doc := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: r
spec: {}
---
apiVersion: v1
kind: Namespace
metadata:
  name: given
---
apiVersion: v1
kind: Secret
metadata:
  name: s
  namespace: given
stringData:
  a: b
`
	if err := os.WriteFile(filepath.Join(dir, "in.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	in, skipped, err := ReadInput([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 0 {
		t.Errorf("skipped %v", skipped)
	}
	if len(in.HTTPRoutes) != 1 || in.HTTPRoutes[0].Namespace != "default" {
		t.Errorf("route without namespace: %+v", in.HTTPRoutes)
	}
	if len(in.Secrets) != 1 || string(in.Secrets[0].Data["a"]) != "b" {
		t.Errorf("stringData not moved to data: %+v", in.Secrets)
	}
	names := map[string]string{}
	for _, ns := range in.Namespaces {
		names[ns.Name] = ns.Labels["kubernetes.io/metadata.name"]
	}
	if names["default"] != "default" || names["given"] != "given" || len(names) != 2 {
		t.Errorf("namespaces %v", names)
	}
}

// TestReadInputSkipsUnknownKinds: documents of kinds the translation step
// does not read (a CRD, another project's resource) are skipped and named,
// not an error.
func TestReadInputSkipsUnknownKinds(t *testing.T) {
	dir := t.TempDir()
	doc := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: httproutes.gateway.networking.k8s.io
---
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
`
	if err := os.WriteFile(filepath.Join(dir, "in.yaml"), []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	_, skipped, err := ReadInput([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 2 || !strings.HasSuffix(skipped[0], "document 0: CustomResourceDefinition") || !strings.HasSuffix(skipped[1], "document 1: Widget") {
		t.Errorf("skipped = %q, want the CRD and the Widget named", skipped)
	}
}

// TestIssue8Regexes renders path regexes that RE2 accepts and nginx's
// PCRE2 refused (a class range from \pL, 260 nested groups, a group
// repeated into a pattern too large) or could backtrack on without bound:
// each is refused with a message naming the field, or translated exactly
// (the nested groups: captures are dropped), and the Gateway's config
// passes nginx -t with the other routes in it.
func TestIssue8Regexes(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if err := Run([]string{"testdata/issue8-regex.yaml"}, out, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr: %s", err, stderr.String())
	}
	statuses := strings.Join(strings.Fields(stdout.String()), " ") // YAML folds long messages
	for _, want := range []string{
		"spec.rules[0].matches[0].path.value: regular expression is",                  // unicode-range: too long once spelled as UTF-8 bytes
		"spec.rules[0].matches[0].path.value: regular expression too large for nginx", // too-large: PCRE2 copies the group 150 times
		"PCRE would backtrack exponentially",                                          // backtracking
	} {
		if !strings.Contains(statuses, want) {
			t.Errorf("statuses do not say %q:\n%s", want, statuses)
		}
	}
	if n := strings.Count(statuses, "reason: UnsupportedValue"); n != 3 {
		t.Errorf("%d routes refused, want 3 (unicode-range, too-large, backtracking):\n%s", n, statuses)
	}
	tree := filepath.Join(out, "apps", "web")
	files, _ := filepath.Glob(filepath.Join(tree, "*.conf"))
	var config strings.Builder
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		config.Write(b)
	}
	for _, host := range []string{"nested-groups.example", "ok.example"} {
		if !strings.Contains(config.String(), host) {
			t.Errorf("the config does not serve %s", host)
		}
	}
	testenv.RequireNginxTest(t, tree)
}
