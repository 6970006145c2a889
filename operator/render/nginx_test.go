package render

import (
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// startNginx runs nginx on rendered files (see testenv.StartNginx).
func startNginx(t testing.TB, files Files, addr string, ports ...int32) *testenv.Nginx {
	t.Helper()
	return testenv.StartNginx(t, merged(files), addr, ports...)
}
