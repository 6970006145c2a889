package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/go-logr/logr"
	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/nginxproc"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == dataplane.ExecNginxCommand {
		os.Exit(execNginx(args[1:]))
	}
	os.Exit(run(args))
}

// pathFlags are the paths both commands share; defaults are the pod's.
type pathFlags struct {
	runPath, livePath, pidFile, nginx string
	verbosity                         int
}

func (p *pathFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&p.runPath, "run-path", dataplane.RunPath, "folder shared by nginx and the sidecar (staging folders, emergency log)")
	fs.StringVar(&p.livePath, "live-path", dataplane.LivePath, "symlink to the validated config nginx serves")
	fs.StringVar(&p.pidFile, "pid-file", dataplane.PidFile, "nginx's pid file")
	fs.StringVar(&p.nginx, "nginx", "nginx", "nginx binary (looked up in PATH)")
	fs.IntVar(&p.verbosity, "v", 0, "log verbosity (1 logs every file event)")
}

func (p *pathFlags) emergLog() *nginxproc.EmergLog {
	return &nginxproc.EmergLog{Path: filepath.Join(p.runPath, "nginx-emerg.log")}
}

func (p *pathFlags) stagingDir() string { return filepath.Join(p.runPath, "configs") }

// workerProcesses is nginx's worker count in this pod, the same in both
// containers (the env is on both): see nginxproc.WorkerCount.
func (p *pathFlags) workerProcesses() int {
	return nginxproc.WorkerCount(os.Getenv, runtime.NumCPU())
}

// reloadFIFO is where exec-nginx takes the sidecar's reload requests.
func (p *pathFlags) reloadFIFO() string { return filepath.Join(p.runPath, "reload.fifo") }

// newLogger logs JSON to stderr through zap.
func newLogger(name string, verbosity int) logr.Logger {
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(zapcore.Level(-verbosity))
	cfg.Sampling = nil
	cfg.DisableStacktrace = true
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	z, err := cfg.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	return zapr.NewLogger(z).WithName(name)
}
