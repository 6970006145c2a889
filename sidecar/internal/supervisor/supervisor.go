package supervisor

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/go-logr/logr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

// Options configure the supervisor.
type Options struct {
	Nginx    string // nginx binary
	LivePath string // the live config symlink, nginx's prefix
	PidFile  string
	// SocketDir holds nginx's unix sockets: created, and emptied of socket
	// files, before nginx starts, since a socket file left by a killed
	// nginx makes its bind fail. Empty: none.
	SocketDir string
	// ReloadFIFO is where the sidecar asks for reloads (see
	// nginxproc.ListenReloads); each request becomes a SIGHUP to nginx.
	ReloadFIFO string
	EmergLog   *nginxproc.EmergLog
	// DrainTimeout bounds the graceful shutdown after SIGTERM; KillTimeout
	// the fast shutdown after it.
	DrainTimeout, KillTimeout time.Duration
	// PollInterval is how often the live config is looked for.
	PollInterval time.Duration
	Log          logr.Logger
	Stdout       io.Writer // nginx's stdout (access logs) goes straight here when it is a file
	Stderr       io.Writer
}

// Run waits for the live config, runs nginx until it exits and returns its
// exit code. Stop signals received while waiting end Run with code 0.
func Run(opts Options) (int, error) {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1)
	defer signal.Stop(signals)

	// Listen before nginx starts: the sidecar asks for reloads only once a
	// master runs, so a request always finds a listener.
	reloads, stopReloads, err := nginxproc.ListenReloads(opts.ReloadFIFO)
	if err != nil {
		return 1, err
	}
	defer stopReloads()

	if stopped := waitForConfig(opts, signals); stopped {
		return 0, nil
	}
	// nginx starts from the live config: earlier requests are moot.
	select {
	case <-reloads:
	default:
	}

	if err := clearSockets(opts.SocketDir); err != nil {
		return 1, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 1, err
	}
	cmd := exec.Command(opts.Nginx, nginxproc.RunArgs(opts.LivePath, opts.PidFile)...)
	cmd.Stdout = opts.Stdout
	// An *os.File, so exec does not wait for a copier: orphaned workers may
	// keep the write end open after the master is gone.
	cmd.Stderr = errW
	if err := cmd.Start(); err != nil {
		errR.Close()
		errW.Close()
		return 1, fmt.Errorf("starting nginx: %w", err)
	}
	errW.Close()
	go copyStderr(errR, opts.Stderr, opts.EmergLog)
	opts.Log.Info("nginx started", "pid", cmd.Process.Pid, "args", cmd.Args)

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var escalate <-chan time.Time
	stage := "running"
	for {
		select {
		case err := <-exited:
			return exitCode(cmd, err, opts.Log, stage)
		case <-reloads:
			if stage == "running" {
				_ = cmd.Process.Signal(syscall.SIGHUP)
			}
		case sig := <-signals:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
				if stage != "running" {
					continue
				}
				stage = "draining"
				opts.Log.Info("stopping nginx gracefully", "signal", sig.String(), "bound", opts.DrainTimeout)
				_ = cmd.Process.Signal(syscall.SIGQUIT)
				escalate = time.After(opts.DrainTimeout)
			default: // SIGHUP reloads, SIGUSR1 reopens logs: nginx's own meaning
				_ = cmd.Process.Signal(sig)
			}
		case <-escalate:
			switch stage {
			case "draining":
				stage = "stopping"
				opts.Log.Info("draining took too long; stopping nginx fast")
				_ = cmd.Process.Signal(syscall.SIGTERM)
				escalate = time.After(opts.KillTimeout)
			default:
				stage = "killed"
				opts.Log.Info("nginx did not stop; killing it")
				_ = cmd.Process.Kill()
				escalate = nil
			}
		}
	}
}

// waitForConfig polls for LivePath/nginx.conf (the sidecar creates it once a
// config passed nginx -t). It reports whether a stop signal came first.
func waitForConfig(opts Options, signals <-chan os.Signal) bool {
	conf := filepath.Join(opts.LivePath, nginxproc.ConfigFile)
	tick := time.NewTicker(opts.PollInterval)
	defer tick.Stop()
	started := time.Now()
	lastLog := started
	for {
		if _, err := os.Stat(conf); err == nil {
			return false
		}
		select {
		case sig := <-signals:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
				opts.Log.Info("stopped before any config was live", "signal", sig.String())
				return true
			}
		case now := <-tick.C:
			if now.Sub(lastLog) >= 10*time.Second {
				lastLog = now
				opts.Log.Info("waiting for the live config", "path", conf, "waited", now.Sub(started).Round(time.Second))
			}
		}
	}
}

// copyStderr forwards nginx's stderr line by line and keeps its emergency
// messages for the sidecar.
func copyStderr(r *os.File, w io.Writer, emerg *nginxproc.EmergLog) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			_, _ = w.Write(line)
			if nginxproc.IsEmerg(line) {
				_ = emerg.Append(append([]byte(nil), line...))
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func exitCode(cmd *exec.Cmd, err error, log logr.Logger, stage string) (int, error) {
	code := cmd.ProcessState.ExitCode()
	log.Info("nginx exited", "state", cmd.ProcessState.String(), "during", stage)
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return 1, err
	}
	if code < 0 { // killed by a signal
		return 128 + int(cmd.ProcessState.Sys().(syscall.WaitStatus).Signal()), nil
	}
	return code, nil
}

// clearSockets creates dir and removes the socket files in it. The folder
// itself stays: the sidecar's `nginx -t` may be binding in it (nginx -t
// binds unix sockets and tolerates one that is in use).
func clearSockets(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Type()&os.ModeSocket != 0 {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				return err
			}
		}
	}
	return nil
}
