package testenv

import (
	"bytes"
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

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
)

// Nginx is nginx from the test root filesystem serving a config tree on
// one loopback address, in the foreground, until the test ends.
type Nginx struct {
	// Addr is the loopback address every listen directive is bound to.
	Addr   string
	cmd    *exec.Cmd
	output *SyncBuffer // stdout and stderr: the error log and access logs to ""
	// exited is closed when nginx has exited, with waitErr set.
	exited  chan struct{}
	waitErr error
	// DNS serves the upstreams' endpoints as the sidecar does; a test may
	// change them (DNS.Set).
	DNS *endpointdns.Server
	// ClosedAddr is where DNS resolves a stream upstream without
	// endpoints (a gateway pod's dataplane.ClosedAddr), as the access log
	// shows it.
	ClosedAddr netip.AddrPort
	// StatusSocket is the host path of the unix socket of the rendered
	// config's status server (stub_status), moved into this run's folder.
	StatusSocket string
	// write puts a config file into the run's folder, with StartNginx's
	// changes (Reload).
	write func(name string, data []byte) error
}

var (
	// listenLine matches listen directives that name only a port ("listen
	// PORT …", not "listen 127.0.0.1:PORT").
	listenLine = regexp.MustCompile(`(?m)^(\s*listen )([0-9]+)([\s;])`)
	// resolverLine and noEndpointsListen are the rendered resolver and the
	// local 503 server's listen, which StartNginx moves to free ports.
	resolverLine      = regexp.MustCompile(`(?m)^resolver 127\.0\.0\.1:[0-9]+;`)
	noEndpointsListen = regexp.MustCompile(`(?m)^(\s*listen )127\.0\.0\.1:[0-9]+;`)
	// statusListen is nginx's status server (dataplane.NginxStatusSocket),
	// which StartNginx moves into the run's own folder: nginx instances of
	// parallel tests cannot bind one socket.
	statusListen = regexp.MustCompile(`(?m)^(\s*listen unix:)` + regexp.QuoteMeta(dataplane.SocketPath+"/"+dataplane.NginxStatusSocket) + `;`)
)

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
// the root filesystem with every "listen PORT" bound to addr, serves the
// upstreams' endpoints as the sidecar's DNS does (endpointdns, on a free
// port that the rendered resolver is moved to; upstreams absent from
// endpoints are unknown to it), runs nginx in the foreground until the test
// ends, and returns once nginx listens on ports and resolved every upstream
// of endpoints. It skips the test when not root (chroot).
func StartNginx(t testing.TB, tree map[string][]byte, endpoints endpointdns.Table, addr string, ports ...int32) *Nginx {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running nginx in its root filesystem needs root (chroot)")
	}
	rootfs, err := NginxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	if err := NginxSocketDir(rootfs); err != nil {
		t.Fatal(err)
	}
	stage, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "nginx-run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stage) })
	// Workers (nobody, nginx runs as root here) read certificates named by
	// variables at each handshake.
	if err := os.Chmod(stage, 0o755); err != nil {
		t.Fatal(err)
	}

	noEndpointsPort := FreeLocalPort(t)
	// Stream upstreams without endpoints resolve to a port closed for TCP
	// and UDP now (a gateway pod reserves dataplane.ClosedPort; this
	// machine's 8055 may be anyone's), which the stream access log's
	// reason map is moved to.
	closed := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(closedLocalPort(t)))
	closedReason := []byte(nginxQuotedRegexp(dataplane.ClosedAddr))
	closedReasonHere := []byte(nginxQuotedRegexp(closed.String()))
	dns := endpointdns.New(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(noEndpointsPort)), closed)
	if endpoints == nil {
		endpoints = endpointdns.Table{}
	}
	dns.Set(endpoints)
	dnsCtx, stopDNS := context.WithCancel(context.Background())
	t.Cleanup(stopDNS)
	// A port free for TCP may be taken for UDP: try a few.
	var dnsPort int32
	for attempt := 0; ; attempt++ {
		dnsPort = FreeLocalPort(t)
		err := dns.ListenAndServe(dnsCtx, fmt.Sprintf("127.0.0.1:%d", dnsPort))
		if err == nil {
			break
		}
		if attempt == 9 {
			t.Fatal(err)
		}
	}
	inside := "/" + strings.TrimPrefix(strings.TrimPrefix(stage, rootfs), "/") + "/"
	write := func(name string, data []byte) error {
		data = listenLine.ReplaceAll(data, []byte("${1}"+addr+":${2}${3}"))
		data = resolverLine.ReplaceAll(data, []byte(fmt.Sprintf("resolver 127.0.0.1:%d;", dnsPort)))
		data = noEndpointsListen.ReplaceAll(data, []byte(fmt.Sprintf("${1}127.0.0.1:%d;", noEndpointsPort)))
		data = bytes.ReplaceAll(data, closedReason, closedReasonHere)
		data = statusListen.ReplaceAll(data, []byte("${1}"+inside+dataplane.NginxStatusSocket+";"))
		return os.WriteFile(filepath.Join(stage, name), data, 0o644)
	}
	for name, data := range tree {
		if err := write(name, data); err != nil {
			t.Fatal(err)
		}
	}

	n := &Nginx{Addr: addr, output: &SyncBuffer{}, exited: make(chan struct{}), DNS: dns, ClosedAddr: closed,
		StatusSocket: filepath.Join(stage, dataplane.NginxStatusSocket), write: write}
	n.cmd = exec.Command("chroot", rootfs, "nginx", "-p", inside, "-c", "nginx.conf",
		"-g", "daemon off; pid "+inside+"nginx.pid;")
	n.cmd.Stderr = n.output
	n.cmd.Stdout = n.output
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
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
			case <-n.exited:
				t.Fatalf("nginx exited: %v\n%s", n.waitErr, n.Logs())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not listen on %s:%d\n%s", addr, p, n.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Twice: the first answer may have come before every worker asked.
	for upstream := range endpoints {
		for dns.SRVAnswers(upstream) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("nginx did not resolve upstream %s twice\n%s", upstream, n.Logs())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return n
}

// FreeLocalPort is a TCP port on 127.0.0.1 nothing listens on now.
func FreeLocalPort(t testing.TB) int32 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

// closedLocalPort is a port on 127.0.0.1 nothing listens on now, for TCP
// and for UDP.
func closedLocalPort(t testing.TB) int32 {
	t.Helper()
	for range 20 {
		port := FreeLocalPort(t)
		if c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return port
		}
	}
	t.Fatal("no port closed for TCP and UDP on 127.0.0.1")
	return 0
}

// nginxQuotedRegexp is how the rendered config writes a regular expression
// matching s literally inside a quoted string (render's quote doubles
// backslashes).
func nginxQuotedRegexp(s string) string {
	return strings.ReplaceAll(regexp.QuoteMeta(s), `\`, `\\`)
}

// stop asks nginx to quit fast (SIGTERM) and kills it after a bounded wait.
func (n *Nginx) stop(t testing.TB) {
	if n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(5 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
		t.Errorf("nginx did not stop within 5s; killed")
	}
	if t.Failed() {
		t.Logf("nginx output:\n%s", n.Logs())
	}
}

// Reload replaces the config files of tree (with StartNginx's changes) and
// sends nginx's master SIGHUP, as the sidecar does on a route change. It
// returns once the master logged that it started the new workers (their
// replacement of the old ones takes nginx about 100 ms more).
func (n *Nginx) Reload(t testing.TB, tree map[string][]byte) {
	t.Helper()
	for name, data := range tree {
		if err := n.write(name, data); err != nil {
			t.Fatal(err)
		}
	}
	before := strings.Count(n.Logs(), "reconfiguring")
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(n.Logs(), "reconfiguring") == before {
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not reload\n%s", n.Logs())
		}
		time.Sleep(10 * time.Millisecond)
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

// EndpointsTable is what the sidecar's DNS serves for a Gateway whose
// translation found endpoints (translate.GatewayResult.Endpoints).
func EndpointsTable(endpoints map[string][]model.Endpoint) endpointdns.Table {
	table := endpointdns.Table{}
	for upstream, eps := range endpoints {
		table[upstream] = []netip.AddrPort{}
		for _, e := range eps {
			if ap, ok := e.AddrPort(); ok {
				table[upstream] = append(table[upstream], ap)
			}
		}
	}
	return table
}
