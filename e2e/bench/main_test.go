//go:build benche2e

package bench

import (
	"flag"
	"os"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

func TestMain(m *testing.M) {
	// The node agent starts containers by re-executing this test binary.
	nodeagent.RunContainerInitIfRequested()
	flag.Parse()
	os.Exit(m.Run())
}
