package status

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
)

// routeKinds are the route kinds whose refusals status shows. They are
// read as unstructured objects: every kind has metadata and status.parents,
// and a kind whose CRD is not installed is skipped.
var routeKinds = []schema.GroupVersionKind{
	gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute"),
	gatewayv1.SchemeGroupVersion.WithKind("GRPCRoute"),
	gatewayv1.SchemeGroupVersion.WithKind("TLSRoute"),
	gatewayv1.SchemeGroupVersion.WithKind("TCPRoute"),
	gatewayv1.SchemeGroupVersion.WithKind("UDPRoute"),
}

// routes are the routes of every kind that may attach to a Gateway of
// namespace: those of every namespace, or, for a kind the user may not list
// cluster-wide, those of namespace (which a note says).
func (r *reader) routes(ctx context.Context, namespace string) ([]Route, error) {
	var out []Route
	for _, gvk := range routeKinds {
		routes, err := r.routesOf(ctx, gvk, namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, routes...)
	}
	return out, nil
}

// kindRoutes caches one kind's routes: of every namespace, or per
// namespace when listing them all is forbidden.
type kindRoutes struct {
	all         []Route
	namespaced  map[string][]Route
	unavailable bool // the kind is not served by the API server
}

func (r *reader) routesOf(ctx context.Context, gvk schema.GroupVersionKind, namespace string) ([]Route, error) {
	cache, ok := r.routeCache[gvk.Kind]
	if !ok {
		cache = &kindRoutes{}
		r.routeCache[gvk.Kind] = cache
		all, err := r.listRoutes(ctx, gvk)
		switch {
		case err == nil:
			cache.all = all
		case meta.IsNoMatchError(err) || apierrors.IsNotFound(err):
			cache.unavailable = true
		case apierrors.IsForbidden(err):
			cache.namespaced = map[string][]Route{}
			r.notes = append(r.notes, fmt.Sprintf("cannot list %ss of every namespace; refused ones are shown from the Gateway's namespace only", gvk.Kind))
		default:
			return nil, fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
	}
	switch {
	case cache.unavailable:
		return nil, nil
	case cache.namespaced == nil:
		return cache.all, nil
	}
	if routes, ok := cache.namespaced[namespace]; ok {
		return routes, nil
	}
	routes, err := r.listRoutes(ctx, gvk, client.InNamespace(namespace))
	if err != nil {
		return nil, fmt.Errorf("listing %ss of namespace %q: %w", gvk.Kind, namespace, err)
	}
	cache.namespaced[namespace] = routes
	return routes, nil
}

func (r *reader) listRoutes(ctx context.Context, gvk schema.GroupVersionKind, opts ...client.ListOption) ([]Route, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.c.List(ctx, list, opts...); err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(list.Items))
	for _, item := range list.Items {
		var status gatewayv1.RouteStatus
		if raw, ok := item.Object["status"].(map[string]any); ok {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &status); err != nil {
				return nil, fmt.Errorf("%s %s/%s: reading status: %w", gvk.Kind, item.GetNamespace(), item.GetName(), err)
			}
		}
		out = append(out, Route{Kind: gvk.Kind, Namespace: item.GetNamespace(), Name: item.GetName(), Parents: status.Parents})
	}
	return out, nil
}
