//go:build benche2e

package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// floorPort is where plain nginx listens, in the gateway pod's network
// namespace (the Gateway listens on 80 there).
const floorPort = 18080

// floor is plain nginx (the gateway image's nginx, from the same root
// filesystem) with a config a person would write for the same routes: one
// upstream with the echo pods and keepalive, and per PathPrefix route the
// two locations that mean the same (`= /p` and `/p/`). It runs in the
// gateway pod's network namespace, so both reach the backends the same way
// and clients reach both over the same bridge.
type floor struct {
	t        *testing.T
	dir      string // the prefix, inside the root filesystem
	inside   string // the same folder as nginx sees it (chroot)
	url      string
	backends []string
	paths    []string
	master   int
	cmd      *exec.Cmd
	stderr   *testenv.SyncBuffer
}

func startFloor(t *testing.T, b *bench) *floor {
	rootfs, err := testenv.NginxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "bench-floor-")
	if err != nil {
		t.Fatal(err)
	}
	f := &floor{t: t, dir: dir, inside: "/" + strings.TrimPrefix(strings.TrimPrefix(dir, rootfs), "/") + "/",
		url: fmt.Sprintf("http://%s:%d", b.podIP, floorPort), stderr: &testenv.SyncBuffer{}}
	slices, err := b.c.Client.DiscoveryV1().EndpointSlices(namespace).List(b.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + backendService})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slices.Items {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, p := range s.Ports {
				if p.Port != nil {
					f.backends = append(f.backends, fmt.Sprintf("%s:%d", ep.Addresses[0], *p.Port))
				}
			}
		}
	}
	if len(f.backends) == 0 {
		t.Fatal("the echo Service has no ready endpoints")
	}
	f.write()
	f.cmd = exec.Command("ip", "netns", "exec", b.netns, "chroot", rootfs, "nginx", "-p", f.inside, "-c", "nginx.conf",
		"-g", "daemon off; pid "+f.inside+"nginx.pid;")
	f.cmd.Stdout, f.cmd.Stderr = f.stderr, f.stderr
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.stop)
	testenv.Eventually(t, 20*time.Second, "plain nginx started", func() error {
		data, err := os.ReadFile(filepath.Join(dir, "nginx.pid"))
		if err != nil {
			return fmt.Errorf("%v: %s", err, f.stderr.String())
		}
		f.master, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err
	})
	return f
}

// stop ends nginx gracefully, then for sure, and removes its folder.
func (f *floor) stop() {
	if f.cmd.Process != nil {
		_ = f.cmd.Process.Signal(syscall.SIGQUIT)
		done := make(chan struct{})
		go func() { _ = f.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = f.cmd.Process.Kill()
			<-done
		}
	}
	_ = os.RemoveAll(f.dir)
}

// config is the hand-written config of f.paths.
func (f *floor) config() string {
	var b strings.Builder
	b.WriteString(`worker_processes auto;
error_log stderr notice;
events { worker_connections 1024; }
http {
    client_body_temp_path client_body_temp;
    proxy_temp_path proxy_temp;
    access_log access.log;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    upstream echo {
`)
	for _, be := range f.backends {
		fmt.Fprintf(&b, "        server %s;\n", be)
	}
	fmt.Fprintf(&b, "        keepalive 32;\n    }\n    server {\n        listen %d;\n", floorPort)
	for _, p := range f.paths {
		fmt.Fprintf(&b, "        location = %s { proxy_pass http://echo; }\n        location %s/ { proxy_pass http://echo; }\n", p, p)
	}
	b.WriteString("    }\n}\n")
	return b.String()
}

func (f *floor) write() {
	if err := os.WriteFile(filepath.Join(f.dir, "nginx.conf"), []byte(f.config()), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// setPaths makes the config serve paths and reloads, waiting until the
// last one answers.
func (f *floor) setPaths(paths []string) {
	f.paths = append([]string(nil), paths...)
	f.write()
	f.reloadUntilServed(f.paths[len(f.paths)-1])
}

// addAndReload adds one route and returns the time from the reload signal
// to its first 200: the floor of our route propagation.
func (f *floor) addAndReload(path string) time.Duration {
	f.paths = append(f.paths, path)
	f.write()
	return f.reloadUntilServed(path)
}

func (f *floor) reloadUntilServed(path string) time.Duration {
	began := time.Now()
	if err := syscall.Kill(f.master, syscall.SIGHUP); err != nil {
		f.t.Fatal(err)
	}
	ok, err := firstOK(f.t.Context(), f.url+path+"/x", time.Minute)
	if err != nil {
		f.t.Fatalf("plain nginx: %v\n%s", err, testenv.Tail(f.stderr.String(), 20))
	}
	return ok.Sub(began)
}
