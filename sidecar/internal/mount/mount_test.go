package mount

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
)

func TestReadKubeletVolume(t *testing.T) {
	for _, tc := range []struct {
		name     string
		versions []map[string]string
	}{
		{"first version", []map[string]string{{"nginx.conf": "a", "routes.conf": "b"}}},
		{"changed content", []map[string]string{{"nginx.conf": "a"}, {"nginx.conf": "a2"}}},
		{"key added", []map[string]string{{"nginx.conf": "a"}, {"nginx.conf": "a", "x.conf": "x"}}},
		{"key removed", []map[string]string{{"nginx.conf": "a", "x.conf": "x"}, {"nginx.conf": "a"}}},
		{"emptied", []map[string]string{{"nginx.conf": "a"}, {}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var last map[string]string
			for _, v := range tc.versions {
				if err := kubeletvolume.WriteKeys(dir, bytesMap(v), 0o640); err != nil {
					t.Fatal(err)
				}
				last = v
			}
			got, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(last) {
				t.Errorf("read %d files, want %d: %v", len(got), len(last), got)
			}
			for name, want := range last {
				if string(got[name].Data) != want || got[name].Mode != 0o640 {
					t.Errorf("%s: %q %v, want %q 0640", name, got[name].Data, got[name].Mode, want)
				}
			}
			// Only the kubelet's own entries are hidden; one version remains.
			entries, _ := os.ReadDir(dir)
			versions := 0
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), "..") && e.Name() != "..data" {
					versions++
				}
			}
			if versions != 1 {
				t.Errorf("%d timestamped folders left, want 1", versions)
			}
		})
	}
}

func TestReadPlainFolder(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"nginx.conf": "a", ".hidden": "h"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || string(got["nginx.conf"].Data) != "a" {
		t.Errorf("got %v, want only nginx.conf", got)
	}
}

// TestReadNeverMixesVersions reads while versions whose files all carry the
// same number are published; every read must see one number only.
func TestReadNeverMixesVersions(t *testing.T) {
	dir := t.TempDir()
	version := func(n int) map[string][]byte {
		files := map[string][]byte{}
		for i := range 10 {
			files[fmt.Sprintf("f%d.conf", i)] = []byte(fmt.Sprint(n))
		}
		return files
	}
	if err := kubeletvolume.WriteKeys(dir, version(0), 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		for n := 1; n <= 300; n++ {
			if err := kubeletvolume.WriteKeys(dir, version(n), 0o644); err != nil {
				t.Error(err)
				return
			}
		}
	})
	reads := 0
	for {
		select {
		case <-done:
			wg.Wait()
			t.Logf("%d consistent reads", reads)
			return
		default:
		}
		files, err := Read(dir)
		if err != nil {
			continue // five swaps during one read: retried by the caller
		}
		reads++
		seen := map[string]bool{}
		for _, f := range files {
			seen[string(f.Data)] = true
		}
		if len(seen) != 1 || len(files) != 10 {
			t.Fatalf("read mixed versions: %v", seen)
		}
	}
}

// TestWatchCoalesces: a burst of kubelet updates to two folders is two
// notifications (its first swap, then the rest once settled); a later
// single update is one.
func TestWatchCoalesces(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	w := startWatch(t, Debounce{Quiet: 100 * time.Millisecond, Max: time.Second}, a, b)
	ch := w.C
	for n := range 10 {
		for _, dir := range []string{a, b} {
			if err := kubeletvolume.WriteKeys(dir, map[string][]byte{"k": []byte(fmt.Sprint(n))}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func(window time.Duration) int {
		n := 0
		deadline := time.After(window)
		for {
			select {
			case <-ch:
				n++
			case <-deadline:
				return n
			}
		}
	}
	if n := count(500 * time.Millisecond); n != 2 {
		t.Errorf("burst of 20 updates: %d notifications, want 2 (leading and trailing)", n)
	}
	if err := kubeletvolume.WriteKeys(a, map[string][]byte{"k": []byte("later"), "new": []byte("key")}, 0o644); err != nil {
		t.Fatal(err)
	}
	if n := count(500 * time.Millisecond); n != 1 {
		t.Errorf("later update (a new key: the kubelet links it after the swap): %d notifications, want 1", n)
	}
}

// TestWatchLeadingEdge: the first swap of `..data` is reported without
// waiting for the quiet time (an hour here, so only the leading edge can
// notify), and the files it published are complete when the notification
// arrives.
func TestWatchLeadingEdge(t *testing.T) {
	dir := t.TempDir()
	w := startWatch(t, Debounce{Quiet: time.Hour, Max: time.Hour}, dir)
	ch := w.C
	want := map[string][]byte{"a.conf": []byte("a"), "b.conf": []byte("b")}
	if err := kubeletvolume.WriteKeys(dir, want, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatal("no notification for a swap before the quiet time passed")
	}
	files, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(want) {
		t.Errorf("read %d files after the notification, want %d", len(files), len(want))
	}
}

// TestWatchIncomplete: after Incomplete, the other folder's swap is
// reported at once, whether it comes after the call or came before it.
func TestWatchIncomplete(t *testing.T) {
	config, secret := t.TempDir(), t.TempDir()
	w := startWatch(t, Debounce{Quiet: time.Hour, Max: time.Hour}, config, secret)
	next := func(what string) {
		t.Helper()
		select {
		case <-w.C:
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: no notification before the quiet time passed", what)
		}
	}
	write := func(dir, v string) {
		t.Helper()
		if err := kubeletvolume.WriteKeys(dir, map[string][]byte{"k": []byte(v)}, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(config, "1")
	next("first swap")
	w.Incomplete()
	write(secret, "1")
	next("the other folder's swap after Incomplete")

	write(config, "2") // in the same burst: waits for the quiet time…
	time.Sleep(100 * time.Millisecond)
	w.Incomplete() // …unless what the last notification brought was incomplete
	next("a swap that came before Incomplete")
}

// TestWatchPlainFolderWaits: a folder written file by file has no atomic
// swap, so it is reported only once settled.
func TestWatchPlainFolderWaits(t *testing.T) {
	dir := t.TempDir()
	w := startWatch(t, Debounce{Quiet: time.Hour, Max: time.Hour}, dir)
	ch := w.C
	if err := os.WriteFile(filepath.Join(dir, "a.conf"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Error("a plain folder's first write was reported before the quiet time")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestWatchMaxDelay: a folder that never stops changing is still reported
// within Max.
func TestWatchMaxDelay(t *testing.T) {
	dir := t.TempDir()
	w := startWatch(t, Debounce{Quiet: 200 * time.Millisecond, Max: 400 * time.Millisecond}, dir)
	ch := w.C
	start := time.Now()
	stop := time.After(2 * time.Second)
	for n := 0; ; n++ {
		select {
		case <-ch:
			if took := time.Since(start); took > 1500*time.Millisecond {
				t.Errorf("first notification after %v of constant changes, want about 400ms", took)
			}
			return
		case <-stop:
			t.Fatal("no notification while the folder kept changing")
		case <-time.After(50 * time.Millisecond):
			if err := kubeletvolume.WriteKeys(dir, map[string][]byte{"k": []byte(fmt.Sprint(n))}, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// startWatch runs Watch on dirs until the test ends.
func startWatch(t *testing.T, d Debounce, dirs ...string) *Watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	w, err := Watch(ctx, dirs, d, logr.Discard())
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func bytesMap(m map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}
