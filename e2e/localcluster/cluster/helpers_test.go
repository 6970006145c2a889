package cluster_test

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

// debianImage runs its command in the root filesystem of NGINX_ROOTFS (a
// Debian with a shell), for pods that need a shell rather than a particular
// program (testImages maps it).
const debianImage = "localcluster/debian:test"

// testImages maps the images these tests run: echo-basic (the Gateway API
// conformance backend) to the binary ECHO_BASIC names, and debianImage to
// the root filesystem NGINX_ROOTFS names. The repository's make test sets
// both (hack/build-echo.sh, hack/nginx-rootfs.sh); this module does not
// build them itself.
func testImages(t *testing.T) []nodeagent.ImageRule {
	t.Helper()
	echo, rootfs := os.Getenv("ECHO_BASIC"), os.Getenv("NGINX_ROOTFS")
	if echo == "" || rootfs == "" {
		t.Fatal("set ECHO_BASIC (the echo-basic binary of hack/build-echo.sh) and NGINX_ROOTFS " +
			"(a Debian root filesystem with a shell, hack/nginx-rootfs.sh); make test sets both")
	}
	return []nodeagent.ImageRule{
		{Contains: "echo-basic", Entrypoint: echo},
		{Contains: "debian", Rootfs: rootfs},
	}
}

// inContainer runs a command in a container's mount and UTS namespaces and root.
func inContainer(pid int, args ...string) (string, error) {
	out, err := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(pid), "--mount", "--uts", "--root", "--wd", "--"}, args...)...).CombinedOutput()
	return string(out), err
}

func getPod(ctx context.Context, c *cluster.Cluster, ns, name string) (*corev1.Pod, error) {
	return c.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
}
