package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/hack/bundle/bundlegen"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// makefileBundleOptions are the options `make bundle` generates with: the
// flags `make print-bundle-flags` prints, with none of the Makefile's
// variables taken from the environment.
func makefileBundleOptions(t *testing.T) bundlegen.Options {
	t.Helper()
	cmd := exec.Command("make", "-s", "--no-print-directory", "print-bundle-flags")
	cmd.Dir = testenv.RepoRoot()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make print-bundle-flags: %v", err)
	}
	opts, err := bundlegen.ParseFlags("bundle", strings.Fields(string(out)))
	if err != nil {
		t.Fatalf("parsing the Makefile's bundle flags %q: %v", out, err)
	}
	opts.ConfigDir = filepath.Join(testenv.RepoRoot(), opts.ConfigDir)
	return opts
}

// generated is the bundle `make bundle` would write now.
func generated(t *testing.T) (bundlegen.Options, *bundlegen.Result) {
	t.Helper()
	opts := makefileBundleOptions(t)
	result, err := bundlegen.Generate(opts)
	if err != nil {
		t.Fatalf("generating the bundle: %v", err)
	}
	return opts, result
}

// envValue is the literal value of the env var name, "" when absent.
func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}
