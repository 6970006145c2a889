package testenv

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
)

// Nginx is nginx from the test root filesystem serving a config tree on
// one loopback address, in the foreground, until the test ends.
type Nginx struct {
	// Addr is the loopback address every listen directive is bound to.
	Addr   string
	cmd    *exec.Cmd
	output *SyncBuffer // stdout and stderr: the error log and access logs to ""
	done   chan error
}

// listenLine matches listen directives that name only a port ("listen PORT …").
var listenLine = regexp.MustCompile(`(?m)^(\s*listen )([0-9]+)`)

// FreeLoopbackAddr picks a random 127.x.y.z address and port where
// nothing listens (other tests on this machine use 127.0.0.1 and fixed
// ports; a listener on 0.0.0.0 blocks a port on every address).
func FreeLoopbackAddr(t testing.TB) (string, int32) {
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

// StartNginx writes tree (file name → content, nginx.conf among them) into
// the root filesystem with every "listen PORT" bound to addr, runs nginx
// in the foreground until the test ends, and waits until it listens on
// ports. It skips the test when not root (chroot).
func StartNginx(t testing.TB, tree map[string][]byte, addr string, ports ...int32) *Nginx {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running nginx in its root filesystem needs root (chroot)")
	}
	rootfs, err := NginxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	stage, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "nginx-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stage) })
	for name, data := range tree {
		data = listenLine.ReplaceAll(data, []byte("${1}"+addr+":${2}"))
		if err := os.WriteFile(filepath.Join(stage, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inside := "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/"

	n := &Nginx{Addr: addr, output: &SyncBuffer{}, done: make(chan error, 1)}
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
				t.Fatalf("nginx exited: %v\n%s", err, n.Logs())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not listen on %s:%d\n%s", addr, p, n.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return n
}

// stop asks nginx to quit fast (SIGTERM) and kills it after a bounded wait.
func (n *Nginx) stop(t testing.TB) {
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
		t.Logf("nginx output:\n%s", n.Logs())
	}
}

// Logs is what nginx wrote so far (error log and access logs to "").
func (n *Nginx) Logs() string {
	return n.output.String()
}

// WaitForLog waits until nginx's output holds s.
func (n *Nginx) WaitForLog(ctx context.Context, s string) bool {
	for {
		if strings.Contains(n.Logs(), s) {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}
