package nginxproc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCleanMessage(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{
			name: "time and pids dropped, repeats merged",
			in: "2026/11/25 18:59:08 [emerg] 29464#29464: bind() to 127.0.0.1:9090 failed (98: Address already in use)\n" +
				"2026/11/25 18:59:08 [emerg] 29464#29464: bind() to 127.0.0.1:9090 failed (98: Address already in use)\n" +
				"2026/11/25 18:59:09 [emerg] 29464#29464: still could not bind()\n",
			want: "[emerg] bind() to 127.0.0.1:9090 failed (98: Address already in use)\n[emerg] still could not bind()",
		},
		{
			name: "nginx -t style kept",
			in:   `nginx: [emerg] unknown directive "retrun" in /x/routes.conf:3`,
			want: `nginx: [emerg] unknown directive "retrun" in /x/routes.conf:3`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := CleanMessage(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEmergLog(t *testing.T) {
	l := &EmergLog{Path: filepath.Join(t.TempDir(), "emerg.log")}
	if l.Offset() != 0 || l.Since(0) != "" {
		t.Fatal("a missing file is empty")
	}
	if err := l.Append([]byte("first [emerg] a")); err != nil {
		t.Fatal(err)
	}
	off := l.Offset()
	if l.Since(off) != "" {
		t.Error("nothing was added after the offset")
	}
	if err := l.Append([]byte("second [emerg] b\n")); err != nil {
		t.Fatal(err)
	}
	if got := l.Since(off); got != "second [emerg] b" {
		t.Errorf("since offset: %q", got)
	}
	// Past the bound the writer starts over; a reader's offset is then
	// beyond the end and it reads the new content from the start.
	big := strings.Repeat("x", EmergLogMax+1)
	if err := l.Append([]byte(big)); err != nil {
		t.Fatal(err)
	}
	off = l.Offset()
	if err := l.Append([]byte("after [emerg] c")); err != nil {
		t.Fatal(err)
	}
	if got := l.Since(off); got != "after [emerg] c" {
		t.Errorf("after the restart: %q", got)
	}
	if st, _ := os.Stat(l.Path); st.Size() > EmergLogMax {
		t.Errorf("file grew to %d bytes", st.Size())
	}
}

func TestIsEmerg(t *testing.T) {
	for line, want := range map[string]bool{
		"2026/11/25 18:59:08 [emerg] 1#1: bind() failed":    true,
		"2026/11/25 18:59:08 [notice] 1#1: reconfiguring":   false,
		"2026/11/25 18:59:08 [error] 1#1: connect() failed": false,
	} {
		if got := IsEmerg([]byte(line)); got != want {
			t.Errorf("IsEmerg(%q) = %v", line, got)
		}
	}
}

// TestProcessInspection reads this test's own process: its name, parent
// and that it is not nginx.
func TestProcessInspection(t *testing.T) {
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.ppid, os.Getppid())
	}
	if IsNginx(os.Getpid()) {
		t.Error("the test binary taken for nginx")
	}
	kids, err := Children(os.Getppid())
	if err != nil || !kids[os.Getpid()] {
		t.Errorf("children of our parent %v (%v) miss us", kids, err)
	}
	scanned, err := scanChildren(os.Getppid())
	if err != nil || !scanned[os.Getpid()] {
		t.Errorf("scanned children of our parent %v (%v) miss us", scanned, err)
	}
	pidFile := filepath.Join(t.TempDir(), "nginx.pid")
	if err := os.WriteFile(pidFile, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := Master(pidFile); ok {
		t.Error("pid 1 taken for an nginx master")
	}
}
