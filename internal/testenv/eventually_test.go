package testenv

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventuallyReturnsOnceCheckPasses(t *testing.T) {
	calls := 0
	Eventually(t, 5*time.Second, "third call", func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if calls != 3 {
		t.Errorf("check called %d times, want 3", calls)
	}
}

// fatalTB records Fatalf and stops the goroutine as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestEventuallyFailsWithWhatAndLastError(t *testing.T) {
	f := &fatalTB{TB: t}
	calls := 0
	func() {
		defer func() {
			if r := recover(); r != f {
				t.Fatalf("recovered %v, want the Fatalf panic", r)
			}
		}()
		Eventually(f, 50*time.Millisecond, "the thing", func() error {
			calls++
			return errors.New("last error")
		})
	}()
	if !strings.HasPrefix(f.msg, "the thing: still failing after 50ms: last error") {
		t.Errorf("message %q", f.msg)
	}
	if calls < 2 {
		t.Errorf("check called %d times, want it retried", calls)
	}
}
