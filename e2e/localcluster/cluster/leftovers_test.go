package cluster_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

// leftovers imitates what a run killed with SIGKILL leaves behind: a pod
// network namespace with a process in it, a veth pair, a state folder whose
// recorded control-plane process still runs.
type leftovers struct {
	netns, link, dir string
	waits            []chan struct{}
}

func makeLeftovers(t *testing.T) *leftovers {
	t.Helper()
	n := nodeagent.DefaultNetwork()
	l := &leftovers{netns: n.Prefix + "-0badf00d", link: n.Prefix + "v0badf00d"}
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "netns", "add", l.netns)
	run("ip", "link", "add", l.link, "type", "veth", "peer", "name", n.Prefix+"w0badf00d")
	dir, err := os.MkdirTemp("", "localcluster-")
	if err != nil {
		t.Fatal(err)
	}
	l.dir = dir
	if err := os.WriteFile(filepath.Join(dir, ".localcluster-state"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	start := func(args ...string) int {
		cmd := exec.Command(args[0], args[1:]...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			_ = cmd.Wait()
			close(done)
		}()
		l.waits = append(l.waits, done)
		return cmd.Process.Pid
	}
	start("ip", "netns", "exec", l.netns, "sleep", "600")
	// A "control-plane process" of the crashed run: its command line names the folder.
	pid := start("tail", "-f", filepath.Join(dir, ".localcluster-state"))
	if err := os.WriteFile(filepath.Join(dir, "pids"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *leftovers) assertSwept(t *testing.T) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), l.netns) {
		t.Errorf("network namespace %s not swept", l.netns)
	}
	if err := exec.Command("ip", "link", "show", l.link).Run(); err == nil {
		t.Errorf("link %s not swept", l.link)
	}
	for i, done := range l.waits {
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Errorf("leftover process %d still runs", i)
		}
	}
	if _, err := os.Stat(l.dir); !os.IsNotExist(err) {
		t.Errorf("state folder %s not swept", l.dir)
	}
}
