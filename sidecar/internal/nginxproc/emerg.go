package nginxproc

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
)

// EmergLogMax bounds the emergency-message file: past it, the writer starts
// the file over (readers notice the shrink and read from the start).
const EmergLogMax = 64 << 10

// EmergLog is a small file in the shared run folder holding nginx's
// `[emerg]` lines. The nginx container's launcher copies them there from
// nginx's stderr; the sidecar, which cannot see that stream, reads what was
// added after it sent a reload signal.
type EmergLog struct {
	Path string
	mu   sync.Mutex
}

// IsEmerg says whether an nginx log line is an emergency message (what a
// failed config load or reload reports).
func IsEmerg(line []byte) bool {
	return bytes.Contains(line, []byte("[emerg]"))
}

// Append adds one line (the launcher's side).
func (l *EmergLog) Append(line []byte) error {
	if l == nil || l.Path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	flags := os.O_WRONLY | os.O_CREATE | os.O_APPEND
	if st, err := os.Stat(l.Path); err == nil && st.Size() > EmergLogMax {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(l.Path, flags, 0o644)
	if err != nil {
		return err
	}
	if !bytes.HasSuffix(line, []byte("\n")) {
		line = append(line, '\n')
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Offset is the file's current size (the sidecar's side, before a reload).
func (l *EmergLog) Offset() int64 {
	if l == nil || l.Path == "" {
		return 0
	}
	st, err := os.Stat(l.Path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// Since returns what was added after offset, or everything when the file
// was started over meanwhile.
func (l *EmergLog) Since(offset int64) string {
	if l == nil || l.Path == "" {
		return ""
	}
	f, err := os.Open(l.Path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.Size() == offset {
		return ""
	}
	if st.Size() < offset {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(io.LimitReader(f, EmergLogMax))
	return strings.TrimSpace(string(data))
}
