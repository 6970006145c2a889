package controller

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
)

// The Gateway API CRDs are a prerequisite, not part of the operator's
// install (platforms such as OpenShift own them). Informers for kinds the
// API server does not serve cannot start, so the reconciler is registered
// only once every RequiredCRD is served; until then CRDWaiter keeps the
// operator not ready, logs one error and records one Event per distinct
// missing set. See CRDWaiter for what happens when CRDs are deleted later.

// RequiredCRD is a CustomResourceDefinition the reconciler watches, with the
// version it reads.
type RequiredCRD struct {
	Group, Version, Resource string
}

// Name is the CustomResourceDefinition's name.
func (c RequiredCRD) Name() string { return c.Resource + "." + c.Group }

func (c RequiredCRD) String() string { return c.Name() + " (" + c.Version + ")" }

// RequiredCRDs are the CRDs the operator needs, in the order it reports them.
var RequiredCRDs = []RequiredCRD{
	{gatewayv1.GroupName, gatewayv1.GroupVersion.Version, "gatewayclasses"},
	{gatewayv1.GroupName, gatewayv1.GroupVersion.Version, "gateways"},
	{gatewayv1.GroupName, gatewayv1.GroupVersion.Version, "listenersets"},
	{gatewayv1.GroupName, gatewayv1.GroupVersion.Version, "httproutes"},
	{gatewayv1beta1.GroupName, gatewayv1beta1.GroupVersion.Version, "referencegrants"},
	{v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version, "gatewayparameters"},
}

// CRDReadyCheckName is the ready check that fails while a RequiredCRD is
// not served; /readyz/<name> answers with the missing names.
const CRDReadyCheckName = "crds"

// Event reasons recorded on the operator's Pod.
const (
	ReasonCRDsMissing   = "CRDsMissing"
	ReasonCRDsInstalled = "CRDsInstalled"
)

const (
	// crdRecheckInterval is how often discovery is asked again when no CRD
	// event arrives (a backstop: events trigger checks at once).
	crdRecheckInterval = 10 * time.Second
	// crdFollowUpDelay and crdFollowUps: after a CRD event, discovery can lag
	// behind the CRD's Established condition for a moment.
	crdFollowUpDelay = 500 * time.Millisecond
	crdFollowUps     = 10
)

// OperatorPod names the operator's own Pod (POD_NAMESPACE and POD_NAME from
// the downward API). Events about missing CRDs are recorded on it; when it
// is empty they are only logged.
type OperatorPod struct {
	Namespace, Name string
}

// CRDWaiter is a manager runnable that checks through discovery, at start,
// whenever a CustomResourceDefinition of a required group changes, and
// every crdRecheckInterval, that every RequiredCRD is served, and registers
// the reconciler (SetupWithManager) in the running manager the first time
// they all are. (Should a CRD vanish in the moment between that check and
// the reconciler's informers syncing, the reconciler fails to start and the
// process exits, to be restarted by its Deployment.)
//
// If a CRD is deleted later, Kubernetes first deletes every object of its
// kind; the reconciler keeps running (controller-runtime cannot stop one
// controller) and reconciles the remaining objects as they are, the
// informer of the deleted kind retries its list with backoff, and the
// operator turns not ready again with one new error log line and Event.
// When the CRD is installed again the informer resumes and the operator
// becomes ready, without a restart.
type CRDWaiter struct {
	setup     func() error // registers the reconciler; called once
	cache     cache.Informers
	discovery discovery.DiscoveryInterface
	reader    client.Reader // uncached: the operator Pod is outside the cache's label filter
	recorder  events.EventRecorder
	pod       OperatorPod
	log       logr.Logger
	trigger   chan struct{}

	mu       sync.Mutex
	notReady string // why /readyz fails; empty when ready

	// Owned by the Start goroutine.
	lastMissing map[string]bool // CRDs missing at the last check
	lastErr     string          // the last discovery error logged
	installed   bool            // the reconciler is registered
	podRef      *corev1.Pod     // resolved once
}

// SetupWhenCRDsInstalled adds a CRDWaiter to mgr that registers the
// reconciler with opts once every RequiredCRD is served. Add its Ready
// check to the manager's ready checks.
func SetupWhenCRDsInstalled(mgr ctrl.Manager, opts Options, pod OperatorPod) (*CRDWaiter, error) {
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return nil, fmt.Errorf("creating the discovery client: %w", err)
	}
	w := &CRDWaiter{
		setup:     func() error { return SetupWithManager(mgr, opts) },
		cache:     mgr.GetCache(),
		discovery: dc,
		reader:    mgr.GetAPIReader(),
		recorder:  mgr.GetEventRecorder(FieldManager),
		pod:       pod,
		log:       mgr.GetLogger().WithName("crds"),
		trigger:   make(chan struct{}, 1),
		notReady:  "the CustomResourceDefinitions the operator needs have not been checked yet",
	}
	if err := mgr.Add(w); err != nil {
		return nil, err
	}
	return w, nil
}

// NeedLeaderElection is false: every replica reports its own readiness;
// the reconciler it registers still waits for the leader election.
func (w *CRDWaiter) NeedLeaderElection() bool { return false }

// Ready is a healthz.Checker failing with the names of the missing CRDs.
func (w *CRDWaiter) Ready(*http.Request) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notReady != "" {
		return errors.New(w.notReady)
	}
	return nil
}

// Start checks until ctx ends; it fails only if registering the reconciler
// fails.
func (w *CRDWaiter) Start(ctx context.Context) error {
	w.watchCRDs(ctx)
	timer := time.NewTimer(0)
	defer timer.Stop()
	followUps := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.trigger:
			followUps = crdFollowUps
		case <-timer.C:
		}
		missing, err := w.missingCRDs()
		w.log.V(1).Info("checked the CustomResourceDefinitions", "missing", len(missing), "error", err)
		if err := w.report(ctx, missing, err); err != nil {
			return err
		}
		next := crdRecheckInterval
		if followUps > 0 && (err != nil || len(missing) > 0) {
			followUps--
			next = crdFollowUpDelay
		}
		timer.Reset(next)
	}
}

// watchCRDs pokes the loop on every change of a CRD of a required group, through the
// metadata-only CRD informer the reconciler shares later. Without it (no
// RBAC to watch CRDs) the loop still polls.
func (w *CRDWaiter) watchCRDs(ctx context.Context) {
	informer, err := w.cache.GetInformer(ctx, crdMetadata(), cache.BlockUntilSynced(false))
	if err == nil {
		_, err = informer.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    w.poke,
			UpdateFunc: func(_, obj any) { w.poke(obj) },
			DeleteFunc: w.poke,
		})
	}
	if err != nil {
		w.log.Error(err, "watching CustomResourceDefinitions; checking them only every "+crdRecheckInterval.String())
	}
}

func (w *CRDWaiter) poke(obj any) {
	// Any CRD of a required group: its bundle is being installed or removed.
	if crd, ok := obj.(metav1.Object); ok && !slices.ContainsFunc(RequiredCRDs, func(c RequiredCRD) bool {
		return strings.HasSuffix(crd.GetName(), "."+c.Group)
	}) {
		return
	}
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// missingCRDs asks discovery which RequiredCRDs are not served: a CRD that
// is absent, not yet established, or without the version the operator reads.
func (w *CRDWaiter) missingCRDs() ([]RequiredCRD, error) {
	served := map[string]map[string]bool{} // group/version → resources
	var missing []RequiredCRD
	for _, crd := range RequiredCRDs {
		gv := crd.Group + "/" + crd.Version
		resources, seen := served[gv]
		if !seen {
			resources = map[string]bool{}
			list, err := w.discovery.ServerResourcesForGroupVersion(gv)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("discovering %s: %w", gv, err)
			}
			if list != nil {
				for _, r := range list.APIResources {
					resources[r.Name] = true
				}
			}
			served[gv] = resources
		}
		if !resources[crd.Resource] {
			missing = append(missing, crd)
		}
	}
	return missing, nil
}

// report turns one check into readiness. It logs one error and records
// one Event when a CRD goes missing that was not missing at the last check
// (at start, every missing one): a stable set is reported once, and a set
// shrinking while CRDs are being installed is progress, not news.
func (w *CRDWaiter) report(ctx context.Context, missing []RequiredCRD, checkErr error) error {
	if checkErr != nil {
		text := "checking the CustomResourceDefinitions the operator needs: " + checkErr.Error()
		w.setNotReady(text)
		if text != w.lastErr {
			w.lastErr = text
			w.log.Error(checkErr, "checking the CustomResourceDefinitions the operator needs; retrying")
		}
		return nil
	}
	w.lastErr = ""
	if len(missing) > 0 {
		names := make([]string, len(missing))
		now := map[string]bool{}
		news := false
		for i, crd := range missing {
			names[i] = crd.String()
			now[crd.Name()] = true
			news = news || !w.lastMissing[crd.Name()]
		}
		text := "CustomResourceDefinitions not served: " + strings.Join(names, ", ")
		w.setNotReady(text + "; install them (the Gateway API standard channel and config/crd), the operator then starts without a restart")
		if news {
			w.log.Error(errors.New(text), "the operator needs these CustomResourceDefinitions and waits for them: install the Gateway API CRDs (standard channel) and the operator's own CRDs", "missing", names)
			w.event(ctx, corev1.EventTypeWarning, ReasonCRDsMissing, text)
		}
		w.lastMissing = now
		return nil
	}
	if !w.installed {
		if err := w.setup(); err != nil {
			return fmt.Errorf("registering the reconciler: %w", err)
		}
		w.installed = true
	}
	w.setNotReady("")
	if w.lastMissing != nil {
		w.log.Info("every CustomResourceDefinition the operator needs is served; reconciling")
		w.event(ctx, corev1.EventTypeNormal, ReasonCRDsInstalled, "every CustomResourceDefinition the operator needs is served")
	}
	w.lastMissing = nil
	return nil
}

func (w *CRDWaiter) setNotReady(text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.notReady = text
}

// event records an Event on the operator's Pod, when it is known.
func (w *CRDWaiter) event(ctx context.Context, eventType, reason, note string) {
	if w.pod.Name == "" || w.pod.Namespace == "" {
		return
	}
	if w.podRef == nil {
		pod := &corev1.Pod{}
		key := types.NamespacedName{Namespace: w.pod.Namespace, Name: w.pod.Name}
		if err := w.reader.Get(ctx, key, pod); err != nil {
			// Without its UID the Event still lists under the Pod's name.
			w.log.Error(err, "reading the operator's Pod to record Events on it", "pod", key)
			pod = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
		}
		w.podRef = pod
	}
	w.recorder.Eventf(w.podRef, nil, eventType, reason, "WaitForCRDs", "%s", note)
}
