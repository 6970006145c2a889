package status

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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/output"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/plugin/podproxy"
)

// ErrNotInSync is returned when a Gateway shown is not in sync (see
// GatewayStatus.InSync), after the output is written.
var ErrNotInSync = errors.New("not in sync")

type options struct {
	flags         *genericclioptions.ConfigFlags
	streams       genericiooptions.IOStreams
	output        string
	allNamespaces bool
}

// NewCommand is `status [GATEWAY]`. flags are the root command's
// kubeconfig flags (genericclioptions), which it reads at run time.
func NewCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &options{flags: flags, streams: streams}
	cmd := &cobra.Command{
		Use:   "status [GATEWAY]",
		Short: "Show whether each gateway pod serves the config the operator wants",
		Long: `Show, per Gateway of the nginx-gateway-operator and per gateway pod, the config the
operator wants (its hash), what nginx serves (from the Gateway's report ConfigMap),
the pod's state (SYNCED, STALE, REJECTED with nginx's message, NOT READY), its last reload
(when, how long), reload and nginx -t counts and worker generations alive, the Gateway's
Accepted and Programmed conditions and the routes the operator refused for it.

Exits non-zero when a Gateway shown is not in sync: a pod is not SYNCED, or the Gateway
is not Accepted and Programmed. Reads only through the API server (get/list gateways,
httproutes, grpcroutes, tlsroutes, tcproutes, udproutes, pods, configmaps; optionally gatewayclasses,
and get pods/proxy for each pod's reload timings, reload count and nginx worker generations
from its sidecar's metrics); see docs/troubleshooting.md.`,
		Example: `  kubectl nginx-gateway status            # Gateways of the current namespace
  kubectl nginx-gateway status web -n prod
  kubectl nginx-gateway status -A -o yaml`,
		Args:          cobra.MaximumNArgs(1),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", OutputTable, "output format: table, yaml or json")
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "Gateways of every namespace")
	return cmd
}

func (o *options) run(ctx context.Context, args []string) error {
	if err := output.Check(o.output); err != nil {
		return err
	}
	if o.allNamespaces && len(args) == 1 {
		return errors.New("a Gateway name cannot be combined with --all-namespaces")
	}
	namespace, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := errors.Join(clientgoscheme.AddToScheme(scheme), gatewayv1.Install(scheme)); err != nil {
		return err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	r := reader{c: c, cs: cs, classes: map[string]classVerdict{}, routeCache: map[string]*kindRoutes{}}

	var gateways []gatewayv1.Gateway
	if len(args) == 1 {
		var gw gatewayv1.Gateway
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: args[0]}, &gw); err != nil {
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("Gateway %q not found in namespace %q", args[0], namespace)
			}
			return fmt.Errorf("reading Gateway %s/%s: %w", namespace, args[0], err)
		}
		ours, why, err := r.ours(ctx, &gw)
		if err != nil {
			return err
		}
		if !ours {
			return fmt.Errorf("Gateway %s/%s is not served by nginx-gateway-operator: %s", gw.Namespace, gw.Name, why)
		}
		gateways = []gatewayv1.Gateway{gw}
	} else {
		var list gatewayv1.GatewayList
		var opts []client.ListOption
		if !o.allNamespaces {
			opts = append(opts, client.InNamespace(namespace))
		}
		if err := c.List(ctx, &list, opts...); err != nil {
			return fmt.Errorf("listing Gateways: %w", err)
		}
		for i := range list.Items {
			ours, _, err := r.ours(ctx, &list.Items[i])
			if err != nil {
				return err
			}
			if ours {
				gateways = append(gateways, list.Items[i])
			}
		}
		if len(gateways) == 0 {
			where := fmt.Sprintf("namespace %q", namespace)
			if o.allNamespaces {
				where = "any namespace"
			}
			fmt.Fprintf(o.streams.ErrOut, "No Gateways of controller %s found in %s.\n", translate.ControllerName, where)
			return nil
		}
	}
	slices.SortFunc(gateways, func(a, b gatewayv1.Gateway) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})

	statuses := make([]GatewayStatus, 0, len(gateways))
	for i := range gateways {
		in, err := r.input(ctx, &gateways[i])
		if err != nil {
			return err
		}
		in.Now = time.Now()
		statuses = append(statuses, Build(in))
	}
	for _, note := range r.notes {
		fmt.Fprintln(o.streams.ErrOut, "note:", note)
	}
	if err := Print(o.streams.Out, o.output, statuses); err != nil {
		return err
	}
	if !AllInSync(statuses) {
		return ErrNotInSync
	}
	return nil
}

// classVerdict caches whether a GatewayClass is ours.
type classVerdict struct {
	ours      bool
	why       string
	forbidden bool
}

// reader reads a Gateway's objects with the user's rights.
type reader struct {
	c       client.Client
	cs      kubernetes.Interface
	classes map[string]classVerdict
	// routeCache holds each route kind's routes once read (routes.go).
	routeCache map[string]*kindRoutes
	notes      []string
	// classForbidden: GatewayClasses cannot be read (noted once).
	classForbidden bool
	// proxyForbidden: the pods' sidecars cannot be read (noted once).
	proxyForbidden bool
}

// ours is whether gw's GatewayClass names our controller. A user who may
// not read GatewayClasses (cluster-scoped) still gets an answer: a Gateway
// with a report ConfigMap is ours.
func (r *reader) ours(ctx context.Context, gw *gatewayv1.Gateway) (bool, string, error) {
	name := string(gw.Spec.GatewayClassName)
	v, ok := r.classes[name]
	if !ok {
		var gc gatewayv1.GatewayClass
		err := r.c.Get(ctx, types.NamespacedName{Name: name}, &gc)
		switch {
		case err == nil:
			v = classVerdict{ours: gc.Spec.ControllerName == translate.ControllerName,
				why: fmt.Sprintf("its GatewayClass %q has controllerName %q, not %q", name, gc.Spec.ControllerName, translate.ControllerName)}
		case apierrors.IsNotFound(err):
			v = classVerdict{why: fmt.Sprintf("its GatewayClass %q does not exist", name)}
		case apierrors.IsForbidden(err):
			v = classVerdict{forbidden: true}
			if !r.classForbidden {
				r.classForbidden = true
				r.notes = append(r.notes, fmt.Sprintf("cannot read GatewayClasses (%v); a Gateway counts as ours when it has a report ConfigMap", err))
			}
		default:
			return false, "", fmt.Errorf("reading GatewayClass %q: %w", name, err)
		}
		r.classes[name] = v
	}
	if !v.forbidden {
		return v.ours, v.why, nil
	}
	var cm corev1.ConfigMap
	err := r.c.Get(ctx, types.NamespacedName{Namespace: gw.Namespace, Name: resources.ReportName(gw.Name)}, &cm)
	switch {
	case err == nil:
		return true, "", nil
	case apierrors.IsNotFound(err):
		return false, fmt.Sprintf("it has no report ConfigMap %q (and its GatewayClass %q cannot be read)", resources.ReportName(gw.Name), name), nil
	default:
		return false, "", fmt.Errorf("reading ConfigMap %s/%s: %w", gw.Namespace, resources.ReportName(gw.Name), err)
	}
}

func (r *reader) input(ctx context.Context, gw *gatewayv1.Gateway) (Input, error) {
	in := Input{Gateway: *gw}
	var err error
	if in.ConfigMap, err = r.configMap(ctx, gw.Namespace, resources.Name(gw.Name)); err != nil {
		return in, err
	}
	if in.Report, err = r.configMap(ctx, gw.Namespace, resources.ReportName(gw.Name)); err != nil {
		return in, err
	}
	var pods corev1.PodList
	if err := r.c.List(ctx, &pods, client.InNamespace(gw.Namespace),
		client.MatchingLabels(resources.SelectorLabels(gw.Namespace, gw.Name))); err != nil {
		return in, fmt.Errorf("listing the pods of Gateway %s/%s: %w", gw.Namespace, gw.Name, err)
	}
	in.Pods = pods.Items
	if in.Routes, err = r.routes(ctx, gw.Namespace); err != nil {
		return in, err
	}
	in.DataPlanes, in.DataPlaneErrors = r.dataPlanes(ctx, pods.Items)
	return in, nil
}

// dataPlanes reads each pod's sidecar metrics through the pod proxy. A
// user without pods/proxy get still gets the rest of the status (noted
// once); a pod whose metrics cannot be read gets the error.
func (r *reader) dataPlanes(ctx context.Context, pods []corev1.Pod) (map[string]*DataPlane, map[string]string) {
	out, errs := map[string]*DataPlane{}, map[string]string{}
	for i := range pods {
		p := &pods[i]
		if r.proxyForbidden || p.DeletionTimestamp != nil || p.Status.PodIP == "" {
			continue
		}
		text, err := podproxy.Get(ctx, r.cs, p.Namespace, p.Name, dataplane.MetricsPort, dataplane.MetricsPath)
		if apierrors.IsForbidden(err) {
			r.proxyForbidden = true
			r.notes = append(r.notes, fmt.Sprintf("cannot read the gateway pods' sidecars (%v): no reload timings or worker generations", err))
			continue
		}
		if err == nil {
			out[p.Name], err = ParseMetrics(text)
		}
		if err != nil {
			errs[p.Name] = err.Error()
		}
	}
	return out, errs
}

func (r *reader) configMap(ctx context.Context, namespace, name string) (*corev1.ConfigMap, error) {
	var cm corev1.ConfigMap
	if err := r.c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, &cm); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading ConfigMap %s/%s: %w", namespace, name, err)
	}
	return &cm, nil
}
