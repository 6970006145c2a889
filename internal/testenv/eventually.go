package testenv

import (
	"testing"
	"time"
)

// Eventually calls check until it returns nil and fails the test with what
// and check's last error when it still fails after timeout. It polls soon
// after a first failure and backs off to pollCap, so that quick changes are
// seen quickly and long waits do not hammer the API server.
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	interval := pollStart
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
		}
		time.Sleep(interval)
		interval = min(2*interval, pollCap)
	}
}

const (
	pollStart = 10 * time.Millisecond
	pollCap   = 100 * time.Millisecond
)
