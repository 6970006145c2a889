package product

import (
	"path/filepath"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// DefaultImages maps the images this project runs to local programs:
//
//   - echo-basic (the Gateway API conformance backend) → the echo-basic
//     binary from hack/build-echo.sh, on the host's filesystem;
//   - debian → a shell in the nginx root filesystem of hack/nginx-rootfs.sh;
//   - the operator image (name containing "nginx-gateway-operator", or
//     kubebuilder's placeholder "controller") → bin/operator;
//   - the gateway image (name containing "nginx-gateway", or the
//     placeholder "gateway") → the container's command inside the nginx
//     root filesystem, with bin/sidecar at the sidecar's path in the image.
//
// Binaries that do not exist yet are still mapped: a pod using them fails
// to start (and retries) until they are built.
func DefaultImages() ([]nodeagent.ImageRule, error) {
	return Images(filepath.Join(testenv.RepoRoot(), "bin"))
}

// The images' USER lines (Dockerfile, Dockerfile.gateway); images_test.go
// keeps them equal.
var (
	OperatorImageUser = &nodeagent.ImageUser{UID: 65532, GID: 65532}
	GatewayImageUser  = &nodeagent.ImageUser{UID: 101, GID: 101}
)

// Images is DefaultImages with operator and sidecar from binDir.
func Images(binDir string) ([]nodeagent.ImageRule, error) {
	echo, err := testenv.EchoBasic()
	if err != nil {
		return nil, err
	}
	rootfs, err := testenv.NginxRootfs()
	if err != nil {
		return nil, err
	}
	operator := filepath.Join(binDir, "operator")
	gateway := nodeagent.ImageRule{Rootfs: rootfs, User: GatewayImageUser, Binds: map[string]string{
		dataplane.SidecarBinary: filepath.Join(binDir, "sidecar"),
	}}
	rules := []nodeagent.ImageRule{
		{Contains: "echo-basic", Entrypoint: echo},
		// A plain Debian with a shell, for pods that only need one.
		{Contains: "debian", Rootfs: rootfs},
		{Contains: "nginx-gateway-operator", Entrypoint: operator, User: OperatorImageUser},
		{Contains: "controller", Entrypoint: operator, User: OperatorImageUser},
	}
	for _, name := range []string{"nginx-gateway", "gateway"} {
		r := gateway
		r.Contains = name
		rules = append(rules, r)
	}
	return rules, nil
}
