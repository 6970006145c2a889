package nginxproc

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestReloadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "reload.fifo")
	if err := RequestReload(path); err == nil {
		t.Fatal("a request without a FIFO succeeded")
	}
	requests, stop, err := ListenReloads(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != ReloadFIFOMode {
		t.Fatalf("FIFO %v %v", fi.Mode(), err)
	}
	for i := 0; i < 3; i++ {
		if err := RequestReload(path); err != nil {
			t.Fatal(err)
		}
		select {
		case <-requests:
		case <-time.After(5 * time.Second):
			t.Fatalf("request %d not received", i)
		}
	}
	// A burst never blocks the writer, and gives at least one reload.
	for i := 0; i < 1000; i++ {
		if err := RequestReload(path); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-requests:
	case <-time.After(5 * time.Second):
		t.Fatal("burst not received")
	}
	stop()
	if err := RequestReload(path); err == nil {
		t.Error("a request after stop succeeded")
	}
}
