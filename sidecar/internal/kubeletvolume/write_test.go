package kubeletvolume

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLayout checks the layout the kubelet produces: `..data` points at
// one timestamped folder; every key is a symlink through `..data`.
func TestLayout(t *testing.T) {
	dir := t.TempDir()
	for _, files := range []map[string][]byte{
		{"a.conf": []byte("1"), "b.conf": []byte("2")},
		{"a.conf": []byte("3")},
	} {
		if err := Write(dir, files, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.Readlink(filepath.Join(dir, "..data"))
	if err != nil || !strings.HasPrefix(data, "..20") {
		t.Fatalf("..data -> %q (%v), want a timestamped folder", data, err)
	}
	link, err := os.Readlink(filepath.Join(dir, "a.conf"))
	if err != nil || link != "..data/a.conf" {
		t.Errorf("a.conf -> %q (%v), want ..data/a.conf", link, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b.conf")); !os.IsNotExist(err) {
		t.Errorf("removed key b.conf still there (%v)", err)
	}
	st, err := os.Stat(filepath.Join(dir, "a.conf"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a.conf mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if err := Write(dir, map[string][]byte{"..x": nil}, 0o600); err == nil {
		t.Error("a hidden key was accepted")
	}
}
