package main

import (
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/supervisor"
)

// execNginx is the nginx container's command; see package supervisor for
// why it supervises nginx instead of exec'ing it.
func execNginx(args []string) int {
	var paths pathFlags
	fs := flag.NewFlagSet("nginx-gateway-sidecar exec-nginx", flag.ContinueOnError)
	paths.register(fs)
	drain := fs.Duration("drain-timeout", 25*time.Second, "bound on nginx's graceful shutdown after SIGTERM (keep below the pod's termination grace period)")
	kill := fs.Duration("kill-timeout", 3*time.Second, "bound on nginx's fast shutdown after the drain bound, before SIGKILL")
	poll := fs.Duration("poll-interval", 100*time.Millisecond, "how often to look for the live config before nginx starts")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger("exec-nginx", paths.verbosity)
	code, err := supervisor.Run(supervisor.Options{
		Nginx:        paths.nginx,
		LivePath:     paths.livePath,
		PidFile:      paths.pidFile,
		SocketDir:    filepath.Join(paths.runPath, filepath.Base(dataplane.SocketPath)),
		ReloadFIFO:   paths.reloadFIFO(),
		EmergLog:     paths.emergLog(),
		DrainTimeout: *drain,
		KillTimeout:  *kill,
		PollInterval: *poll,
		Log:          log,
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
	})
	if err != nil {
		log.Error(err, "running nginx")
	}
	return code
}
