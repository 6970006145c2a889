package testenv

import (
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// Eventually calls check until it returns nil and fails the test with what
// and check's last error when it still fails after timeout, polling with a
// short back-off (see clustertest.Eventually, the one implementation, which
// the local cluster's own module uses too).
func Eventually(t testing.TB, timeout time.Duration, what string, check func() error) {
	t.Helper()
	clustertest.Eventually(t, timeout, what, check)
}
