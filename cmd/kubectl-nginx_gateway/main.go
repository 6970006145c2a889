// Command kubectl-nginx_gateway is the kubectl plugin `kubectl
// nginx-gateway` (on PATH, kubectl finds it by its name); see package plugin.
package main

import (
	"context"
	"os"
	"os/signal"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := plugin.Run(ctx, os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
