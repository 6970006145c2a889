package render

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

var (
	rootfsOnce sync.Once
	rootfs     string
	rootfsErr  error
)

// NginxTestStrict is testenv.NginxTest without -q: it fails when nginx
// prints a warning (e.g. "conflicting server name"), not only on errors.
// A rendered config should never make nginx warn: each warning names a
// directive that does not do what the model asked for.
func NginxTestStrict(dir string) error {
	rootfsOnce.Do(func() { rootfs, rootfsErr = testenv.NginxRootfs() })
	if rootfsErr != nil {
		return rootfsErr
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("nginx -t runs nginx with chroot, which needs root")
	}
	stage, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "nginx-t-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	if err := os.CopyFS(stage, os.DirFS(dir)); err != nil {
		return err
	}
	inside := "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/"
	out, err := exec.Command("chroot", rootfs, "nginx", "-t", "-p", inside, "-c", "nginx.conf").CombinedOutput()
	msg := strings.ReplaceAll(string(out), inside, "<prefix>/")
	if err != nil {
		return fmt.Errorf("nginx -t: %v: %s", err, msg)
	}
	for _, line := range strings.Split(msg, "\n") {
		if strings.Contains(line, "[warn]") || strings.Contains(line, "[emerg]") || strings.Contains(line, "[alert]") {
			return fmt.Errorf("nginx -t warns: %s", msg)
		}
	}
	return nil
}
