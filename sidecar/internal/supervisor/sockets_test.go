package supervisor

import (
	"net"
	"os"
	"path/filepath"
	"testing"
)

// TestClearSocketsRemovesStaleSockets: a socket file left by a killed
// nginx is removed before nginx starts (its bind would fail), other files
// stay, and a missing folder is created.
func TestClearSocketsRemovesStaleSockets(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sockets")
	if err := clearSockets(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tls-443-passthrough.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	// Closing a unix listener removes its file; keep it as a killed
	// process leaves it.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	other := filepath.Join(dir, "keep.txt")
	if err := os.WriteFile(other, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := clearSockets(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale socket is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is not a socket was removed: %v", err)
	}
	if l, err := net.Listen("unix", stale); err != nil {
		t.Errorf("binding the socket again: %v", err)
	} else {
		l.Close()
	}
}
