package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// containerRunner runs one container as a process, restarting it per the
// pod's restart policy with the kubelet's doubling back-off, and keeps the
// status the pod reports for it.
type containerRunner struct {
	w    *podWorker
	spec corev1.Container
	// runToCompletion: an init container; restarts only on failure, and
	// finished closes after it succeeds (or fails for good).
	runToCompletion bool
	dir             string

	mu       sync.Mutex
	status   corev1.ContainerStatus
	proc     *os.Process
	exited   chan struct{} // closed when the current process has exited
	ready    bool
	started  bool
	lastExit int32
	done     bool // the supervisor will not start it again

	stopOnce sync.Once
	stopCh   chan struct{}
	finished chan struct{}
}

func newContainerRunner(w *podWorker, c corev1.Container, runToCompletion bool) *containerRunner {
	return &containerRunner{
		w: w, spec: c, runToCompletion: runToCompletion,
		dir: filepath.Join(w.dir, "containers", c.Name),
		status: corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "localcluster://" + c.Image,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}},
		},
		stopCh:   make(chan struct{}),
		finished: make(chan struct{}),
	}
}

func (r *containerRunner) start() { go r.supervise() }

func (r *containerRunner) succeeded() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done && r.lastExit == 0
}

func (r *containerRunner) stopping() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return false
	}
}

// restartPolicy is the container's own (sidecar init containers) or the pod's.
func (r *containerRunner) restartPolicy() corev1.RestartPolicy {
	if r.spec.RestartPolicy != nil && *r.spec.RestartPolicy == corev1.ContainerRestartPolicyAlways {
		return corev1.RestartPolicyAlways
	}
	p := r.w.currentPod().Spec.RestartPolicy
	if r.runToCompletion && p == corev1.RestartPolicyAlways {
		return corev1.RestartPolicyOnFailure
	}
	return p
}

func (r *containerRunner) supervise() {
	defer close(r.finished)
	backoff := r.w.a.cfg.RestartBackoff
	for {
		began := time.Now()
		exitCode, err := r.runOnce()
		if r.stopping() {
			r.markDone()
			return
		}
		policy := r.restartPolicy()
		if err == nil && (policy == corev1.RestartPolicyNever || (policy == corev1.RestartPolicyOnFailure && exitCode == 0)) {
			r.markDone()
			return
		}
		if time.Since(began) > 10*time.Minute {
			backoff = r.w.a.cfg.RestartBackoff
		}
		reason, message := "CrashLoopBackOff", fmt.Sprintf("back-off %s restarting failed container %s", backoff, r.spec.Name)
		if err != nil {
			reason, message = "CreateContainerError", err.Error()
			r.w.logf("container %s: %v", r.spec.Name, err)
			r.event(corev1.EventTypeWarning, "Failed", "Error: %v", err)
		} else {
			r.event(corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s (exit code %d)", r.spec.Name, exitCode)
		}
		r.mu.Lock()
		if r.status.State.Terminated != nil {
			r.status.LastTerminationState = corev1.ContainerState{Terminated: r.status.State.Terminated}
		}
		r.status.State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}
		r.mu.Unlock()
		select {
		case <-r.stopCh:
			r.markDone()
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Minute)
		r.mu.Lock()
		r.status.RestartCount++
		r.mu.Unlock()
	}
}

func (r *containerRunner) markDone() {
	r.mu.Lock()
	r.done = true
	r.mu.Unlock()
}

// logPath is the log of one run; the kubelet keeps the current and the
// previous one (kubectl logs --previous).
func (r *containerRunner) logPath(restart int32) string {
	return filepath.Join(r.w.dir, "logs", r.spec.Name, strconv.Itoa(int(restart))+".log")
}

// runOnce starts the container's process and waits for it to exit. An error
// means it could not start.
func (r *containerRunner) runOnce() (int32, error) {
	pod := r.w.currentPod()
	rule, ok := matchImage(r.w.a.cfg.Images, r.spec.Image)
	if !ok {
		return 0, fmt.Errorf("image %q matches no image rule of the node agent", r.spec.Image)
	}
	for _, hostPath := range ruleFiles(rule) {
		if _, err := os.Stat(hostPath); err != nil {
			return 0, fmt.Errorf("image %q needs %s, which is missing (not built yet?)", r.spec.Image, hostPath)
		}
	}
	envList, envMap, err := r.w.containerEnv(&r.spec, rule.Env)
	if err != nil {
		return 0, err
	}
	argv, err := containerArgv(rule, &r.spec, envMap)
	if err != nil {
		return 0, err
	}
	spec, err := r.initSpec(pod, rule, argv)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	restart := r.status.RestartCount
	r.mu.Unlock()
	logFile, err := r.openLog(restart)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()

	specPath := filepath.Join(r.dir, "init.json")
	raw, _ := json.Marshal(spec)
	if err := os.WriteFile(specPath, raw, 0o600); err != nil {
		return 0, err
	}
	r.w.mu.Lock()
	pn := r.w.net
	r.w.mu.Unlock()
	if pn == nil {
		return 0, errors.New("pod network is gone")
	}
	cmd := exec.Command("ip", "netns", "exec", pn.NetNS, r.w.a.self)
	cmd.Env = append(envList, initSpecEnv+"="+specPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Own process group: a stop reaches everything the program forked.
	// Pdeathsig: if the agent dies without cleaning up, so do its containers.
	// A UTS namespace of its own: hostname answers the pod's name.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWUTS}
	exited := make(chan struct{})
	r.mu.Lock()
	if r.stopping() {
		r.mu.Unlock()
		return 0, nil
	}
	if err := cmd.Start(); err != nil {
		r.mu.Unlock()
		return 0, err
	}
	startedAt := metav1.Now()
	r.status.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: startedAt}}
	r.status.ContainerID = fmt.Sprintf("localcluster://%s-%s-%d", shortID(string(pod.UID)), r.spec.Name, cmd.Process.Pid)
	r.proc, r.exited = cmd.Process, exited
	r.ready, r.started = false, r.spec.StartupProbe == nil
	r.mu.Unlock()

	r.event(corev1.EventTypeNormal, "Started", "Started container %s", r.spec.Name)
	probesDone := make(chan struct{})
	go func() {
		defer close(probesDone)
		r.probe(cmd.Process.Pid, envList, exited)
	}()
	waitErr := cmd.Wait()
	// The main process is gone: whatever it left in its group goes too,
	// as a container's processes die with its PID 1.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	close(exited)
	<-probesDone

	code := int32(0)
	reason := "Completed"
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return 0, waitErr
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int32(ws.Signal())
		} else {
			code = int32(ee.ExitCode())
		}
		reason = "Error"
	}
	r.mu.Lock()
	r.proc, r.ready, r.lastExit = nil, false, code
	r.status.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
		ExitCode: code, Reason: reason, StartedAt: startedAt, FinishedAt: metav1.Now(),
		ContainerID: r.status.ContainerID,
	}}
	r.mu.Unlock()
	return code, nil
}

// openLog creates the log file of run number restart and removes the ones
// older than the previous run.
func (r *containerRunner) openLog(restart int32) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(r.logPath(0)), 0o755); err != nil {
		return nil, err
	}
	for old := int32(0); old+1 < restart; old++ {
		_ = os.Remove(r.logPath(old))
	}
	return os.OpenFile(r.logPath(restart), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
}

// initSpec lays out the container's overlay folders and lists its mounts.
func (r *containerRunner) initSpec(pod *corev1.Pod, rule ImageRule, argv []string) (*initSpec, error) {
	upper, work, root := filepath.Join(r.dir, "upper"), filepath.Join(r.dir, "work"), filepath.Join(r.dir, "root")
	// A restarted container starts from its image again, as a new container does.
	for _, d := range []string{upper, work} {
		if err := os.RemoveAll(d); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{upper, work, root} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	lower := rule.Rootfs
	if lower == "" {
		lower = "/"
	}
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	user, err := containerUser(pod, &r.spec, rule.User)
	if err != nil {
		return nil, err
	}
	sysctls, err := podSysctls(pod)
	if err != nil {
		return nil, err
	}
	spec := &initSpec{Lower: lower, Upper: upper, Work: work, Root: root, Dir: r.spec.WorkingDir, Argv: argv, Hostname: hostname,
		User: user, Sysctls: sysctls}
	if rule.Entrypoint != "" {
		spec.Mounts = append(spec.Mounts, initMount{
			Source: rule.Entrypoint, Target: filepath.Join(entrypointDir, filepath.Base(rule.Entrypoint)), ReadOnly: true})
	}
	binds := make([]string, 0, len(rule.Binds))
	for target := range rule.Binds {
		binds = append(binds, target)
	}
	sort.Strings(binds)
	for _, target := range binds {
		spec.Mounts = append(spec.Mounts, initMount{Source: rule.Binds[target], Target: target, ReadOnly: true})
	}
	termLog := filepath.Join(r.dir, "termination-log")
	if err := os.WriteFile(termLog, nil, 0o666); err != nil {
		return nil, err
	}
	termPath := r.spec.TerminationMessagePath
	if termPath == "" {
		termPath = corev1.TerminationMessagePathDefault
	}
	spec.Mounts = append(spec.Mounts, initMount{Source: termLog, Target: termPath})
	hasHosts := false
	for _, vm := range r.spec.VolumeMounts {
		src, err := r.w.volumeMountSource(pod, vm)
		if err != nil {
			return nil, err
		}
		spec.Mounts = append(spec.Mounts, initMount{Source: src, Target: vm.MountPath, ReadOnly: vm.ReadOnly})
		hasHosts = hasHosts || vm.MountPath == "/etc/hosts"
	}
	if !hasHosts {
		spec.Mounts = append(spec.Mounts, initMount{Source: filepath.Join(r.w.dir, "etc-hosts"), Target: "/etc/hosts", ReadOnly: true})
	}
	return spec, nil
}

// stop ends the container for good: SIGTERM to its main process, SIGKILL
// to its process group once grace has passed.
func (r *containerRunner) stop(grace time.Duration) {
	r.stopOnce.Do(func() { close(r.stopCh) })
	r.kill(grace)
	<-r.finished
}

// kill terminates the current process (liveness failure or stop); the
// supervisor decides whether it starts again.
func (r *containerRunner) kill(grace time.Duration) {
	r.mu.Lock()
	proc, exited := r.proc, r.exited
	r.mu.Unlock()
	if proc == nil {
		return
	}
	r.event(corev1.EventTypeNormal, "Killing", "Stopping container %s", r.spec.Name)
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(grace):
		_ = syscall.Kill(-proc.Pid, syscall.SIGKILL)
		<-exited
	}
}

// containerStatus is the status to report, Ready included.
func (r *containerRunner) containerStatus() corev1.ContainerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := *r.status.DeepCopy()
	running := s.State.Running != nil
	s.Ready = running && r.ready
	started := running && r.started
	s.Started = &started
	return s
}

// event records a pod event about this container.
func (r *containerRunner) event(eventType, reason, format string, args ...any) {
	r.w.a.events.Eventf(r.w.currentPod(), eventType, reason, format, args...)
}
