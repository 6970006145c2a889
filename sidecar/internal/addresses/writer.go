package addresses

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayapply "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// FieldManager owns status.addresses on the Gateway. Every replica applies
// under this one name, so the server keeps one managedFields entry for all.
const FieldManager = dataplane.SidecarFieldManager

// DefaultHold is how long a replica waits before it settles the same
// disagreement again (see Options.Hold).
const DefaultHold = 30 * time.Second

// Options configure the writer.
type Options struct {
	Config                        *rest.Config
	Scheme                        *k8sruntime.Scheme
	GatewayName, GatewayNamespace string
	ServiceName                   string
	// Resync re-checks the addresses even without a watch event.
	Resync time.Duration
	// Hold bounds how often this replica settles the same disagreement:
	// when it has overwritten addresses A with B, it overwrites A with B
	// again only after Hold. Replicas that disagree for good (two sidecar
	// versions computing the addresses differently, during a rolling
	// update) then take turns at most once per Hold each, instead of
	// overwriting each other as fast as the watch delivers. Replicas that
	// merely see the Service at different moments never wait on it: the one
	// that wrote from a stale Service applies as soon as it sees the new
	// one, because it then wants other addresses. 0 means DefaultHold.
	Hold time.Duration
	Log  logr.Logger
}

// Run keeps the Gateway's addresses equal to the Service's until ctx ends.
// Every replica runs it: it watches the Service and the Gateway (only those
// two objects) and applies status.addresses only when the Gateway it sees
// shows others (after reading the Service once more from the API server),
// so a change of the Service costs at most one apply per replica that
// still sees the old addresses, and an apply of addresses the Gateway
// already has is a no-op for the API server (no new resourceVersion, no
// watch event).
func Run(ctx context.Context, opts Options) error {
	svcKey := client.ObjectKey{Namespace: opts.GatewayNamespace, Name: opts.ServiceName}
	gwKey := client.ObjectKey{Namespace: opts.GatewayNamespace, Name: opts.GatewayName}
	c, err := cache.New(opts.Config, cache.Options{
		Scheme:            opts.Scheme,
		DefaultNamespaces: map[string]cache.Config{opts.GatewayNamespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Service{}:    {Field: fields.OneTermEqualSelector("metadata.name", svcKey.Name)},
			&gatewayv1.Gateway{}: {Field: fields.OneTermEqualSelector("metadata.name", gwKey.Name)},
		},
	})
	if err != nil {
		return err
	}
	w, err := client.New(opts.Config, client.Options{Scheme: opts.Scheme})
	if err != nil {
		return err
	}
	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, obj := range []client.Object{&corev1.Service{}, &gatewayv1.Gateway{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return err
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return err
		}
	}
	cacheCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = c.Start(cacheCtx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil // ctx ended
	}

	s := &syncer{reader: c, writer: w, svcKey: svcKey, gwKey: gwKey, hold: opts.Hold, log: opts.Log, now: time.Now}
	if s.hold <= 0 {
		s.hold = DefaultHold
	}
	backoff := time.Second
	for {
		retry, err := s.sync(ctx)
		wait := opts.Resync
		if err != nil {
			opts.Log.Error(err, "syncing Gateway addresses; retrying", "in", backoff)
			wait, backoff = backoff, min(2*backoff, time.Minute)
		} else {
			backoff = time.Second
			if retry > 0 {
				wait = min(wait, retry)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(wait):
		}
	}
}

// syncer is one replica's writer; it remembers its last apply.
type syncer struct {
	reader        client.Reader
	writer        client.Client
	svcKey, gwKey client.ObjectKey
	hold          time.Duration
	log           logr.Logger
	now           func() time.Time

	last applied
}

// applied is this replica's last apply: to which Gateway, the addresses
// the Gateway showed then, the addresses applied, and when.
type applied struct {
	gateway         types.UID
	over, addresses []gatewayv1.GatewayStatusAddress
	at              time.Time
}

// decide says whether to apply want to the Gateway gw and, when it holds
// back, how long until it may apply again.
func (l applied) decide(gw *gatewayv1.Gateway, want []gatewayv1.GatewayStatusAddress, now time.Time, hold time.Duration) (apply bool, retry time.Duration) {
	if Equal(gw.Status.Addresses, want) {
		return false, 0
	}
	if l.gateway == gw.UID && Equal(l.addresses, want) && Equal(l.over, gw.Status.Addresses) && now.Sub(l.at) < hold {
		return false, hold - now.Sub(l.at)
	}
	return true, 0
}

// sync applies the Service's addresses to the Gateway when the cached
// Gateway shows others; retry > 0 asks to be called again that soon.
func (s *syncer) sync(ctx context.Context) (retry time.Duration, err error) {
	svc := &corev1.Service{}
	if err := s.reader.Get(ctx, s.svcKey, svc); err != nil {
		return 0, client.IgnoreNotFound(err) // nothing to publish until the operator creates it
	}
	gw := &gatewayv1.Gateway{}
	if err := s.reader.Get(ctx, s.gwKey, gw); err != nil {
		return 0, client.IgnoreNotFound(err)
	}
	if Equal(gw.Status.Addresses, FromService(svc)) {
		return 0, nil
	}
	// Before writing, read the Service from the API server itself. This
	// replica's Service watch may lag behind the one of the replica whose
	// write its Gateway watch already shows; writing from the older Service
	// would put the old addresses back until its watch catches up.
	if err := s.writer.Get(ctx, s.svcKey, svc); err != nil {
		return 0, client.IgnoreNotFound(err)
	}
	want := FromService(svc)
	now := s.now()
	apply, retry := s.last.decide(gw, want, now, s.hold)
	if !apply {
		if retry > 0 {
			// Its own write not in the cache yet, or another writer that
			// put back what this replica overwrote.
			s.log.V(1).Info("the Gateway shows the addresses this replica overwrote; holding back",
				"gateway", s.gwKey.String(), "shown", gw.Status.Addresses, "want", want, "retryIn", retry)
		}
		return retry, nil
	}
	status := gatewayapply.GatewayStatus()
	for _, a := range want {
		status.WithAddresses(gatewayapply.GatewayStatusAddress().WithType(*a.Type).WithValue(a.Value))
	}
	// With no address the apply sends no list, and the server removes the
	// list this manager wrote before.
	ac := gatewayapply.Gateway(s.gwKey.Name, s.gwKey.Namespace).WithStatus(status)
	err = s.writer.Status().Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership)
	if apierrors.IsNotFound(err) {
		return 0, nil // the Gateway is gone; the watch tells the cache
	}
	if err != nil {
		return 0, fmt.Errorf("applying status.addresses of gateway %s: %w", s.gwKey, err)
	}
	s.last = applied{gateway: gw.UID, over: gw.Status.Addresses, addresses: want, at: now}
	s.log.Info("gateway addresses written", "gateway", s.gwKey.String(), "addresses", want)
	return 0, nil
}
