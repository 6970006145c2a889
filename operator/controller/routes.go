package controller

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// routeObject is a route of any kind as the status writer sees it: the
// object and its status.parents.
type routeObject struct {
	key     translate.RouteKey
	obj     client.Object
	parents *[]gatewayv1.RouteParentStatus
	// parentsOf is where status.parents is in another object of the kind
	// (a copy of obj).
	parentsOf func(client.Object) *[]gatewayv1.RouteParentStatus
}

// routeKind is what the controller does with one route kind: watch it,
// list it into the translation's input, and write its status. Adding a
// route kind is one entry in routeKinds (and its processor in
// operator/translate).
type routeKind struct {
	// object is an empty object of the kind, to watch.
	object client.Object
	// read puts the kind's objects of informers' store into in (listed
	// through c when informers is nil or holds no store).
	read func(ctx context.Context, c client.Reader, informers cache.Informers, in *translate.Input) error
	// appendObjects appends the input's routes of the kind to out, for
	// status writes.
	appendObjects func(out []routeObject, in *translate.Input) []routeObject
	// shareStrings shares the strings obj repeats (shareRouteStrings) when
	// it is a route of the kind, and says whether it was.
	shareStrings func(obj any) bool
}

var routeKinds = []routeKind{
	listedRouteKind(&gatewayv1.HTTPRoute{}, "HTTPRoute", func(l *gatewayv1.HTTPRouteList) []gatewayv1.HTTPRoute { return l.Items },
		func(in *translate.Input) *[]*gatewayv1.HTTPRoute { return &in.HTTPRoutes },
		func(r *gatewayv1.HTTPRoute) *[]gatewayv1.RouteParentStatus { return &r.Status.Parents }),
	listedRouteKind(&gatewayv1.GRPCRoute{}, "GRPCRoute", func(l *gatewayv1.GRPCRouteList) []gatewayv1.GRPCRoute { return l.Items },
		func(in *translate.Input) *[]*gatewayv1.GRPCRoute { return &in.GRPCRoutes },
		func(r *gatewayv1.GRPCRoute) *[]gatewayv1.RouteParentStatus { return &r.Status.Parents }),
	listedRouteKind(&gatewayv1.TCPRoute{}, "TCPRoute", func(l *gatewayv1.TCPRouteList) []gatewayv1.TCPRoute { return l.Items },
		func(in *translate.Input) *[]*gatewayv1.TCPRoute { return &in.TCPRoutes },
		func(r *gatewayv1.TCPRoute) *[]gatewayv1.RouteParentStatus { return &r.Status.Parents }),
	listedRouteKind(&gatewayv1.UDPRoute{}, "UDPRoute", func(l *gatewayv1.UDPRouteList) []gatewayv1.UDPRoute { return l.Items },
		func(in *translate.Input) *[]*gatewayv1.UDPRoute { return &in.UDPRoutes },
		func(r *gatewayv1.UDPRoute) *[]gatewayv1.RouteParentStatus { return &r.Status.Parents }),
	listedRouteKind(&gatewayv1.TLSRoute{}, "TLSRoute", func(l *gatewayv1.TLSRouteList) []gatewayv1.TLSRoute { return l.Items },
		func(in *translate.Input) *[]*gatewayv1.TLSRoute { return &in.TLSRoutes },
		func(r *gatewayv1.TLSRoute) *[]gatewayv1.RouteParentStatus { return &r.Status.Parents }),
}

// listedRouteKind is the routeKind of a route type R listed as L: items
// takes the list's items, field is where the input holds them, parents
// is a route's status.parents.
func listedRouteKind[R any, PR interface {
	*R
	client.Object
}, L any, PL interface {
	*L
	client.ObjectList
}](object PR, kind gatewayv1.Kind, items func(PL) []R, field func(*translate.Input) *[]*R, parents func(PR) *[]gatewayv1.RouteParentStatus) routeKind {
	return routeKind{
		object: object,
		read: func(ctx context.Context, c client.Reader, informers cache.Informers, in *translate.Input) error {
			// The cache's own objects, not copies: the routes are most of
			// the objects a reconcile reads (thousands, each copied on
			// every event otherwise; even a list without deep copies
			// copies each route's struct into its items). Nothing may
			// change them: translation does not
			// (TestTranslateLeavesItsInputAsItIs), the status writer
			// changes a copy (writeRouteStatuses).
			if informers != nil {
				informer, err := informers.GetInformer(ctx, object)
				if err != nil {
					return err
				}
				if stored, ok := informer.(interface{ GetStore() toolscache.Store }); ok {
					objects := stored.GetStore().List()
					routes := make([]*R, 0, len(objects))
					for _, o := range objects {
						if r, ok := o.(PR); ok {
							routes = append(routes, (*R)(r))
						}
					}
					*field(in) = routes
					return nil
				}
			}
			list := PL(new(L))
			if err := c.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
				return err
			}
			*field(in) = translate.Pointers(items(list))
			return nil
		},
		appendObjects: func(out []routeObject, in *translate.Input) []routeObject {
			routes := *field(in)
			parentsOf := func(o client.Object) *[]gatewayv1.RouteParentStatus { return parents(o.(PR)) }
			for _, route := range routes {
				r := PR(route)
				out = append(out, routeObject{
					key:       translate.RouteKey{Kind: kind, NamespacedName: client.ObjectKeyFromObject(r)},
					obj:       r,
					parents:   parents(r),
					parentsOf: parentsOf,
				})
			}
			return out
		},
		shareStrings: func(obj any) bool {
			r, ok := obj.(PR)
			if ok {
				shareRouteStrings(r, *parents(r))
			}
			return ok
		},
	}
}

// routeObjects lists the routes of every kind in the input.
func routeObjects(in *translate.Input) []routeObject {
	out := make([]routeObject, 0, in.RouteCount())
	for _, k := range routeKinds {
		out = k.appendObjects(out, in)
	}
	return out
}

// writtenStatus is a route status this process wrote (see
// Reconciler.routeStatusWritten).
type writtenStatus struct {
	base string // the resourceVersion the write was based on
	// ours are the translation's entries the write was composed from (no
	// copy: Output.Routes' own, which the last run keeps anyway).
	ours []gatewayv1.RouteParentStatus
}

// writeRouteStatuses replaces, in each route's status.parents, the entries
// of our controller with the composed ones, keeping other controllers'
// entries. A route that no longer names our Gateways loses our entries.
func (r *Reconciler) writeRouteStatuses(ctx context.Context, routes []routeObject, ours map[translate.RouteKey][]gatewayv1.RouteParentStatus, now metav1.Time) error {
	var errs []error
	if r.routeStatusWritten == nil {
		r.routeStatusWritten = map[translate.RouteKey]writtenStatus{}
	}
	seen := make(map[translate.RouteKey]bool, len(routes))
	for _, route := range routes {
		seen[route.key] = true
		base := route.obj.GetResourceVersion()
		if w, ok := r.routeStatusWritten[route.key]; ok && w.base == base {
			// The cache has not seen our last write yet: the status is
			// what it wrote while the translation says the same. Else a
			// write based on this version conflicts, and the reconcile
			// runs again once the cache has caught up.
			if sameRouteParents(w.ours, ours[route.key]) {
				continue
			}
		} else {
			delete(r.routeStatusWritten, route.key)
		}
		current := *route.parents
		if oursAlreadyIn(current, ours[route.key]) {
			continue
		}
		parents := mergeRouteParents(current, ours[route.key], now)
		if sameRouteParents(parents, current) {
			continue
		}
		// The listed route, and the entries of current, share their fields
		// with the cache's object (routeKind.read): the patch, and the
		// answer decoded into it, go to copies.
		orig := route.obj.DeepCopyObject().(client.Object)
		patched := route.obj.DeepCopyObject().(client.Object)
		written := make([]gatewayv1.RouteParentStatus, len(parents))
		for i := range parents {
			parents[i].DeepCopyInto(&written[i])
		}
		*route.parentsOf(patched) = written
		if err := r.client.Status().Patch(ctx, patched, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			errs = append(errs, fmt.Errorf("writing status of %s %s: %w", route.key.Kind, route.key.NamespacedName, err))
			continue
		}
		r.routeStatusWritten[route.key] = writtenStatus{base: base, ours: ours[route.key]}
		r.recordRefusals(route.obj, parentRefusalEvents("spec.parentRefs", current, parents, routeParentEntry))
	}
	for key := range r.routeStatusWritten {
		if !seen[key] {
			delete(r.routeStatusWritten, key) // deleted routes
		}
	}
	if n := len(r.routeStatusWritten); n == 0 {
		// A map never gives back its buckets: after the burst of writes
		// when many routes attach (~2 MiB at 5,000 routes), start afresh.
		r.routeStatusWritten = nil
	} else if n < len(routes)/4 {
		// The same when a few writes are still unseen by the cache after
		// such a burst (a route changing every few seconds keeps one):
		// the few entries move to a map of their size (maps.Clone would
		// keep the size of the table).
		small := make(map[translate.RouteKey]writtenStatus, n)
		for k, v := range r.routeStatusWritten {
			small[k] = v
		}
		r.routeStatusWritten = small
	}
	return errors.Join(errs...)
}
