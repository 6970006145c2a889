package apply

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/metrics"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// These tests cover what happens before nginx is involved; the sidecar's
// package tests run the whole path with the real nginx. The nginx binary
// here does not exist, so any call to it fails the apply.

func newApplier(t *testing.T, run string) (*Applier, Config) {
	t.Helper()
	return newApplierWith(t, run, func(*Config) {})
}

func newApplierWith(t testing.TB, run string, change func(*Config)) (*Applier, Config) {
	t.Helper()
	root := t.TempDir()
	cfg := Config{
		ConfigDir: filepath.Join(root, "config"), SecretDir: filepath.Join(root, "secrets"),
		StagingDir: filepath.Join(run, "configs"), LivePath: filepath.Join(run, "live"), PidFile: filepath.Join(run, "nginx.pid"),
		Nginx: "/nonexistent/nginx", EmergLog: &nginxproc.EmergLog{Path: filepath.Join(run, "emerg.log")},
		ValidateTimeout: time.Second, ReloadTimeout: time.Second,
		Metrics: metrics.New(""), Log: logr.Discard(),
	}
	change(&cfg)
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a, cfg
}

func TestConflictingNamesAreRefused(t *testing.T) {
	a, cfg := newApplier(t, t.TempDir())
	if err := kubeletvolume.WriteKeys(cfg.ConfigDir, map[string][]byte{"nginx.conf": []byte("x"), "tls.crt": []byte("c")}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := kubeletvolume.WriteKeys(cfg.SecretDir, map[string][]byte{"tls.crt": []byte("other")}, 0o600); err != nil {
		t.Fatal(err)
	}
	res := a.Apply(context.Background())
	if res.Err == nil || !strings.Contains(res.Message, `"tls.crt" is in both`) || res.Transient {
		t.Fatalf("got %+v, want a lasting refusal naming tls.crt", res)
	}
	if again := a.Apply(context.Background()); again.Changed {
		t.Errorf("the refused config was tried again: %+v", again)
	}
}

// TestLiveTreeFoundAtStart: after a container restart the live tree is the
// applied config; the same mounts need no validation or reload.
func TestLiveTreeFoundAtStart(t *testing.T) {
	run := t.TempDir()
	files := map[string][]byte{"nginx.conf": []byte("events {}"), "tls.key": []byte("k")}
	stage := filepath.Join(run, "configs", dataplane.Hash(files))
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stale := filepath.Join(run, "configs", "0123456789abcdef")
	if err := os.MkdirAll(stale, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("configs/"+dataplane.Hash(files), filepath.Join(run, "live")); err != nil {
		t.Fatal(err)
	}
	a, cfg := newApplier(t, run)
	if a.Applied() != dataplane.Hash(files) {
		t.Fatalf("applied %q, want the live tree's hash %q", a.Applied(), dataplane.Hash(files))
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale staging folder kept (%v)", err)
	}
	if err := kubeletvolume.WriteKeys(cfg.ConfigDir, map[string][]byte{"nginx.conf": files["nginx.conf"]}, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := kubeletvolume.WriteKeys(cfg.SecretDir, map[string][]byte{"tls.key": files["tls.key"]}, 0o600); err != nil {
		t.Fatal(err)
	}
	if res := a.Apply(context.Background()); res.Changed || res.Err != nil {
		t.Errorf("mounts equal to the live tree: %+v, want nothing done", res)
	}
}

// TestStagingModes: a staged tree is readable by its owner (the sidecar)
// and group (nginx), by nobody else, whatever the mounted modes; nginx's
// temp folders exist in it, writable through the group.
func TestStagingModes(t *testing.T) {
	a, _ := newApplier(t, t.TempDir())
	dir, err := a.stage("h", fileSet{
		"nginx.conf": {data: "x", mode: 0o644},
		"tls.key":    {data: "k", mode: 0o600},
	}.files())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]os.FileMode{".": dataplane.StagedDirMode, "nginx.conf": dataplane.StagedFileMode, "tls.key": dataplane.StagedFileMode}
	for _, name := range dataplane.TempDirs {
		want[name] = dataplane.TempDirMode
	}
	for name, mode := range want {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil || st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v (%v), want %v", name, st.Mode().Perm(), err, mode)
		}
	}
}

// TestHalfSwappedMountsWait: a ConfigMap whose dataplane.SecretsHashKey
// names other Secret files than the Secret mount holds is neither applied
// nor refused (Incomplete); once the Secret matches, it is applied (here:
// reaches nginx -t, which this test's missing nginx fails).
func TestHalfSwappedMountsWait(t *testing.T) {
	a, cfg := newApplier(t, t.TempDir())
	newSecret := map[string][]byte{"tls.crt": []byte("new")}
	config := map[string][]byte{"nginx.conf": []byte("x"), dataplane.SecretsHashKey: []byte(dataplane.Hash(newSecret))}
	if err := kubeletvolume.WriteKeys(cfg.ConfigDir, config, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := kubeletvolume.WriteKeys(cfg.SecretDir, map[string][]byte{"tls.crt": []byte("old")}, 0o600); err != nil {
		t.Fatal(err)
	}
	res := a.Apply(context.Background())
	if !res.Incomplete || res.Changed || res.Err != nil || res.Hash != "" {
		t.Fatalf("half-swapped mounts: got %+v, want Incomplete and nothing done", res)
	}
	if entries, _ := os.ReadDir(cfg.StagingDir); len(entries) != 0 {
		t.Errorf("half-swapped mounts were staged: %d folders", len(entries))
	}
	if err := kubeletvolume.WriteKeys(cfg.SecretDir, newSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	res = a.Apply(context.Background())
	want := dataplane.Hash(map[string][]byte{"nginx.conf": []byte("x"), "tls.crt": []byte("new")})
	if res.Incomplete || !res.Changed || res.Hash != want {
		t.Errorf("matching mounts: got %+v, want the config (hash %s, without the hidden key) tried", res, want)
	}
}
