package render

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// runningNginx is nginx from the test root filesystem serving a rendered
// tree on one loopback address.
type runningNginx struct {
	addr   string // 127.0.0.x
	cmd    *exec.Cmd
	output *testenv.SyncBuffer // stdout and stderr
	done   chan error
}

// listenLine matches the listen directives Render writes ("listen PORT …").
var listenLine = regexp.MustCompile(`(?m)^(\s*listen )([0-9]+)`)

// freeLoopbackAddr picks a random 127.x.y.z address and port where
// nothing listens (other tests on this machine use 127.0.0.1 and fixed
// ports; a listener on 0.0.0.0 blocks a port on every address).
func freeLoopbackAddr(t testing.TB) (string, int32) {
	t.Helper()
	for range 100 {
		addr := fmt.Sprintf("127.%d.%d.%d", rand.IntN(256), rand.IntN(256), 2+rand.IntN(250))
		port := int32(20000 + rand.IntN(30000))
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", addr, port))
		if err == nil {
			l.Close()
			return addr, port
		}
	}
	t.Fatal("no free loopback address and port")
	return "", 0
}

// startNginx writes files (with their listen directives bound to addr)
// into the root filesystem and runs nginx in the foreground until the test
// ends. ports are the ports to wait for.
func startNginx(t testing.TB, files Files, addr string, ports ...int32) *runningNginx {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running nginx in its root filesystem needs root (chroot)")
	}
	rootfs, err := testenv.NginxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	if err := testenv.NginxSocketDir(rootfs); err != nil {
		t.Fatal(err)
	}
	stage, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "render-traffic-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stage) })
	// Workers (nobody, nginx runs as root here) read certificates named by
	// variables at each handshake.
	if err := os.Chmod(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := merged(files)
	for _, f := range []string{FileServers, FileStream} {
		if tree[f] != nil {
			tree[f] = listenLine.ReplaceAll(tree[f], []byte("${1}"+addr+":${2}"))
		}
	}
	writeTree(t, stage, tree)
	inside := "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/"

	n := &runningNginx{addr: addr, output: &testenv.SyncBuffer{}, done: make(chan error, 1)}
	n.cmd = exec.Command("chroot", rootfs, "nginx", "-p", inside, "-c", "nginx.conf",
		"-g", "daemon off; pid "+inside+"nginx.pid;")
	n.cmd.Stderr = n.output
	n.cmd.Stdout = n.output
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	t.Cleanup(func() { n.stop(t) })

	deadline := time.Now().Add(10 * time.Second)
	for _, p := range ports {
		for {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("%s:%d", addr, p), 200*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-n.done:
				t.Fatalf("nginx exited: %v\n%s", err, n.logs())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not listen on %s:%d\n%s", addr, p, n.logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return n
}

// stop asks nginx to quit fast (SIGTERM) and kills it after a bounded wait.
func (n *runningNginx) stop(t testing.TB) {
	if n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.done
		t.Errorf("nginx did not stop within 5s; killed")
	}
	if t.Failed() {
		t.Logf("nginx output:\n%s", n.logs())
	}
}

func (n *runningNginx) logs() string {
	return n.output.String()
}

// waitForLog waits until nginx's log holds s.
func (n *runningNginx) waitForLog(ctx context.Context, s string) bool {
	for {
		if strings.Contains(n.logs(), s) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
