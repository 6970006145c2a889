package config

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/podproxy"
)

type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	output  string
	pod     string
}

// NewCommand is `config GATEWAY [--pod P] listeners|routes|upstreams|raw`.
// flags are the root command's kubeconfig flags, read at run time.
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "config GATEWAY listeners|routes|upstreams|raw [--pod POD]",
		Short: "Show the configuration nginx runs on a gateway pod: listeners, routes, upstreams or the raw files",
		Long: `Show the configuration as nginx runs it on one gateway pod, read from that pod's sidecar
(the config tree nginx accepted, never re-rendered from the objects):

  listeners   port, protocol, hostname, the Gateway listeners served, TLS certificates
              with subject and expiry (read from the certificate files nginx loads)
  routes      per server and location, the route matches in the order nginx tries them
              (the first whose conditions hold wins), with filters, backends and weights
  upstreams   every upstream with the endpoints the sidecar serves nginx now
  raw         the nginx files with line numbers, each block a route rule produced framed
              by the route, rule and matches (the render step's source map)

The pod is --pod, or else the first ready pod of the Gateway by name. It reads with your
rights through the API server: get gateways, list pods, get pods/proxy (the sidecar's
port ` + fmt.Sprint(dataplane.HealthPort) + `, paths ` + dataplane.LiveConfigPathPrefix + `*); never exec. The ClusterRole in
config/plugin/viewer_role.yaml grants exactly that; see docs/troubleshooting.md.`,
		Example: `  kubectl nginx-gateway config web routes
  kubectl nginx-gateway config web listeners -n prod --pod web-nginx-7d9f-abcde
  kubectl nginx-gateway config web upstreams -o yaml
  kubectl nginx-gateway config web raw | less`,
		Args:          cobra.ExactArgs(2),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0], args[1])
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", output.Table, "output format: table, yaml or json")
	cmd.Flags().StringVar(&o.pod, "pod", "", "the gateway pod to read (default: the first ready one)")
	return cmd
}

func (o *options) run(ctx context.Context, gateway, view string) error {
	if err := output.Check(o.output); err != nil {
		return err
	}
	if !slices.Contains([]string{ViewListeners, ViewRoutes, ViewUpstreams, ViewRaw}, view) {
		return fmt.Errorf("unknown view %q: use listeners, routes, upstreams or raw", view)
	}
	namespace, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	live, err := Read(ctx, cfg, namespace, gateway, o.pod, view == ViewUpstreams)
	if err != nil {
		return err
	}
	return Print(o.streams.Out, o.output, view, live, time.Now())
}

// Read reads the live config of a pod of Gateway namespace/gateway (pod,
// or the first ready one), with its endpoints when withEndpoints.
func Read(ctx context.Context, cfg *rest.Config, namespace, gateway, pod string, withEndpoints bool) (*Live, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	// The Gateway is read first for a clear "not found"; its pods are
	// found by the labels the operator puts on them.
	gwPath := fmt.Sprintf("/apis/gateway.networking.k8s.io/v1/namespaces/%s/gateways/%s", namespace, gateway)
	if err := cs.RESTClient().Get().AbsPath(gwPath).Do(ctx).Error(); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("Gateway %q not found in namespace %q", gateway, namespace)
		}
		return nil, fmt.Errorf("reading Gateway %s/%s: %w", namespace, gateway, err)
	}
	pods, err := cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{
		LabelSelector: labels.SelectorFromSet(resources.SelectorLabels(namespace, gateway)).String()})
	if err != nil {
		return nil, fmt.Errorf("listing the pods of Gateway %s/%s: %w", namespace, gateway, err)
	}
	name, err := pickPod(pods.Items, pod)
	if err != nil {
		return nil, fmt.Errorf("Gateway %s/%s: %w", namespace, gateway, err)
	}
	var liveCfg dataplane.LiveConfig
	if err := podproxy.GetJSON(ctx, cs, namespace, name, dataplane.HealthPort, dataplane.LiveConfigPath, &liveCfg); err != nil {
		return nil, err
	}
	var eps *dataplane.LiveEndpoints
	if withEndpoints {
		eps = &dataplane.LiveEndpoints{}
		if err := podproxy.GetJSON(ctx, cs, namespace, name, dataplane.HealthPort, dataplane.LiveEndpointsPath, eps); err != nil {
			return nil, err
		}
	}
	return Parse(name, liveCfg, eps)
}

// pickPod is want when the Gateway has it, else its first ready pod by name.
func pickPod(pods []corev1.Pod, want string) (string, error) {
	var names, ready []string
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil {
			continue
		}
		names = append(names, p.Name)
		if dataplane.PodReady(p) {
			ready = append(ready, p.Name)
		}
	}
	slices.Sort(names)
	slices.Sort(ready)
	switch {
	case want != "" && slices.Contains(names, want):
		return want, nil
	case want != "":
		return "", fmt.Errorf("pod %q is not one of its pods (%s)", want, orNone(strings.Join(names, ", ")))
	case len(ready) > 0:
		return ready[0], nil
	case len(names) > 0:
		return "", fmt.Errorf("none of its pods is ready (%s): name one with --pod", strings.Join(names, ", "))
	}
	return "", errors.New("it has no pods (is it Programmed? kubectl nginx-gateway status)")
}
