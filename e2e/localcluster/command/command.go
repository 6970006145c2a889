// Package command is the localcluster command line: start a local cluster,
// print how to reach it, wait for Ctrl-C, remove everything. The module's
// cmd/localcluster runs it with image rules from a file; a product wraps it
// with its own images and a deploy step (the repository's make run-local).
package command

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/nodeagent"
)

// Config is what a wrapper adds to the command.
type Config struct {
	// Flags, when set, adds the wrapper's own flags to the command's (a
	// FlagSet of its own: flags that imported packages register on the
	// global one are not the command's).
	Flags func(*flag.FlagSet)
	// Images returns the image rules; it runs after the flags are parsed.
	Images func() ([]nodeagent.ImageRule, error)
	// KubeBinDir, when set, finds the Kubernetes binaries (default:
	// KUBEBUILDER_ASSETS).
	KubeBinDir func() (string, error)
	// Deploy, when set, adds a -deploy flag (described by DeployUsage) that
	// runs Deploy once the cluster is up and prints its message.
	Deploy      func(ctx context.Context, c *cluster.Cluster, logf func(string, ...any)) (string, error)
	DeployUsage string
}

// Main runs the command and exits the process. Call it from main.
func Main(cfg Config) {
	// The node agent re-executes this binary as each container's init.
	nodeagent.RunContainerInitIfRequested()

	flags := flag.NewFlagSet(os.Args[0], flag.ExitOnError)
	kubeconfigLink := flags.String("kubeconfig-out", "", "also copy the admin kubeconfig to this path (removed on exit)")
	readyFile := flags.String("ready-file", "", "write the kubeconfig path to this file once the cluster is up (for scripts)")
	deploy := new(bool)
	if cfg.Deploy != nil {
		flags.BoolVar(deploy, "deploy", false, cfg.DeployUsage)
	}
	syncPeriod := flags.Duration("sync-period", time.Minute, "how often the node agent refreshes every pod's volumes")
	if cfg.Flags != nil {
		cfg.Flags(flags)
	}
	_ = flags.Parse(os.Args[1:]) // ExitOnError

	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		os.Exit(1)
	}
	opts := cluster.Options{SyncPeriod: *syncPeriod}
	var err error
	if cfg.Images != nil {
		if opts.Images, err = cfg.Images(); err != nil {
			fail(err)
		}
	}
	if cfg.KubeBinDir != nil {
		if opts.KubeBinDir, err = cfg.KubeBinDir(); err != nil {
			fail(err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		fail(err)
	}
	kubeconfig := c.Kubeconfig
	if *kubeconfigLink != "" {
		data, err := os.ReadFile(c.Kubeconfig)
		if err == nil {
			err = os.WriteFile(*kubeconfigLink, data, 0o600)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		} else {
			kubeconfig = *kubeconfigLink
			defer os.Remove(*kubeconfigLink)
		}
	}
	fmt.Printf("\nLocal cluster is up. In another shell:\n\n  export KUBECONFIG=%s\n  %s get nodes,pods -A\n\n"+
		"(make kubectl links that kubectl to bin/kubectl.) Ctrl-C stops the cluster and removes everything it started.\n",
		kubeconfig, c.Kubectl)
	if *deploy {
		logf := func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }
		msg, err := cfg.Deploy(ctx, c, logf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "localcluster: deploying: %v\n", err)
		} else {
			fmt.Print(msg)
		}
	}
	if *readyFile != "" {
		if err := os.WriteFile(*readyFile, []byte(kubeconfig+"\n"), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		}
		defer os.Remove(*readyFile)
	}
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "localcluster: stopping")
	if err := c.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		os.Exit(1)
	}
}
