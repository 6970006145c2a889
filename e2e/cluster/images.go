package cluster

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/nodeagent"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// RepoRoot is the repository's root folder: from this source file's path
// when it exists (go test, go run), else the first folder upwards from the
// working directory whose go.mod is this module's (a -trimpath binary).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	if filepath.IsAbs(file) {
		if _, err := os.Stat(file); err == nil {
			return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for {
		mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(mod), "module "+modulePath+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "."
		}
		dir = parent
	}
}

const modulePath = "github.com/nginx-gateway-operator/nginx-gateway-operator"

// DefaultImages maps the images this project runs to local programs:
//
//   - echo-basic (the Gateway API conformance backend) → the echo-basic
//     binary from hack/build-echo.sh, on the host's filesystem;
//   - the operator image (name containing "nginx-gateway-operator", or
//     kubebuilder's placeholder "controller") → bin/operator;
//   - the gateway image (name containing "nginx-gateway", or the
//     placeholder "gateway") → the container's command inside the nginx
//     root filesystem of hack/nginx-rootfs.sh, with bin/sidecar at the
//     sidecar's path in the image.
//
// Binaries that do not exist yet are still mapped: a pod using them fails
// to start (and retries) until they are built.
func DefaultImages() ([]nodeagent.ImageRule, error) {
	return ImagesFrom(filepath.Join(RepoRoot(), "bin"))
}

// ImagesFrom is DefaultImages with operator and sidecar from binDir.
func ImagesFrom(binDir string) ([]nodeagent.ImageRule, error) {
	echo, err := runHackScript("build-echo.sh")
	if err != nil {
		return nil, err
	}
	rootfs := os.Getenv("NGINX_ROOTFS")
	if rootfs == "" {
		if rootfs, err = runHackScript("nginx-rootfs.sh"); err != nil {
			return nil, err
		}
	}
	bin := binDir
	operator := filepath.Join(bin, "operator")
	gateway := nodeagent.ImageRule{Rootfs: rootfs, Binds: map[string]string{
		dataplane.SidecarBinary: filepath.Join(bin, "sidecar"),
	}}
	rules := []nodeagent.ImageRule{
		{Contains: "echo-basic", Entrypoint: echo},
		// A plain Debian with a shell, for pods that only need one.
		{Contains: "debian", Rootfs: rootfs},
		{Contains: "nginx-gateway-operator", Entrypoint: operator},
		{Contains: "controller", Entrypoint: operator},
	}
	for _, name := range []string{"nginx-gateway", "gateway"} {
		r := gateway
		r.Contains = name
		rules = append(rules, r)
	}
	return rules, nil
}
