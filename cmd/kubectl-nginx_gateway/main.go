// Command kubectl-nginx_gateway is the kubectl plugin `kubectl
// nginx-gateway` (on PATH, kubectl finds it by its name); see package plugin.
package main

import (
	"context"
	"os"
	"os/signal"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin"
)

func main() {
	// controller-runtime's client logs through a global logger, and prints
	// a stack trace when none is set; the plugin reports errors itself.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := plugin.Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
