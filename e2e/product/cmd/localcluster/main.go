// Command localcluster (bin/localcluster: make local-cluster, make
// run-local) is e2e/localcluster's command with this product's images
// (product.DefaultImages: echo-basic, a Debian shell, bin/operator, nginx +
// bin/sidecar) and -deploy, which installs the Gateway API CRDs, the
// operator from config/default and config/samples, and prints a curl that
// reaches the sample Gateway (make run-local).
package main

import (
	"context"
	"fmt"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/command"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/product"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

func main() {
	var images []nodeagent.ImageRule
	command.Main(command.Config{
		Images: func() ([]nodeagent.ImageRule, error) {
			var err error
			images, err = product.DefaultImages()
			return images, err
		},
		KubeBinDir: testenv.KubeAssets,
		DeployUsage: "install the Gateway API CRDs, the operator (config/default) and config/samples, " +
			"wait for the sample Gateway to be Programmed and print a curl (needs make build)",
		Deploy: func(ctx context.Context, c *cluster.Cluster, logf func(string, ...any)) (string, error) {
			p, err := product.Deploy(ctx, c, images, logf)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("\nThe sample Gateway %s is Programmed and answers:\n\n  curl %s\n\n", p.Gateway, p.URL), nil
		},
	})
}
