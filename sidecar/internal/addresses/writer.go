package addresses

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayapply "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// FieldManager owns status.addresses on the Gateway.
const FieldManager = dataplane.SidecarFieldManager

// Options configure the writer.
type Options struct {
	Config                        *rest.Config
	Scheme                        *k8sruntime.Scheme
	GatewayName, GatewayNamespace string
	ServiceName                   string
	// Identity names this replica in the Lease (the pod name).
	Identity string
	// LeaseDuration, RenewDeadline, RetryPeriod tune the election.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Resync re-checks the addresses even without a watch event.
	Resync time.Duration
	Log    logr.Logger
}

// LeaseName is the Lease that elects the replica writing a Gateway's
// addresses. Names stay within the 253 characters of an object name: a
// longer one keeps 10 hex digits of the Gateway name's SHA-256 to stay
// apart from other cut names (it names an object, keys no folder or cache;
// only Gateways of one namespace whose names agree on their first ~218
// characters could share it).
func LeaseName(gateway string) string {
	const suffix = dataplane.AddressesLeaseSuffix
	name := gateway + suffix
	if len(name) <= 253 {
		return name
	}
	sum := sha256.Sum256([]byte(gateway))
	short := hex.EncodeToString(sum[:])[:10]
	return gateway[:253-len(suffix)-len(short)-1] + "-" + short + suffix
}

// Run takes part in the election until ctx ends; while leading it keeps
// the Gateway's addresses equal to the Service's.
func Run(ctx context.Context, opts Options) error {
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return err
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: LeaseName(opts.GatewayName), Namespace: opts.GatewayNamespace},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: opts.Identity},
	}
	for ctx.Err() == nil {
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   opts.LeaseDuration,
			RenewDeadline:   opts.RenewDeadline,
			RetryPeriod:     opts.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            lock.LeaseMeta.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					opts.Log.Info("leading: writing Gateway addresses", "lease", lock.LeaseMeta.Name)
					if err := lead(ctx, opts); err != nil && ctx.Err() == nil {
						opts.Log.Error(err, "writing Gateway addresses")
					}
				},
				OnStoppedLeading: func() {
					opts.Log.Info("not leading any more", "lease", lock.LeaseMeta.Name)
				},
			},
		})
		if err != nil {
			return err
		}
		elector.Run(ctx) // returns when leadership is lost or ctx ends
	}
	return nil
}

// lead watches the Service and the Gateway (only those two objects) and
// applies the addresses whenever they differ.
func lead(ctx context.Context, opts Options) error {
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
	writer, err := client.New(opts.Config, client.Options{Scheme: opts.Scheme})
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
		return ctx.Err()
	}

	resync := time.NewTicker(opts.Resync)
	defer resync.Stop()
	backoff := time.Second
	for {
		err := syncAddresses(ctx, c, writer, svcKey, gwKey, opts.Log)
		wait := opts.Resync
		if err != nil {
			opts.Log.Error(err, "syncing Gateway addresses; retrying", "in", backoff)
			wait, backoff = backoff, min(2*backoff, time.Minute)
		} else {
			backoff = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		case <-time.After(wait):
		}
	}
}

func syncAddresses(ctx context.Context, r client.Reader, w client.Client, svcKey, gwKey client.ObjectKey, log logr.Logger) error {
	svc := &corev1.Service{}
	if err := r.Get(ctx, svcKey, svc); err != nil {
		return client.IgnoreNotFound(err) // nothing to publish until the operator creates it
	}
	gw := &gatewayv1.Gateway{}
	if err := r.Get(ctx, gwKey, gw); err != nil {
		return client.IgnoreNotFound(err)
	}
	want := FromService(svc)
	if Equal(gw.Status.Addresses, want) {
		return nil
	}
	status := gatewayapply.GatewayStatus()
	for _, a := range want {
		status.WithAddresses(gatewayapply.GatewayStatusAddress().WithType(*a.Type).WithValue(a.Value))
	}
	// With no address the apply sends no list, and the server removes the
	// list this manager wrote before.
	apply := gatewayapply.Gateway(gwKey.Name, gwKey.Namespace).WithStatus(status)
	if err := w.Status().Apply(ctx, apply, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying status.addresses of gateway %s: %w", gwKey, err)
	}
	log.Info("gateway addresses written", "gateway", gwKey.String(), "addresses", want)
	return nil
}
