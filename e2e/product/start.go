package product

import (
	"context"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// buildBound bounds building the operator and the sidecar.
const buildBound = 8 * time.Minute

// StartForTest builds the operator and the sidecar of this checkout into
// binDir, starts a local cluster for the test (stopped at its end) and
// deploys the product on it (Deploy). The returned context ends bound
// after the cluster runs (Start may first wait for another local cluster
// on this machine to stop), or when the test ends.
func StartForTest(t *testing.T, binDir string, bound time.Duration) (context.Context, *cluster.Cluster, *Product) {
	t.Helper()
	buildCtx, cancelBuild := context.WithTimeout(context.Background(), buildBound)
	defer cancelBuild()
	if err := Build(buildCtx, binDir); err != nil {
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
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	p, err := Deploy(ctx, c, images, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c, p
}
