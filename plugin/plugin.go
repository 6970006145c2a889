package plugin

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/config"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/logs"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/status"
)

// Exit codes of Run.
const (
	ExitOK = 0
	// ExitError: the command could not run (bad flags, API errors, a
	// Gateway not found or not ours).
	ExitError = 1
	// ExitNotInSync: the command ran and found something not in sync.
	ExitNotInSync = 2
)

// NewRootCommand is `kubectl nginx-gateway` with its subcommands.
func NewRootCommand(streams genericiooptions.IOStreams) *cobra.Command {
	flags := genericclioptions.NewConfigFlags(true)
	root := &cobra.Command{
		Use:           "kubectl-nginx_gateway",
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl nginx-gateway"},
		Short:         "Inspect the Gateways of nginx-gateway-operator",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	flags.AddFlags(root.PersistentFlags())
	root.AddCommand(status.NewCommand(flags, streams))
	root.AddCommand(explain.NewCommand(flags, streams))
	root.AddCommand(logs.NewCommand(flags, streams))
	root.AddCommand(config.NewCommand(flags, streams))
	return root
}

// Run runs the plugin with args (without the program name) and returns
// its exit code; errors go to streams.ErrOut.
func Run(ctx context.Context, args []string, streams genericiooptions.IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, status.ErrNotInSync):
		fmt.Fprintln(streams.ErrOut, "error: not in sync")
		return ExitNotInSync
	default:
		fmt.Fprintln(streams.ErrOut, "error:", err)
		return ExitError
	}
}
