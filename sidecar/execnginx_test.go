package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// slowBackend answers "slow" after delay.
func slowBackend(t *testing.T, delay time.Duration) string {
	return startBackend(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
			_, _ = io.WriteString(w, "slow")
		case <-r.Context().Done():
		}
	})
}

// ppid reads a process's parent pid.
func ppid(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	n, _ := strconv.Atoi(fields[1])
	return n
}

// TestExecNginxDrainsOnSIGTERM: exec-nginx turns the container's SIGTERM
// into nginx's graceful stop, so a request in flight completes, and exits 0;
// the pid file names the nginx master (exec-nginx's child), not exec-nginx.
func TestExecNginxDrainsOnSIGTERM(t *testing.T) {
	p := newPod(t)
	p.write(httpConfig(p.ip, slowBackend(t, 1500*time.Millisecond), 1, newCert(t), ""))
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")

	master, ok := nginxproc.Master(filepath.Join(p.run, "nginx.pid"))
	if !ok {
		t.Fatal("no nginx master in the pid file")
	}
	if supervisor := p.nginx.cmd.Process.Pid; master == supervisor || ppid(t, master) != supervisor {
		t.Errorf("pid file names %d (parent %d); want nginx, the child of exec-nginx %d", master, ppid(t, master), supervisor)
	}
	// The sidecar can also find this master without the pid file (while it
	// starts), by its live prefix; other nginx instances are not taken.
	if got := nginxproc.StartingMasters(inside(filepath.Join(p.run, "live"))); len(got) != 1 || got[0] != master {
		t.Errorf("masters found by prefix: %v, want [%d]", got, master)
	}
	if got := nginxproc.StartingMasters(inside(filepath.Join(p.dir, "elsewhere"))); len(got) != 0 {
		t.Errorf("masters found for another prefix: %v", got)
	}

	type answer struct {
		code int
		body string
		err  error
	}
	inFlight := make(chan answer, 1)
	go func() {
		code, body, err := p.get("http", "/proxy")
		inFlight <- answer{code, body, err}
	}()
	time.Sleep(300 * time.Millisecond) // the request reaches the backend
	start := time.Now()
	if err := p.nginx.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	a := <-inFlight
	if a.err != nil || a.code != 200 || a.body != "slow" {
		t.Errorf("request in flight during SIGTERM: %d %q %v, want 200 slow", a.code, a.body, a.err)
	}
	select {
	case <-p.nginx.done:
	case <-time.After(10 * time.Second):
		t.Fatal("exec-nginx did not exit after draining")
	}
	if code := p.nginx.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exec-nginx exit code %d after a graceful stop, want 0", code)
	}
	t.Logf("drained and stopped in %v", time.Since(start).Round(time.Millisecond))
}

// TestExecNginxDrainIsBounded: a request longer than --drain-timeout does
// not hold the container: nginx is stopped fast once the bound passes.
func TestExecNginxDrainIsBounded(t *testing.T) {
	p := newPod(t)
	p.extraNginxArgs = []string{"--drain-timeout", "1s", "--kill-timeout", "2s"}
	p.write(httpConfig(p.ip, slowBackend(t, 30*time.Second), 1, newCert(t), ""))
	p.startSidecar()
	p.startNginx()
	p.waitServed("/", "v=1")
	go func() { _, _, _ = p.get("http", "/proxy") }()
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := p.nginx.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.nginx.done:
	case <-time.After(8 * time.Second):
		t.Fatal("exec-nginx outlived its drain bound")
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("exec-nginx stopped after %v, before its 1s drain bound", took)
	}
}

// TestWorkerCountFollowsTheContainer: exec-nginx runs one worker per CPU of
// the container's limit, or the number the operator passed, whatever the
// machine's cores, and the sidecar checks the tree with the same -g.
func TestWorkerCountFollowsTheContainer(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  []string
		want int
	}{
		{"CPU limit 1500m", []string{dataplane.EnvWorkerProcesses + "=auto", dataplane.EnvCPULimitMillicores + "=1500"}, 2},
		{"CPU limit 500m", []string{dataplane.EnvWorkerProcesses + "=auto", dataplane.EnvCPULimitMillicores + "=500"}, 1},
		{"a number wins", []string{dataplane.EnvWorkerProcesses + "=3", dataplane.EnvCPULimitMillicores + "=1000"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPod(t)
			p.env = append(p.env, tc.env...)
			p.nginxEnv = tc.env
			c := httpConfig(p.ip, okBackend(t), 1, newCert(t), "")
			// As the operator renders it: no worker_processes of its own.
			c.configFiles["nginx.conf"] = []byte(strings.Replace(mainConf, "worker_processes 2;", "", 1))
			p.serve(c, "v=1")
			if _, workers := p.nginxPids(); len(workers) != tc.want {
				t.Errorf("%d nginx workers, want %d", len(workers), tc.want)
			}
		})
	}
}
