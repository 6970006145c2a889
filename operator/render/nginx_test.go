package render

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// runningNginx is nginx from the test root filesystem serving a rendered
// tree on one loopback address.
type runningNginx struct {
	addr   string // 127.0.0.x
	cmd    *exec.Cmd
	output *testenv.SyncBuffer // stdout and stderr
	done   chan error
	// dns serves the upstreams' endpoints; a test may change them.
	dns *endpointdns.Server
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

// resolverLine and noEndpointsListen are the rendered resolver and the
// local 503 server's listen, which a test moves to free ports.
var (
	resolverLine      = regexp.MustCompile(`(?m)^resolver 127\.0\.0\.1:[0-9]+;`)
	noEndpointsListen = regexp.MustCompile(`(?m)^(\s*listen )127\.0\.0\.1:[0-9]+;`)
)

// startNginx writes files (with their listen directives bound to addr)
// into the root filesystem and runs nginx in the foreground until the test
// ends, with the endpoints of its upstreams served by the sidecar's DNS
// server (endpointdns) on a free port. ports are the ports to wait for;
// it returns once nginx listens on them and holds every upstream's
// endpoints.
func startNginx(t testing.TB, files Files, endpoints endpointdns.Table, addr string, ports ...int32) *runningNginx {
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
	dnsAddr, noEndpoints := freePort(t), freePort(t)
	dns := endpointdns.New(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(noEndpoints)))
	if endpoints == nil {
		endpoints = endpointdns.Table{}
	}
	dns.Set(endpoints)
	dnsCtx, stopDNS := context.WithCancel(context.Background())
	t.Cleanup(stopDNS)
	if err := dns.ListenAndServe(dnsCtx, fmt.Sprintf("127.0.0.1:%d", dnsAddr)); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{FileUpstreams, FileStream} {
		if tree[f] != nil {
			tree[f] = resolverLine.ReplaceAll(tree[f], []byte(fmt.Sprintf("resolver 127.0.0.1:%d;", dnsAddr)))
		}
	}
	tree[FileUpstreams] = noEndpointsListen.ReplaceAll(tree[FileUpstreams], []byte(fmt.Sprintf("${1}127.0.0.1:%d;", noEndpoints)))
	writeTree(t, stage, tree)
	inside := "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/"

	n := &runningNginx{addr: addr, output: &testenv.SyncBuffer{}, done: make(chan error, 1), dns: dns}
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
	for upstream := range endpoints {
		for dns.SRVAnswers(upstream) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not resolve upstream %s twice\n%s", upstream, n.logs())
			}
			time.Sleep(20 * time.Millisecond)
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
