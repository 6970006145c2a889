package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/nodeagent"
)

func main() {
	// The node agent re-executes this binary as each container's init.
	nodeagent.RunContainerInitIfRequested()

	kubeconfigLink := flag.String("kubeconfig-out", "", "also copy the admin kubeconfig to this path (removed on exit)")
	readyFile := flag.String("ready-file", "", "write the kubeconfig path to this file once the cluster is up (for scripts)")
	deploy := flag.Bool("deploy", false, "install the Gateway API CRDs, the operator (config/default) and config/samples, "+
		"wait for the sample Gateway to be Programmed and print a curl (needs make build)")
	syncPeriod := flag.Duration("sync-period", time.Minute, "how often the node agent refreshes every pod's volumes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	c, err := cluster.Start(ctx, cluster.Options{SyncPeriod: *syncPeriod})
	if err != nil {
		fmt.Fprintf(os.Stderr, "localcluster: %v\n", err)
		os.Exit(1)
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
		p, err := c.DeployProduct(ctx, logf)
		if err != nil {
			fmt.Fprintf(os.Stderr, "localcluster: deploying the product: %v\n", err)
		} else {
			fmt.Printf("\nThe sample Gateway %s is Programmed and answers:\n\n  curl %s\n\n", p.Gateway, p.URL)
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
