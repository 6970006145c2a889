package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestGolden: -update writes the file, an equal output passes, and a
// different one fails (checked on a recording testing.TB).
func TestGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "out.txt")
	Golden(t, path, []byte("a\nb\n"), true)
	if data, err := os.ReadFile(path); err != nil || string(data) != "a\nb\n" {
		t.Fatalf("update wrote %q, %v", data, err)
	}
	Golden(t, path, []byte("a\nb\n"), false)
	rec := &recordingTB{TB: t}
	Golden(rec, path, []byte("a\nc\n"), false)
	if !rec.failed {
		t.Error("a different output passed")
	}
}

type recordingTB struct {
	testing.TB
	failed bool
}

func (r *recordingTB) Errorf(string, ...any) { r.failed = true }
func (r *recordingTB) Helper()               {}
