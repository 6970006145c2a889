package kubeletvolume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
)

// Write publishes files (flat key → content) in dir with the given mode, as
// one atomic update. Like the kubelet it does nothing when the content is
// unchanged.
func Write(dir string, files map[string][]byte, mode fs.FileMode) error {
	for name := range files {
		if name == "" || strings.HasPrefix(name, ".") || strings.ContainsRune(name, '/') {
			return fmt.Errorf("invalid key %q", name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	oldVersion, err := os.Readlink(filepath.Join(dir, dataLink))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	oldKeys := map[string]bool{}
	if oldVersion != "" {
		same, keys, err := compare(filepath.Join(dir, oldVersion), files)
		if err != nil {
			return err
		}
		if same {
			return nil
		}
		oldKeys = keys
	}

	// 1. The new version in a fresh timestamped folder.
	version, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return err
	}
	if err := os.Chmod(version, 0o755); err != nil {
		return err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(version, name), data, mode); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(version, name), mode); err != nil {
			return err
		}
	}
	// 2. Swap `..data` atomically: a temporary symlink renamed over it.
	tmpLink := filepath.Join(dir, newDataLink)
	_ = os.Remove(tmpLink)
	if err := os.Symlink(filepath.Base(version), tmpLink); err != nil {
		return err
	}
	if err := os.Rename(tmpLink, filepath.Join(dir, dataLink)); err != nil {
		return err
	}
	// 3. Per-key symlinks for new keys; existing ones already resolve
	// through `..data`.
	for name := range files {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); err == nil {
			continue
		}
		if err := os.Symlink(filepath.Join(dataLink, name), link); err != nil {
			return err
		}
	}
	// 4. Keys that went away, then the old version.
	for name := range oldKeys {
		if _, ok := files[name]; !ok {
			if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if oldVersion != "" {
		return os.RemoveAll(filepath.Join(dir, oldVersion))
	}
	return nil
}

// compare says whether the version folder holds exactly files, and lists its keys.
func compare(version string, files map[string][]byte) (bool, map[string]bool, error) {
	entries, err := os.ReadDir(version)
	if err != nil {
		return false, nil, err
	}
	keys := make(map[string]bool, len(entries))
	same := len(entries) == len(files)
	for _, e := range entries {
		keys[e.Name()] = true
		want, ok := files[e.Name()]
		if !ok {
			same = false
			continue
		}
		got, err := os.ReadFile(filepath.Join(version, e.Name()))
		if err != nil {
			return false, nil, err
		}
		same = same && bytes.Equal(got, want)
	}
	return same, keys, nil
}
