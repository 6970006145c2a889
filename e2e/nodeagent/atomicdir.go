package nodeagent

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// volumeFile is one file of a ConfigMap, Secret, downward-API or projected
// volume.
type volumeFile struct {
	Data []byte
	Mode os.FileMode
}

const dataLink = "..data"

// writeAtomicDir makes dir hold exactly files (relative path → file) the way
// the kubelet's atomic writer does, so programs that watch volumes see what
// they would see in a real pod:
//
//	dir/..2026_11_25_18_45_22.123456789/<files>   the payload
//	dir/..data -> ..2026_11_25_…                  swapped by rename
//	dir/<key>  -> ..data/<key>                    one per top-level name
//
// A reader never sees a half-written payload. It returns whether anything
// changed.
func writeAtomicDir(dir string, files map[string]volumeFile) (bool, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	oldTarget, _ := os.Readlink(filepath.Join(dir, dataLink))
	if oldTarget != "" && sameFiles(filepath.Join(dir, oldTarget), files) {
		return false, nil
	}
	tsDir, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(tsDir, 0o755); err != nil {
		return false, err
	}
	for name, f := range files {
		p := filepath.Join(tsDir, name)
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
	tmpLink := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		return false, err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return false, err
	}
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
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false, err
	}
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == dataLink || name == filepath.Base(tsDir):
		case strings.HasPrefix(name, ".."):
			// Earlier payloads: gone once ..data no longer points at them.
			_ = os.RemoveAll(filepath.Join(dir, name))
		case !top[name]:
			_ = os.Remove(filepath.Join(dir, name))
		}
	}
	return true, nil
}

// sameFiles reports whether payload dir holds exactly files.
func sameFiles(dir string, files map[string]volumeFile) bool {
	seen := 0
	same := true
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
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
