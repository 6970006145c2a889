package explain

import (
	"context"
	"errors"
	"fmt"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/explain"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/rendercmd"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
	url     string
	method  string
	headers []string
	sni     string
	files   []string
}

// NewCommand is `explain GATEWAY --url URL`. flags are the root command's
// kubeconfig flags (genericclioptions), which it reads at run time.
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "explain GATEWAY --url URL [-H 'Name: value']... [-X METHOD] [--sni NAME]",
		Short: "Explain which route, rule and backend of a Gateway take a request or connection, and why the others do not",
		Long: `Explain what the Gateway's nginx does with one request: the server that takes it (port,
SNI for https, Host), the location, the route rule and match that win, what the rule
changes (redirect, rewrite, header changes), the backend and its endpoints, or the 404,
500 or 503 it gets and why; then, for every route of the Gateway, why it did not take
the request (hostname, listener isolation, path, header, query, method, precedence, or
not attached at all).

The answer is computed as the operator computes nginx's configuration: the objects are
translated and rendered by the same code, and the request is evaluated against the same
model the configuration is written from (see docs/troubleshooting.md).

URL is what a client asks for: http://HOST[:PORT]/PATH?QUERY (https://… for an HTTPS
listener; its host is the SNI). The URL's port is the listener port. -H 'Host: x' sends
another Host header than the URL's host, as curl does.

For TCP, UDP and TLS listeners, URL is a connection: tcp://HOST:PORT, udp://HOST:PORT, or
tls://SERVERNAME:PORT (a TLS handshake with that server name: passthrough, terminate, or
handed to the port's HTTPS listeners). The answer is the listener's server, the route
(for TLS the one whose hostname takes the server name), its backends with their shares
and endpoints, or why nginx closes the connection. --sni sets the TLS server name of
https:// and tls:// URLs (--sni '' sends none).

Live, it reads with your rights: get gateways and gatewayclasses; list httproutes,
grpcroutes, tlsroutes, tcproutes, udproutes, referencegrants, services, endpointslices and
namespaces (every namespace, or only the
Gateway's namespace when that is all you may list); Secrets are never read: a listener's
certificates count as present when its ResolvedRefs condition is True. Offline, -f reads
the objects from YAML files or folders instead (like operator render -f), certificates
included.`,
		Example: `  kubectl nginx-gateway explain web --url http://shop.example.com/cart -H 'X-Canary: 1'
  kubectl nginx-gateway explain web -n prod --url https://api.example.com/v2/items -X POST -o yaml
  kubectl nginx-gateway explain web --url http://example.com/ -f config/samples/
  kubectl nginx-gateway explain web --url tls://db.example.com:443
  kubectl nginx-gateway explain web --url tcp://gateway:5432`,
		Args:          cobra.ExactArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0], cmd.Flags().Changed("sni"))
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", OutputTable, "output format: table, yaml or json")
	cmd.Flags().StringVar(&o.url, "url", "", "the request's URL: http://HOST[:PORT]/PATH?QUERY or https://…")
	cmd.Flags().StringVarP(&o.method, "request", "X", "GET", "the request's method")
	cmd.Flags().StringArrayVarP(&o.headers, "header", "H", nil, "a request header 'Name: value' (repeatable)")
	cmd.Flags().StringVar(&o.sni, "sni", "", "the TLS server name of an https:// or tls:// URL (default: the URL's host; '' for none)")
	cmd.Flags().StringArrayVarP(&o.files, "filename", "f", nil, "read the objects from this YAML file or folder instead of the cluster (repeatable)")
	return cmd
}

// question parses what to explain: an HTTP request (--url http[s]://…,
// -H, -X) or a connection (--url tcp|udp|tls://…). sniSet: --sni was given.
func (o *options) question(sniSet bool) (func(translate.Input, types.NamespacedName) (Report, error), error) {
	if explain.IsConnectionURL(o.url) {
		if len(o.headers) > 0 {
			return nil, errors.New("-H applies to http:// and https:// URLs, not to connections")
		}
		c, err := explain.NewConnection(o.url)
		if err != nil {
			return nil, err
		}
		if sniSet {
			if !c.TLS {
				return nil, errors.New("--sni applies to https:// and tls:// URLs")
			}
			c.SNI = o.sni
		}
		return func(in translate.Input, nn types.NamespacedName) (Report, error) { return BuildConnection(in, nn, c) }, nil
	}
	headers := make([]explain.Header, 0, len(o.headers))
	for _, h := range o.headers {
		hdr, err := explain.ParseHeader(h)
		if err != nil {
			return nil, err
		}
		headers = append(headers, hdr)
	}
	req, err := explain.NewRequest(o.method, o.url, headers)
	if err != nil {
		return nil, err
	}
	if sniSet {
		if req.Scheme != "https" {
			return nil, errors.New("--sni applies to https:// and tls:// URLs")
		}
		req.SNI = o.sni
	}
	return func(in translate.Input, nn types.NamespacedName) (Report, error) { return Build(in, nn, req) }, nil
}

func (o *options) run(ctx context.Context, name string, sniSet bool) error {
	if err := output.Check(o.output); err != nil {
		return err
	}
	if o.url == "" {
		return errors.New("--url is required")
	}
	ask, err := o.question(sniSet)
	if err != nil {
		return err
	}

	var in translate.Input
	var notes []string
	var nn types.NamespacedName
	if len(o.files) > 0 {
		var skipped []string
		in, skipped, err = rendercmd.ReadInput(o.files)
		if err != nil {
			return err
		}
		for _, s := range skipped {
			fmt.Fprintln(o.streams.ErrOut, "skipped:", s)
		}
		nn = types.NamespacedName{Namespace: o.offlineNamespace(in, name), Name: name}
	} else {
		namespace, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
		if err != nil {
			return err
		}
		nn = types.NamespacedName{Namespace: namespace, Name: name}
		cfg, err := o.flags.ToRESTConfig()
		if err != nil {
			return err
		}
		in, notes, err = readLive(ctx, cfg, nn)
		if err != nil {
			return err
		}
	}
	rep, err := ask(in, nn)
	if err != nil {
		return err
	}
	rep.Notes = append(notes, rep.Notes...)
	return Print(o.streams.Out, o.output, rep)
}

// offlineNamespace is the namespace of Gateway name in the files: the one
// given with -n, else the only namespace that has a Gateway of that name,
// else "default".
func (o *options) offlineNamespace(in translate.Input, name string) string {
	if o.flags.Namespace != nil && *o.flags.Namespace != "" {
		return *o.flags.Namespace
	}
	found := ""
	for _, gw := range in.Gateways {
		if gw.Name == name {
			if found != "" && found != gw.Namespace {
				return "default"
			}
			found = gw.Namespace
		}
	}
	if found == "" {
		return "default"
	}
	return found
}
