package mount

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dataLink is the symlink the kubelet swaps to publish a new version.
const dataLink = "..data"

// readAttempts bounds the retries when the kubelet swaps versions while we read.
const readAttempts = 5

// File is one key of a mounted ConfigMap or Secret.
type File struct {
	Data []byte
	// Mode is the file's permission bits as mounted (the volume's defaultMode
	// or item mode); the staging copy keeps them.
	Mode fs.FileMode
}

// Read returns the visible files of a mount folder: names that do not start
// with "." and are regular files (followed through symlinks). When the
// folder is kubelet-managed, it reads the version `..data` points at and
// checks that `..data` did not move meanwhile, so the result never mixes two
// versions; a plain folder is read as it is.
func Read(dir string) (map[string]File, error) {
	files, _, err := ReadWithKey(dir, "")
	return files, err
}

// ReadWithKey is Read that also returns the content of the hidden key
// (a name starting with "." that Read skips) from the same version as the
// files; nil when there is no such key (or key is "").
func ReadWithKey(dir, key string) (_ map[string]File, keyData []byte, _ error) {
	var lastErr error
	for range readAttempts {
		target, err := os.Readlink(filepath.Join(dir, dataLink))
		if errors.Is(err, fs.ErrNotExist) {
			files, err := readVisible(dir)
			if err != nil {
				return nil, nil, err
			}
			keyData, err := readKey(dir, key)
			return files, keyData, err
		}
		if err != nil {
			return nil, nil, err
		}
		version := target
		if !filepath.IsAbs(version) {
			version = filepath.Join(dir, target)
		}
		files, err := readVisible(version)
		if err == nil {
			keyData, err = readKey(version, key)
		}
		if err != nil {
			// The kubelet removes the old version right after the swap.
			lastErr = err
			continue
		}
		again, err := os.Readlink(filepath.Join(dir, dataLink))
		if err == nil && again == target {
			return files, keyData, nil
		}
		lastErr = fmt.Errorf("%s changed while reading", filepath.Join(dir, dataLink))
	}
	return nil, nil, fmt.Errorf("reading %s: %w", dir, lastErr)
}

// readKey reads the file key of dir; nil when key is "" or not there.
func readKey(dir, key string) ([]byte, error) {
	if key == "" {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// readVisible reads the regular files of one folder, skipping hidden names
// (the kubelet's own entries) and sub-folders (keys are flat names).
func readVisible(dir string) (map[string]File, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	files := make(map[string]File, len(entries))
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		path := filepath.Join(dir, name)
		info, err := os.Stat(path) // follows the per-key symlink
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		files[name] = File{Data: data, Mode: info.Mode().Perm()}
	}
	return files, nil
}

// Contents is the files' bytes by name, what dataplane.Hash takes.
func Contents(files map[string]File) map[string][]byte {
	out := make(map[string][]byte, len(files))
	for name, f := range files {
		out[name] = f.Data
	}
	return out
}
