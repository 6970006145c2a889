package packaging

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// TestBundleAndCatalogMatchSources regenerates bundle/, bundle.Dockerfile
// and catalog/ in-process with the Makefile's options and fails on any
// difference with the committed files: run `make catalog` (which runs
// `make bundle`) after changing config/ or api/.
func TestBundleAndCatalogMatchSources(t *testing.T) {
	opts, result := generated(t)
	for _, d := range result.Files.Diff(testenv.RepoRoot(), bundlegen.BundleDir) {
		t.Errorf("%s; run `make bundle`", d)
	}
	catalog, err := bundlegen.Catalog(opts, result)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range catalog.Diff(testenv.RepoRoot(), bundlegen.CatalogDir) {
		t.Errorf("%s; run `make catalog`", d)
	}
}

// TestDiffSeesDrift shows the check above can fail: a changed, a missing
// and a stale file are each reported.
func TestDiffSeesDrift(t *testing.T) {
	_, result := generated(t)
	dir := t.TempDir()
	if err := result.Files.Write(dir); err != nil {
		t.Fatal(err)
	}
	if d := result.Files.Diff(dir, bundlegen.BundleDir); len(d) != 0 {
		t.Fatalf("fresh copy differs: %q", d)
	}
	paths := result.Files.Paths()
	if err := os.WriteFile(filepath.Join(dir, paths[0]), []byte("edited by hand\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, paths[1])); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, bundlegen.BundleDir, "manifests", "old.yaml"), []byte("x: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if d := result.Files.Diff(dir, bundlegen.BundleDir); len(d) != 3 {
		t.Errorf("diffs %q, want the edited, the missing and the stale file", d)
	}
}

// TestManifestsMatchMarkers runs `make manifests` (controller-gen, from the
// markers in api/ and operator/) in a copy of the repository and fails when
// the generated CRDs or config/rbac/role.yaml differ from the committed ones.
func TestManifestsMatchMarkers(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen on a copy of the repository")
	}
	copyDir := t.TempDir()
	if err := copyRepo(testenv.RepoRoot(), copyDir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "manifests")
	cmd.Dir = copyDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make manifests: %v\n%s", err, out)
	}
	for _, dir := range []string{"config/crd/bases", "config/rbac"} {
		committed := readTree(t, filepath.Join(testenv.RepoRoot(), dir))
		regenerated := readTree(t, filepath.Join(copyDir, dir))
		for name, b := range regenerated {
			if !bytes.Equal(committed[name], b) {
				t.Errorf("%s/%s differs from what `make manifests` generates; run it", dir, name)
			}
		}
		if dir == "config/crd/bases" {
			for name := range committed {
				if _, ok := regenerated[name]; !ok {
					t.Errorf("%s/%s is no longer generated from api/", dir, name)
				}
			}
		}
	}
}

// copyRepo copies the source tree (not .git, bin/, dist/) to dst.
func copyRepo(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "dist", "tmp":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, info.Mode().Perm())
	})
}

// readTree is the regular files directly in dir by name.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
	}
	return files
}
