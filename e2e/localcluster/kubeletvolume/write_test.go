package kubeletvolume

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	steps := []struct {
		name        string
		files       map[string]File
		wantChanged bool
		wantLinks   []string // top-level symlinks besides ..data
	}{
		{"first payload", map[string]File{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}, true, []string{"a", "sub"}},
		{"same payload", map[string]File{"a": {[]byte("1"), 0o644}, "sub/b": {[]byte("2"), 0o600}}, false, []string{"a", "sub"}},
		{"mode change only", map[string]File{"a": {[]byte("1"), 0o640}, "sub/b": {[]byte("2"), 0o600}}, true, []string{"a", "sub"}},
		{"key removed, key added", map[string]File{"a": {[]byte("1b"), 0o644}, "c": {[]byte("3"), 0o644}}, true, []string{"a", "c"}},
		{"empty", map[string]File{}, true, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			changed, err := Write(dir, s.files)
			if err != nil {
				t.Fatal(err)
			}
			if changed != s.wantChanged {
				t.Errorf("changed = %v, want %v", changed, s.wantChanged)
			}
			target, err := os.Readlink(filepath.Join(dir, "..data"))
			if err != nil || !strings.HasPrefix(target, "..20") {
				t.Fatalf("..data -> %q (%v), want a timestamped folder", target, err)
			}
			entries, _ := os.ReadDir(dir)
			var links, payloads []string
			for _, e := range entries {
				switch {
				case e.Name() == "..data":
				case strings.HasPrefix(e.Name(), "..20"):
					payloads = append(payloads, e.Name())
				default:
					links = append(links, e.Name())
					dest, err := os.Readlink(filepath.Join(dir, e.Name()))
					if err != nil || dest != filepath.Join("..data", e.Name()) {
						t.Errorf("%s -> %q (%v), want ..data/%s", e.Name(), dest, err, e.Name())
					}
				}
			}
			sort.Strings(links)
			if strings.Join(links, ",") != strings.Join(s.wantLinks, ",") {
				t.Errorf("links %v, want %v", links, s.wantLinks)
			}
			if len(payloads) != 1 || payloads[0] != target {
				t.Errorf("payload folders %v, want only %s", payloads, target)
			}
			for name, f := range s.files {
				p := filepath.Join(dir, name)
				got, err := os.ReadFile(p)
				if err != nil || string(got) != string(f.Data) {
					t.Errorf("%s = %q (%v), want %q", name, got, err, f.Data)
				}
				if info, err := os.Stat(p); err != nil || info.Mode().Perm() != f.Mode {
					t.Errorf("%s mode %v, want %v", name, info.Mode().Perm(), f.Mode)
				}
			}
		})
	}
}

// TestWriteKeys checks a flat ConfigMap or Secret volume: one mode for
// every key, removed keys gone.
func TestWriteKeys(t *testing.T) {
	dir := t.TempDir()
	for _, keys := range []map[string][]byte{
		{"a.conf": []byte("1"), "b.conf": []byte("2")},
		{"a.conf": []byte("3")},
	} {
		if err := WriteKeys(dir, keys, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link, err := os.Readlink(filepath.Join(dir, "a.conf"))
	if err != nil || link != "..data/a.conf" {
		t.Errorf("a.conf -> %q (%v), want ..data/a.conf", link, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "a.conf")); err != nil || string(got) != "3" {
		t.Errorf("a.conf = %q (%v), want 3", got, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "b.conf")); !os.IsNotExist(err) {
		t.Errorf("removed key b.conf still there (%v)", err)
	}
	st, err := os.Stat(filepath.Join(dir, "a.conf"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a.conf mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	if err := WriteKeys(dir, map[string][]byte{"sub/x": nil}, 0o600); err == nil {
		t.Error("a key with a slash was accepted")
	}
}

func TestWriteRejectsInvalidPaths(t *testing.T) {
	for _, name := range []string{"", "..x", "..data", "/abs", "a/../b", "a/./b", "a//b"} {
		if _, err := Write(t.TempDir(), map[string]File{name: {Data: []byte("x"), Mode: 0o644}}); err == nil {
			t.Errorf("path %q was accepted", name)
		}
	}
}
