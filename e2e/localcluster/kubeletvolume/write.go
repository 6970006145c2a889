package kubeletvolume

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File is one file of a volume.
type File struct {
	Data []byte
	Mode fs.FileMode
}

const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
)

// Write makes dir hold exactly files (relative path → file) as one atomic
// update, in the kubelet's layout:
//
//	dir/..2026_11_25_18_45_22.123456789/<files>   the payload
//	dir/..data -> ..2026_11_25_…                  swapped by rename
//	dir/<key>  -> ..data/<key>                    one per top-level name
//
// A reader never sees a half-written payload. Like the kubelet it does
// nothing when the content and modes are unchanged; it returns whether
// anything changed.
func Write(dir string, files map[string]File) (bool, error) {
	for name := range files {
		if err := validPath(name); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	oldVersion, _ := os.Readlink(filepath.Join(dir, dataLink))
	if oldVersion != "" && sameFiles(filepath.Join(dir, oldVersion), files) {
		return false, nil
	}
	// 1. The new version in a fresh timestamped folder.
	version, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(version, 0o755); err != nil {
		return false, err
	}
	for name, f := range files {
		p := filepath.Join(version, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return false, err
		}
		if err := os.WriteFile(p, f.Data, f.Mode); err != nil {
			return false, err
		}
		// WriteFile's mode is filtered by the umask; the volume's mode is not.
		if err := os.Chmod(p, f.Mode); err != nil {
			return false, err
		}
	}
	// 2. Swap `..data` atomically: a temporary symlink renamed over it.
	tmpLink := filepath.Join(dir, newDataLink)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(version), tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
	// 3. Per-key symlinks for new top-level names; existing ones already
	// resolve through `..data`.
	top := map[string]bool{}
	for name := range files {
		first, _, _ := strings.Cut(filepath.ToSlash(name), "/")
		top[first] = true
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if target, err := os.Readlink(link); err == nil && target == filepath.Join(dataLink, name) {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return false, err
		}
	}
	// 4. Names that went away, then the old versions.
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	var oldVersions []string
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataLink || name == filepath.Base(version):
		case strings.HasPrefix(name, ".."):
			oldVersions = append(oldVersions, name)
		case !top[name]:
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
				return false, err
			}
		}
	}
	for _, name := range oldVersions {
		// Gone once ..data no longer points at them.
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return false, err
		}
	}
	return true, nil
}

// WriteKeys is Write for a ConfigMap or Secret volume without items: flat
// keys, all with the same mode.
func WriteKeys(dir string, keys map[string][]byte, mode fs.FileMode) error {
	files := make(map[string]File, len(keys))
	for name, data := range keys {
		if strings.ContainsRune(name, '/') {
			return fmt.Errorf("invalid key %q: a key is a flat name", name)
		}
		files[name] = File{Data: data, Mode: mode}
	}
	_, err := Write(dir, files)
	return err
}

// validPath rejects what the kubelet rejects: empty and absolute paths, `..`
// elements, and names starting with `..` (they would collide with the
// writer's own `..data` and version folders).
func validPath(name string) error {
	if name == "" || filepath.IsAbs(name) || strings.HasPrefix(name, "..") {
		return fmt.Errorf("invalid path %q", name)
	}
	for _, elem := range strings.Split(filepath.ToSlash(name), "/") {
		if elem == ".." || elem == "." || elem == "" {
			return fmt.Errorf("invalid path %q", name)
		}
	}
	return nil
}

// sameFiles reports whether the version folder holds exactly files.
func sameFiles(version string, files map[string]File) bool {
	seen := 0
	same := true
	err := filepath.WalkDir(version, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(version, p)
		want, ok := files[rel]
		if !ok {
			same = false
			return fs.SkipAll
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		got, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if info.Mode().Perm() != want.Mode.Perm() || !bytes.Equal(got, want.Data) {
			same = false
			return fs.SkipAll
		}
		seen++
		return nil
	})
	return err == nil && same && seen == len(files)
}
