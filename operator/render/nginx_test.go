package render

import (
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// startNginx runs nginx on the rendered files (testenv.StartNginx: listen
// directives bound to addr, endpoints served by the sidecar's DNS server).
func startNginx(t testing.TB, files Files, endpoints endpointdns.Table, addr string, ports ...int32) *testenv.Nginx {
	t.Helper()
	return testenv.StartNginx(t, merged(files), endpoints, addr, ports...)
}
