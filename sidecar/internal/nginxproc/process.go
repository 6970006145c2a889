package nginxproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ConfigFile is the main config file's name inside a config tree.
const ConfigFile = "nginx.conf"

// Globals are the main-context directives the launcher adds with -g: the
// rendered config sets none of them, so nginx stays in the foreground of
// its container, writes its pid where the sidecar reads it, and runs as
// many workers as the container has CPUs (WorkerCount).
type Globals struct {
	PidFile string
	// WorkerProcesses is nginx's worker_processes; 0 leaves it to the
	// config (nginx's default is 1).
	WorkerProcesses int
}

// Directives is the -g argument.
func (g Globals) Directives() string {
	d := "daemon off; pid " + g.PidFile + ";"
	if g.WorkerProcesses > 0 {
		d += " worker_processes " + strconv.Itoa(g.WorkerProcesses) + ";"
	}
	return d
}

// RunArgs are nginx's arguments to serve the tree at prefix (a folder or a
// symlink to one).
func RunArgs(prefix string, g Globals) []string {
	return []string{"-p", withSlash(prefix), "-c", ConfigFile, "-g", g.Directives()}
}

func withSlash(dir string) string {
	return strings.TrimSuffix(dir, "/") + "/"
}

// Validate runs `nginx -t` on the tree in dir, with -g directives of the
// same shape nginx runs with (so a rendered `pid`, `daemon` or
// `worker_processes` directive is caught as the duplicate it would be at
// start; workers as the launcher passes them, 0 for none). On failure it
// returns nginx's own message.
//
// `nginx -t` creates the pid file it is given (empty, to check that it
// can), so it gets one of its own in the caller's temp folder: the real
// one must be created by nginx's master, which runs as another user.
func Validate(ctx context.Context, nginx, dir string, workers int) (string, error) {
	args := append([]string{"-t", "-q"}, RunArgs(dir, Globals{PidFile: ValidationPidFile(), WorkerProcesses: workers})...)
	cmd := exec.CommandContext(ctx, nginx, args...)
	out, err := cmd.CombinedOutput()
	msg := strings.TrimSpace(string(out))
	if err != nil {
		if msg == "" {
			msg = err.Error()
		}
		return msg, fmt.Errorf("nginx -t: %w", err)
	}
	return msg, nil
}

// ValidationPidFile is the pid file `nginx -t` is given.
func ValidationPidFile() string {
	return filepath.Join(os.TempDir(), "nginx-gateway-validate.pid")
}

// Master returns the pid in pidFile when that process is alive and is
// nginx. A pid file left by a killed nginx may name a reused pid, hence the
// check of the process name.
func Master(pidFile string) (int, bool) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, IsNginx(pid)
}

// IsNginx says whether pid is a live nginx process (not a zombie).
func IsNginx(pid int) bool {
	stat, err := readStat(pid)
	if err != nil {
		return false
	}
	return stat.comm == "nginx" && stat.state != "Z" && stat.state != "X"
}

// StartingMasters finds nginx masters run with prefix (the live symlink)
// whatever the pid file says: a master that is still reading its config has
// not written the pid file yet, and it may have read the previous tree.
// A master is an nginx process whose parent is not nginx.
func StartingMasters(prefix string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := " -p " + withSlash(prefix) + " "
	var masters []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !IsNginx(pid) {
			continue
		}
		st, err := readStat(pid)
		if err != nil || IsNginx(st.ppid) {
			continue
		}
		// Before nginx rewrites its title, cmdline is argv with NULs; after,
		// one line "nginx: master process nginx -p ...".
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err == nil && strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " ")+" ", want) {
			masters = append(masters, pid)
		}
	}
	return masters
}

// Children returns the pids whose parent is pid. It reads the kernel's
// per-task children lists and falls back to scanning /proc when the kernel
// lacks them.
func Children(pid int) (map[int]bool, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err == nil && len(tasks) > 0 {
		kids := map[int]bool{}
		ok := true
		for _, t := range tasks {
			data, err := os.ReadFile(t)
			if err != nil {
				ok = false
				break
			}
			for _, f := range strings.Fields(string(data)) {
				if n, err := strconv.Atoi(f); err == nil {
					kids[n] = true
				}
			}
		}
		if ok {
			return kids, nil
		}
	}
	return scanChildren(pid)
}

func scanChildren(parent int) (map[int]bool, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	kids := map[int]bool{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(pid); err == nil && st.ppid == parent {
			kids[pid] = true
		}
	}
	return kids, nil
}

type procStat struct {
	comm  string
	state string
	ppid  int
}

// readStat parses /proc/PID/stat; comm is in parentheses and may hold spaces.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("malformed stat")
	}
	rest := strings.Fields(string(data[end+1:]))
	if len(rest) < 2 {
		return procStat{}, errors.New("malformed stat")
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return procStat{}, err
	}
	return procStat{comm: string(data[open+1 : end]), state: rest[0], ppid: ppid}, nil
}

// Signal sends sig to pid.
func Signal(pid int, sig syscall.Signal) error {
	return syscall.Kill(pid, sig)
}

// ErrorSettle is how long nginx must stay quiet after an emergency
// message before a reload counts as failed. Not every such message is
// final: nginx retries a bind() that failed five times, 500 ms apart, and a
// retry that succeeds loads the new config after all.
const ErrorSettle = time.Second

// WaitNewGeneration waits until the master has a child that was not among
// before (a worker of the new generation: the master starts all new workers
// before telling old ones to quit). It fails when nginx reported errors and
// then stayed quiet for ErrorSettle without new workers, when the master
// died, or when timeout passes.
func WaitNewGeneration(ctx context.Context, master int, before map[int]bool, errs *EmergLog, errOffset int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	var lastMsg string
	var lastMsgAt time.Time
	for {
		if kids, err := Children(master); err == nil {
			for pid := range kids {
				if !before[pid] {
					return nil
				}
			}
		}
		now := time.Now()
		if msg := errs.Since(errOffset); msg != lastMsg {
			lastMsg, lastMsgAt = msg, now
		}
		if lastMsg != "" && now.Sub(lastMsgAt) >= ErrorSettle {
			return &ReloadError{Message: CleanMessage(lastMsg)}
		}
		if !IsNginx(master) {
			return &ReloadError{Message: fmt.Sprintf("nginx master %d exited during reload", master)}
		}
		if now.After(deadline) {
			msg := fmt.Sprintf("nginx started no new workers within %s", timeout)
			if lastMsg != "" {
				msg += ": " + CleanMessage(lastMsg)
			}
			return &ReloadError{Message: msg, Timeout: true}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// logPrefix is the time and pid#tid nginx puts before a log message.
var logPrefix = regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[[a-z]+\]) \d+#\d+: `)

// CleanMessage drops the time and process ids from nginx's log lines and
// repeated lines, leaving what a person needs in an annotation.
func CleanMessage(log string) string {
	var out []string
	seen := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(log), "\n") {
		line = logPrefix.ReplaceAllString(strings.TrimSpace(line), "$1 ")
		if line != "" && !seen[line] {
			seen[line] = true
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// ReloadError is a reload nginx refused or did not finish.
type ReloadError struct {
	Message string
	// Timeout is set when nginx neither reported an error nor started new
	// workers in time: its state is unknown.
	Timeout bool
}

func (e *ReloadError) Error() string { return "reload failed: " + e.Message }
