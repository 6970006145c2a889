package product

import (
	"context"
	"testing"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// StartForTest builds the operator and the sidecar of this checkout into
// binDir, starts a local cluster for the test (stopped at its end) and
// deploys the product on it (Deploy).
func StartForTest(ctx context.Context, t *testing.T, binDir string) (*cluster.Cluster, *Product) {
	t.Helper()
	if err := Build(ctx, binDir); err != nil {
		t.Fatal(err)
	}
	images, err := Images(binDir)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := testenv.KubeAssets()
	if err != nil {
		t.Fatal(err)
	}
	c := clustertest.Start(t, cluster.Options{Images: images, KubeBinDir: kube})
	p, err := Deploy(ctx, c, images, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return c, p
}
