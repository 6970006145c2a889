package pcre

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
)

// nginxRegexes runs nginx (from the test root filesystem, on 127.0.0.1
// and a free port) with one map per translated pattern over $uri; GET
// /g<k>/<percent-encoded subject> answers one "0" or "1" per pattern of
// chunk k (the maps match $uri without "/g<k>/").
type nginxRegexes struct {
	base   string
	client *http.Client
}

// chunk is how many patterns one location answers for (nginx takes 4,095
// bytes per token, the return string included).
const chunk = 400

var jit = "on"

// nginxConf writes the config: pattern i is map $subject $m<i>, and
// location /g<k>/ answers for patterns k*chunk… .
func nginxConf(patterns []string, addr string, port int) string {
	var b strings.Builder
	b.WriteString("worker_processes 1;\nerror_log stderr;\npcre_jit " + jit + ";\nevents { worker_connections 64; }\nhttp {\naccess_log off;\n")
	b.WriteString("map $uri $subject {\n\"~(?s)\\\\A/g[0-9]+/(.*)\\\\z\" $1;\n}\n")
	for i, p := range patterns {
		fmt.Fprintf(&b, "map $subject $m%d {\n\"~%s\" 1;\ndefault 0;\n}\n", i, nginxQuote(p))
	}
	fmt.Fprintf(&b, "server {\nlisten %s:%d;\n", addr, port)
	for k := 0; k*chunk < len(patterns); k++ {
		fmt.Fprintf(&b, "location /g%d/ {\nreturn 200 \"", k)
		for i := k * chunk; i < len(patterns) && i < (k+1)*chunk; i++ {
			fmt.Fprintf(&b, "$m%d", i)
		}
		b.WriteString("\";\n}\n")
	}
	b.WriteString("}\n}\n")
	return b.String()
}

// nginxQuote escapes a value for a double-quoted nginx string.
func nginxQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return strings.ReplaceAll(s, `$`, `${ngo_dollar}`)
}

func nginxRootfs(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running nginx in its root filesystem needs root (chroot)")
	}
	if os.Getenv("NGINX_ROOTFS") == "" && testing.Short() {
		t.Skip("starts nginx")
	}
	rootfs, err := testenv.NginxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	return rootfs
}

// stage writes conf into the root filesystem and returns its path inside.
func stage(t testing.TB, rootfs, conf string) string {
	dir, err := os.MkdirTemp(filepath.Join(rootfs, "tmp"), "pcre-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return "/" + strings.TrimPrefix(strings.TrimPrefix(dir, rootfs), "/") + "/"
}

// nginxTest runs nginx -t on conf (testenv.NginxTest) and returns its
// output and whether it passed.
func nginxTest(t testing.TB, conf string) (string, bool) {
	nginxRootfs(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testenv.NginxTest(dir); err != nil {
		return err.Error(), false
	}
	return "", true
}

func startRegexes(t testing.TB, patterns []string) *nginxRegexes {
	t.Helper()
	rootfs := nginxRootfs(t)
	addr, port := freeAddr(t)
	conf := nginxConf(patterns, addr, port)
	if out, ok := nginxTest(t, conf); !ok {
		t.Fatalf("%s", explain(out, conf))
	}
	inside := stage(t, rootfs, conf)
	cmd := exec.Command("chroot", rootfs, "nginx", "-p", inside, "-c", "nginx.conf", "-g", "daemon off; pid "+inside+"nginx.pid;")
	logs := &testenv.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("nginx output:\n%s", logs.String())
		}
	})
	target := net.JoinHostPort(addr, strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", target, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx did not listen on %s\n%s", target, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &nginxRegexes{base: "http://" + target, client: &http.Client{Timeout: 10 * time.Second}}
}

// explain adds the offending map to an nginx -t error that names a line.
func explain(out, conf string) string {
	m := regexp.MustCompile(`nginx\.conf:(\d+)`).FindStringSubmatch(out)
	if m == nil {
		return out
	}
	n, _ := strconv.Atoi(m[1])
	lines := strings.Split(conf, "\n")
	if n-1 < len(lines) {
		line := lines[n-1]
		if len(line) > 300 {
			line = line[:300] + "…"
		}
		return out + "\nline: " + line
	}
	return out
}

// freeAddr returns 127.0.0.1 and a port free on it.
func freeAddr(t testing.TB) (string, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "127.0.0.1", l.Addr().(*net.TCPAddr).Port
}

// match asks nginx which of n patterns match subject: one byte each.
func (r *nginxRegexes) match(t testing.TB, subject string, n int) (string, int) {
	t.Helper()
	var all strings.Builder
	for k := 0; k*chunk < n; k++ {
		var path strings.Builder
		fmt.Fprintf(&path, "/g%d/", k)
		for i := 0; i < len(subject); i++ {
			fmt.Fprintf(&path, "%%%02X", subject[i])
		}
		req, err := http.NewRequest("GET", r.base+path.String(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.URL.Opaque = path.String()
		resp, err := r.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return string(body), resp.StatusCode
		}
		all.Write(body)
	}
	return all.String(), http.StatusOK
}
