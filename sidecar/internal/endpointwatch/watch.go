package endpointwatch

import (
	"context"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
)

// Options configure the watch.
type Options struct {
	Config    *rest.Config
	Scheme    *k8sruntime.Scheme
	Namespace string
	// Name is the endpoints ConfigMap (dataplane.EnvEndpointsConfigMap).
	Name string
	// Server gets the table of every version of the ConfigMap.
	Server *endpointdns.Server
	// Updated, when set, is called after each table is set.
	Updated func()
	Log     logr.Logger
}

// Run watches the ConfigMap until ctx ends. The server stays without a
// table (SERVFAIL: nginx keeps the addresses it has) until the ConfigMap is
// first seen; a deleted ConfigMap leaves the last table in place (its
// Gateway, and this pod, are going away).
func Run(ctx context.Context, opts Options) error {
	c, err := cache.New(opts.Config, cache.Options{
		Scheme:            opts.Scheme,
		DefaultNamespaces: map[string]cache.Config{opts.Namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Field: fields.OneTermEqualSelector("metadata.name", opts.Name)},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return err
	}
	set := func(obj any) {
		cm, ok := obj.(*corev1.ConfigMap)
		if !ok || cm.Name != opts.Name {
			return
		}
		table, err := endpointdns.ParseTable(cm.Data)
		if err != nil {
			// Never ours to write: log it, serve the upstreams that parse.
			opts.Log.Error(err, "endpoints ConfigMap has values that are no endpoint list", "configMap", opts.Name)
		}
		opts.Server.Set(table)
		opts.Log.V(1).Info("endpoints updated", "resourceVersion", cm.ResourceVersion, "upstreams", len(table))
		if opts.Updated != nil {
			opts.Updated()
		}
	}
	inf, err := c.GetInformer(ctx, &corev1.ConfigMap{})
	if err != nil {
		return err
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, obj any) { set(obj) },
	}); err != nil {
		return err
	}
	return c.Start(ctx)
}
