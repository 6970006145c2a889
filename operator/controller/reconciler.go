package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayv1beta1 "sigs.k8s.io/gateway-api/apis/v1beta1"
	"sigs.k8s.io/gateway-api/pkg/consts"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/api/v1alpha1"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/pipeline"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// FieldManager is the server-side apply field manager of the operator.
const FieldManager = "nginx-gateway-operator"

// globalKey is the only request the reconciler ever sees: the translation step
// looks at the whole cluster at once, so every event means "rebuild".
var globalKey = reconcile.Request{NamespacedName: types.NamespacedName{Name: "cluster"}}

// Options configure the reconciler.
type Options struct {
	// Resources are the operator-wide settings of owned objects.
	Resources resources.Options
}

// Reconciler rebuilds every Gateway of our GatewayClasses on any change.
type Reconciler struct {
	client client.Client
	reader client.Reader // uncached, to see objects the cache filters out
	// informers is the cache client reads from: readInputs takes the
	// routes from its stores as they are (routeKind.read); nil, they are
	// listed through client.
	informers cache.Informers
	recorder  events.EventRecorder
	opts      Options
	// refs are the Services and Secrets the last translation looked up;
	// nil until the first one.
	refs atomic.Pointer[translate.References]
	// skipped are the Services and Secrets whose events were not acted on
	// since the running reconcile began: if its translation looks one of
	// them up, it may have read it before the change, so it runs again.
	skippedMu sync.Mutex
	skipped   translate.References
	// mem is what runs remember of the data planes (see refusals.go).
	// Reconcile never runs concurrently: there is one request, globalKey.
	mem *dataPlaneMemory
	// lastRun is the last pipeline run, for the next reconcile whose
	// input has the same translate.InputKey (lastRunKey; lastRunValid is
	// false when there is none), or the same but for its EndpointSlices.
	// Its Output is only read, never changed. Any other input reruns the
	// pipeline with its Memo: a Gateway whose model did not change is
	// neither rendered nor compressed again.
	lastRun      pipeline.Result
	lastRunKey   translate.Key
	lastRunValid bool
	// routeStatusWritten holds, per route whose status this process wrote,
	// the resourceVersion the write was based on and the translation's
	// entries it wrote: while the cache still shows that version it has not
	// seen the write yet, and comparing with it would write the same status
	// again (a second write, or a conflict).
	routeStatusWritten map[translate.RouteKey]writtenStatus
	// digests are those of the config ConfigMaps' data the reconciler
	// compared with the cache's (sameConfigMap).
	digests digestMemo
}

// CacheOptions restrict the manager's cache for the objects the operator
// owns to those it labelled (the report ConfigMaps included), so it does
// not hold every pod or Deployment of the cluster. Services and Secrets stay
// unfiltered: routes and listeners reference any of them; so do
// ConfigMaps, which BackendTLSPolicies reference (keepConfigMapDataWeUse).
// The routes, the most numerous objects, share the strings they repeat
// (cacheTransform).
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{dataplane.LabelManagedBy: dataplane.ManagedByValue})
	gatewayPods := labels.NewSelector()
	if req, err := labels.NewRequirement(dataplane.LabelGatewayNamespace, selection.Exists, nil); err == nil {
		gatewayPods = gatewayPods.Add(*req)
	}
	return cache.Options{
		DefaultTransform: cacheTransform,
		ByObject: map[client.Object]cache.ByObject{
			// Every ConfigMap: a BackendTLSPolicy may reference any;
			// only ours keep more than their CA bundle.
			&corev1.ConfigMap{}:      {Transform: keepConfigMapDataWeUse},
			&corev1.ServiceAccount{}: {Label: managed},
			&rbacv1.Role{}:           {Label: managed},
			&rbacv1.RoleBinding{}:    {Label: managed},
			&appsv1.Deployment{}:     {Label: managed},
			&corev1.Pod{}:            {Label: gatewayPods},
			&corev1.Secret{}:         {Transform: keepSecretDataWeUse},
		},
	}
}

// cacheTransform is the cache's transform of every object but those ByObject
// gives their own: stripUnread, and the strings a route repeats shared
// (shareRouteStrings). Not a ByObject entry per route kind: the manager
// resolves those against the API server when it is created, which fails
// while the Gateway API CRDs are missing, and the operator must start and
// say which are (TestManagerWaitsForCRDs).
func cacheTransform(obj any) (any, error) {
	for _, k := range routeKinds {
		if k.shareStrings(obj) {
			break
		}
	}
	return stripUnread(obj)
}

// stripUnread is the cache's transform of every object (the others call
// it too): it drops what nothing in the operator reads and what is often as
// large as the object itself, its managedFields and kubectl apply's
// last-applied-configuration annotation (a copy of the object as applied:
// a route created with `kubectl apply` took twice the memory in the cache).
func stripUnread(obj any) (any, error) {
	o, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil // a tombstone (DeletedFinalStateUnknown): nothing to strip
	}
	if o.GetManagedFields() != nil {
		o.SetManagedFields(nil)
	}
	if annotations := o.GetAnnotations(); annotations != nil {
		if _, ok := annotations[corev1.LastAppliedConfigAnnotation]; ok {
			delete(annotations, corev1.LastAppliedConfigAnnotation)
			o.SetAnnotations(annotations)
		}
	}
	return obj, nil
}

// keepSecretDataWeUse drops, in the cache, the data of every Secret that is
// neither a TLS Secret (a listener may reference it) nor one of ours (compared
// with what we apply): the operator holds no other Secret's contents in
// memory. The object stays, so a listener that references an Opaque Secret
// still hears that its type is wrong rather than that it is missing.
func keepSecretDataWeUse(obj any) (any, error) {
	s, ok := obj.(*corev1.Secret)
	if !ok || s.Type == corev1.SecretTypeTLS || s.Labels[dataplane.LabelManagedBy] == dataplane.ManagedByValue {
		return stripUnread(obj)
	}
	s.Data, s.StringData = nil, nil
	return stripUnread(s)
}

// SetupWithManager registers the reconciler and its watches. The manager
// must be created with CacheOptions.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	r := &Reconciler{
		client:    mgr.GetClient(),
		reader:    mgr.GetAPIReader(),
		informers: mgr.GetCache(),
		recorder:  mgr.GetEventRecorder(FieldManager),
		opts:      opts,
		mem:       newDataPlaneMemory(),
	}
	toGlobal := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{globalKey}
	})
	b := ctrl.NewControllerManagedBy(mgr).Named("gateway")
	// Services, their EndpointSlices and Secrets: only those the last
	// translation looked up (or ours) can change its output.
	ifReferenced := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		if r.referenced(obj) {
			return []reconcile.Request{globalKey}
		}
		return nil
	})
	for _, obj := range []client.Object{&corev1.Service{}, &discoveryv1.EndpointSlice{}, &corev1.Secret{}, &corev1.ConfigMap{}} {
		b = b.Watches(obj, ifReferenced)
	}
	for _, obj := range []client.Object{
		&gatewayv1.GatewayClass{}, &gatewayv1.Gateway{},
		&gatewayv1beta1.ReferenceGrant{}, &corev1.Namespace{}, &v1alpha1.GatewayParameters{},
		&gatewayv1.BackendTLSPolicy{}, &gatewayv1.ListenerSet{},
		// Owned objects, so hand edits and deletions are put back (the
		// ConfigMaps, among them each Gateway's report ConfigMap where its
		// sidecars say what nginx serves, are watched above: ours count
		// as referenced), and the gateway pods, whose readiness counts.
		&appsv1.Deployment{}, &corev1.ServiceAccount{},
		&rbacv1.Role{}, &rbacv1.RoleBinding{}, &corev1.Pod{},
	} {
		b = b.Watches(obj, toGlobal)
	}
	for _, k := range routeKinds {
		b = b.Watches(k.object, toGlobal)
	}
	// Only the metadata of CRDs: their bundle-version annotations feed the
	// GatewayClass SupportedVersion condition, their schemas are large.
	b = b.WatchesMetadata(crdMetadata(), toGlobal)
	return b.Complete(r)
}

// referenced reports whether a change to obj (a Service, EndpointSlice or
// Secret) can change the translation: it is one of ours, or the last
// translation looked it up (an EndpointSlice through its Service), or no
// translation ran yet.
func (r *Reconciler) referenced(obj client.Object) bool {
	refs := r.refs.Load()
	if refs == nil || obj.GetLabels()[dataplane.LabelManagedBy] == dataplane.ManagedByValue {
		return true
	}
	key := client.ObjectKeyFromObject(obj)
	looked := func(r *translate.References) map[types.NamespacedName]bool { return r.Services }
	switch obj.(type) {
	case *corev1.Secret:
		looked = func(r *translate.References) map[types.NamespacedName]bool { return r.Secrets }
	case *corev1.ConfigMap:
		looked = func(r *translate.References) map[types.NamespacedName]bool { return r.ConfigMaps }
	case *discoveryv1.EndpointSlice:
		key.Name = obj.GetLabels()[discoveryv1.LabelServiceName]
	}
	if looked(refs)[key] {
		return true
	}
	r.skippedMu.Lock()
	defer r.skippedMu.Unlock()
	if r.skipped.Services == nil {
		r.skipped = translate.References{Services: map[types.NamespacedName]bool{}, Secrets: map[types.NamespacedName]bool{},
			ConfigMaps: map[types.NamespacedName]bool{}}
	}
	looked(&r.skipped)[key] = true
	return false
}

// takeSkipped returns the objects skipped since the last call and forgets
// them.
func (r *Reconciler) takeSkipped() translate.References {
	r.skippedMu.Lock()
	defer r.skippedMu.Unlock()
	s := r.skipped
	r.skipped = translate.References{}
	return s
}

// missedChange reports whether the translation looked up an object whose
// event was skipped while it ran.
func missedChange(looked, skipped translate.References) bool {
	for k := range skipped.Services {
		if looked.Services[k] {
			return true
		}
	}
	for k := range skipped.Secrets {
		if looked.Secrets[k] {
			return true
		}
	}
	for k := range skipped.ConfigMaps {
		if looked.ConfigMaps[k] {
			return true
		}
	}
	return false
}

var crdListGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinitionList"}

func crdMetadata() *metav1.PartialObjectMetadata {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	return crd
}

// gatewayAPICRDVersions maps each installed Gateway API CRD to its
// bundle-version annotation, and to its channel annotation.
func (r *Reconciler) gatewayAPICRDVersions(ctx context.Context) (versions, channels map[string]string, err error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(crdListGVK)
	if err := r.client.List(ctx, list); err != nil {
		return nil, nil, fmt.Errorf("listing CustomResourceDefinitions: %w", err)
	}
	versions, channels = map[string]string{}, map[string]string{}
	for _, crd := range list.Items {
		if strings.HasSuffix(crd.Name, "."+gatewayv1.GroupName) {
			versions[crd.Name] = crd.Annotations[consts.BundleVersionAnnotation]
			channels[crd.Name] = crd.Annotations[consts.ChannelAnnotation]
		}
	}
	return versions, channels, nil
}

// Reconcile runs one translation over the whole cluster and applies its result.
func (r *Reconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	r.takeSkipped() // this run reads them fresh
	began := time.Now()
	in, err := r.readInputs(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	timeStep("inputs", began)
	gateways := map[types.NamespacedName]*gatewayv1.Gateway{}
	for i := range in.Gateways {
		gw := &in.Gateways[i]
		gateways[client.ObjectKeyFromObject(gw)] = gw
	}
	// The routes of every kind, as the status writer sees them (listed
	// once: 80 bytes a route, on every reconcile).
	routes := routeObjects(&in)
	generations := changedRouteGenerations(routes)
	if _, err := r.refuseRejectedRoutes(ctx, gateways); err != nil {
		return reconcile.Result{}, err
	}
	for route, msg := range r.mem.refusedRoutes(routes) {
		if in.Refused == nil {
			in.Refused = map[translate.RouteKey]string{}
		}
		if _, set := in.Refused[route]; !set {
			in.Refused[route] = msg
		}
	}
	// Translate and render; routes nginx cannot take are refused there.
	// An event that changed nothing the translation reads (a gateway pod,
	// an owned object, a report, a status this operator wrote) reuses the
	// last run's result: the same InputKey gives the same Output, and the
	// pipeline's result follows from it.
	// When only EndpointSlices changed, only the Gateways' endpoints can
	// differ (translate.Reendpoint): no model, so nothing to render.
	keyStart := time.Now()
	key, keyed := translate.InputKey(&in)
	timeStep("input key", keyStart)
	pipeStart := time.Now()
	reuse := keyed && r.lastRunValid
	var piped pipeline.Result
	switch {
	case reuse && key == r.lastRunKey:
		piped = r.lastRun
	case reuse && key.ButEndpointSlices == r.lastRunKey.ButEndpointSlices:
		piped = r.lastRun
		piped.Output = translate.Reendpoint(r.lastRun.Output, &in)
		r.lastRun, r.lastRunKey = piped, key
	default:
		// Of the last run only its memo is read from here on: its
		// translation (every route's status) is let go before this one is
		// built rather than kept alive beside it. Nothing here reads a
		// model or the plain source document (RerunLean): the models are
		// let go once their files are written (at 5,000 routes ~3 MiB, and
		// with GOGC=50 every MiB kept raises the heap's goal by half as
		// much), the document once compressed; Result.Served says which
		// Gateways had a model, translate.Reendpoint needs only the
		// endpoints.
		memo := r.lastRun.Memo
		r.lastRun, r.lastRunValid = pipeline.Result{}, false
		piped = pipeline.RerunLean(in, memo)
		r.lastRun, r.lastRunKey, r.lastRunValid = piped, key, keyed
	}
	timeStep("pipeline", pipeStart)
	out := piped.Output
	r.refs.Store(&out.References)
	missed := missedChange(out.References, r.takeSkipped())
	now := metav1.Now()

	// The data planes first: their verdicts are part of the statuses.
	var errs []error
	verdicts := map[types.NamespacedName]metav1.Condition{}
	var addressRecheckIn time.Duration // > 0: a Gateway waits for its load balancer (AddressVerdict)
	for _, result := range out.Gateways {
		gw := gateways[result.NamespacedName]
		// A Gateway being deleted is not served: applying would recreate
		// objects that the garbage collector is removing.
		if gw == nil || !piped.Served(result.NamespacedName) || gw.DeletionTimestamp != nil {
			continue
		}
		nn := result.NamespacedName
		verdict, recheck, err := r.syncDataPlane(ctx, gw, result, pipelineGateway{piped.Files[nn], piped.Encoded[nn], piped.Errors[nn]}, generations)
		if err != nil {
			errs = append(errs, err)
		}
		if recheck > 0 && (addressRecheckIn == 0 || recheck < addressRecheckIn) {
			addressRecheckIn = recheck
		}
		verdicts[result.NamespacedName] = verdict
	}
	if err := r.deleteUnserved(ctx, gateways, verdicts); err != nil {
		errs = append(errs, err)
	}
	r.mem.forget(func(gw types.NamespacedName) bool { _, served := verdicts[gw]; return served })
	// A rejection of a config only just remembered (the same config
	// rendered again after an operator restart) is acted on at once.
	refusedNow, err := r.refuseRejectedRoutes(ctx, gateways)
	if err != nil {
		errs = append(errs, err)
	}

	statusStart := time.Now()
	statuses := ComposeStatuses(out, verdicts)
	for _, result := range out.Gateways {
		if gw := gateways[result.NamespacedName]; gw != nil {
			if err := r.writeGatewayStatus(ctx, gw, statuses.Gateways[result.NamespacedName], now); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := r.writeGatewayClassStatuses(ctx, in.GatewayClasses, statuses.GatewayClasses, now); err != nil {
		errs = append(errs, err)
	}
	if err := r.writeListenerSetStatuses(ctx, in.ListenerSets, statuses.ListenerSets, now); err != nil {
		errs = append(errs, err)
	}
	routeStatusStart := time.Now()
	if err := r.writeRouteStatuses(ctx, routes, statuses.Routes, now); err != nil {
		errs = append(errs, err)
	}
	timeStep("route statuses", routeStatusStart)
	if err := r.writeBackendTLSPolicyStatuses(ctx, in.BackendTLSPolicies, out.BackendTLSPolicies, now); err != nil {
		errs = append(errs, err)
	}
	timeStep("statuses", statusStart)
	timeStep("reconcile", began)
	err = errors.Join(errs...)
	if err != nil && onlyConflicts(err) {
		// Our cache had not yet seen our own last write: nothing is wrong,
		// the next run reads fresh objects.
		log.FromContext(ctx).V(1).Info("write conflict, retrying", "error", err.Error())
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	if err == nil && (refusedNow || missed) {
		return reconcile.Result{RequeueAfter: conflictRetry}, nil
	}
	if err == nil && addressRecheckIn > 0 {
		return reconcile.Result{RequeueAfter: addressRecheckIn}, nil
	}
	return reconcile.Result{}, err
}

// conflictRetry is how soon a reconcile that lost an optimistic-lock race
// runs again.
const conflictRetry = 200 * time.Millisecond

// onlyConflicts reports whether err, and every error joined in it, is a
// resourceVersion conflict.
func onlyConflicts(err error) bool {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			if !onlyConflicts(e) {
				return false
			}
		}
		return true
	}
	return apierrors.IsConflict(err)
}

// pipelineGateway is what the pipeline made of one Gateway: its files,
// their ConfigMap encoding, or the render error that is no route's fault.
type pipelineGateway struct {
	files   render.Files
	encoded resources.EncodedConfig
	err     error
}

// syncDataPlane applies the owned objects of one accepted Gateway with
// its rendered files, remembers them (a rejection names a line of them),
// points its pods at the new config and returns the data plane's verdict
// (see DataPlaneProgrammed). rendered.err is its render error.
func (r *Reconciler) syncDataPlane(ctx context.Context, gw *gatewayv1.Gateway, result translate.GatewayResult, rendered pipelineGateway, generations map[translate.RouteKey]int64) (_ metav1.Condition, recheck time.Duration, _ error) {
	files, err := rendered.files, rendered.err
	if err != nil {
		r.recorder.Eventf(gw, nil, corev1.EventTypeWarning, "RenderFailed", "Render", "rendering the nginx configuration: %v", err)
		return metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonInvalid), Message: fmt.Sprintf("rendering the nginx configuration: %v", err),
		}, 0, fmt.Errorf("rendering %s: %w", result.NamespacedName, err)
	}
	owner := resources.Owner{Namespace: gw.Namespace, Name: gw.Name, UID: gw.UID}
	set := resources.ObjectsEncoded(owner, result.Infrastructure, files, rendered.encoded, r.opts.Resources)
	// The ConfigMap carries the config's hash (resources.ConfigHash): read
	// it there rather than hash every file a second time.
	hash := set.ConfigMap.Annotations[dataplane.AnnotationConfigHash]
	r.mem.remember(result.NamespacedName, renderedConfig{hash: hash, encoded: rendered.encoded, sources: files.Sources, generations: generations})
	set.Endpoints.Data = resources.EndpointsData(result.Endpoints)
	ownedStart := time.Now()
	if err := r.applyOwned(ctx, owner, set); err != nil {
		r.recorder.Eventf(gw, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%v", err)
		return metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonPending), Message: "the data plane objects could not be written; retrying",
		}, 0, err
	}
	timeStep("owned objects", ownedStart)
	podsStart := time.Now()
	var pods corev1.PodList
	if err := r.client.List(ctx, &pods, client.InNamespace(gw.Namespace),
		client.MatchingLabels(resources.SelectorLabels(gw.Namespace, gw.Name))); err != nil {
		return metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonPending), Message: "the gateway pods could not be listed; retrying",
		}, 0, err
	}
	report, err := r.readReport(ctx, result.NamespacedName)
	if err != nil {
		return metav1.Condition{
			Type: string(gatewayv1.GatewayConditionProgrammed), Status: metav1.ConditionFalse,
			Reason: string(gatewayv1.GatewayReasonPending), Message: "the gateway pods' report could not be read; retrying",
		}, 0, err
	}
	reports := PodReports(report)
	err = errors.Join(r.patchConfigHash(ctx, pods.Items, hash), r.writeLastGood(ctx, owner, result, pods.Items, reports), r.pruneReport(ctx, report, pods.Items))
	timeStep("pods and report", podsStart)
	verdict := DataPlaneProgrammed(hash, pods.Items, reports)
	// An address the Gateway named and has not got is told before a data
	// plane still starting (the user may have to fix it); nginx's refusal
	// of the config stays first.
	if len(gw.Spec.Addresses) > 0 && verdict.Reason != string(gatewayv1.GatewayReasonInvalid) {
		addresses, ok, wait, addrErr := r.addressVerdict(ctx, gw, client.ObjectKeyFromObject(set.Service))
		err = errors.Join(err, addrErr)
		if !ok {
			verdict = addresses
		}
		if wait {
			recheck = addressRecheckAfter(gw, time.Now())
		}
	}
	return verdict, recheck, err
}

// readReport returns the Gateway's report ConfigMap from the cache, nil
// when it is not there yet (the apply that creates it has not reached the
// cache).
func (r *Reconciler) readReport(ctx context.Context, gw types.NamespacedName) (*corev1.ConfigMap, error) {
	report := &corev1.ConfigMap{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: gw.Namespace, Name: resources.ReportName(gw.Name)}, report)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the report ConfigMap of %s/%s: %w", gw.Namespace, gw.Name, err)
	}
	return report, nil
}

// pruneReport removes from the report ConfigMap the keys of pods that no
// longer exist. A pod missing from the cache is looked up on the API server
// first: a new pod may report before the cache has seen it, and its keys
// must stay. The keys are owned by the pods' field managers, so they are
// removed with a merge patch (null deletes), which no field manager can
// refuse, rather than by an apply.
func (r *Reconciler) pruneReport(ctx context.Context, report *corev1.ConfigMap, pods []corev1.Pod) error {
	if report == nil {
		return nil
	}
	known := map[string]bool{}
	for i := range pods {
		known[pods[i].Name] = true
	}
	gone := map[string]bool{}
	remove := map[string]any{}
	for key := range report.Data {
		pod := dataplane.ReportPod(key)
		if pod == "" || known[pod] {
			continue
		}
		if _, checked := gone[pod]; !checked {
			err := r.reader.Get(ctx, client.ObjectKey{Namespace: report.Namespace, Name: pod}, &corev1.Pod{})
			if err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("looking up pod %s/%s of a report: %w", report.Namespace, pod, err)
			}
			gone[pod] = apierrors.IsNotFound(err)
		}
		if gone[pod] {
			remove[key] = nil
		}
	}
	if len(remove) == 0 {
		return nil
	}
	patch, err := json.Marshal(map[string]any{"data": remove})
	if err != nil {
		return err
	}
	log.FromContext(ctx).Info("removing the reports of deleted pods", "namespace", report.Namespace, "name", report.Name, "keys", len(remove))
	if err := r.client.Patch(ctx, report, client.RawPatch(types.MergePatchType, patch)); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("pruning report ConfigMap %s/%s: %w", report.Namespace, report.Name, err)
	}
	return nil
}

// refuseRejectedRoutes refuses the route behind each config rendered here
// that a gateway pod rejected (see refusals.go), with an event on its Gateway.
// It reports whether it refused any route.
func (r *Reconciler) refuseRejectedRoutes(ctx context.Context, gateways map[types.NamespacedName]*gatewayv1.Gateway) (bool, error) {
	refused := false
	for key := range r.mem.rendered {
		report, err := r.readReport(ctx, key)
		if err != nil {
			return refused, err
		}
		for _, route := range r.mem.noteRejections(key, PodReports(report)) {
			refused = true
			log.FromContext(ctx).Info("refusing the route behind a rejected config", "gateway", key, "route", route)
			if gw := gateways[key]; gw != nil {
				r.recorder.Eventf(gw, nil, corev1.EventTypeWarning, "RouteRefused", "Render",
					"nginx rejected a line of %s %s; it is left out of the configuration until it changes", route.Kind, route.NamespacedName)
			}
		}
	}
	return refused, nil
}

// writeLastGood keeps the Gateway's last-good ConfigMap at the newest
// config a pod reports applied, from the files rendered here for its hash
// (a config this operator did not render is never copied). With no such
// config in memory (say after an operator restart) it is left as it is.
func (r *Reconciler) writeLastGood(ctx context.Context, owner resources.Owner, result translate.GatewayResult, pods []corev1.Pod, reports map[string]dataplane.PodReport) error {
	cfg, ok := r.mem.newestApplied(result.NamespacedName, pods, reports)
	if !ok {
		return nil
	}
	return r.replaceConfigMap(ctx, owner, resources.LastGoodConfigMap(owner, result.Infrastructure, cfg.hash, cfg.encoded))
}

// patchConfigHash writes the wanted config hash, and since when it is
// wanted, on every running gateway pod that does not carry it yet; the pod
// update makes the kubelet re-sync the pod's ConfigMap and Secret volumes
// at once.
func (r *Reconciler) patchConfigHash(ctx context.Context, pods []corev1.Pod, hash string) error {
	since := time.Now().UTC().Format(time.RFC3339)
	var errs []error
	for i := range pods {
		pod := &pods[i]
		if pod.DeletionTimestamp != nil || pod.Annotations[dataplane.AnnotationConfigHash] == hash {
			continue
		}
		patch := client.MergeFrom(pod.DeepCopy())
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[dataplane.AnnotationConfigHash] = hash
		pod.Annotations[dataplane.AnnotationConfigHashSince] = since
		if err := r.client.Patch(ctx, pod, patch); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("annotating pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

// readInputs lists every object the translation step looks at from the cache.
func (r *Reconciler) readInputs(ctx context.Context) (translate.Input, error) {
	var (
		in         translate.Input
		classes    gatewayv1.GatewayClassList
		gateways   gatewayv1.GatewayList
		grants     gatewayv1beta1.ReferenceGrantList
		namespaces corev1.NamespaceList
		services   corev1.ServiceList
		slices     discoveryv1.EndpointSliceList
		secrets    corev1.SecretList
		parameters v1alpha1.GatewayParametersList
	)
	// GatewayClasses and Gateways are copied: their status writers change
	// the listed objects. The others only the translation reads, which
	// changes nothing (TestTranslateLeavesItsInputAsItIs): they share their
	// fields with the cache's objects rather than being deep copied on
	// every reconcile (a Service per route is thousands of them).
	for _, list := range []client.ObjectList{&classes, &gateways} {
		if err := r.client.List(ctx, list); err != nil {
			return in, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	for _, list := range []client.ObjectList{&grants, &namespaces, &services, &slices, &secrets, &parameters} {
		if err := r.client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return in, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	in.GatewayClasses = classes.Items
	in.Gateways = gateways.Items
	in.ReferenceGrants = grants.Items
	in.Namespaces = namespaces.Items
	in.Services = services.Items
	in.EndpointSlices = slices.Items
	in.Secrets = secrets.Items
	in.Parameters = parameters.Items
	for _, k := range routeKinds {
		if err := k.read(ctx, r.client, r.informers, &in); err != nil {
			return in, fmt.Errorf("listing %T: %w", k.object, err)
		}
	}
	if err := readBackendTLSPolicies(ctx, r.client, &in); err != nil {
		return in, err
	}
	if err := readListenerSets(ctx, r.client, &in); err != nil {
		return in, err
	}
	versions, channels, err := r.gatewayAPICRDVersions(ctx)
	if err != nil {
		return in, err
	}
	in.GatewayAPICRDVersions, in.GatewayAPICRDChannels = versions, channels
	log.FromContext(ctx).V(1).Info("inputs", "gatewayClasses", len(classes.Items), "gateways", len(gateways.Items), "httpRoutes", len(in.HTTPRoutes), "grpcRoutes", len(in.GRPCRoutes))
	return in, nil
}
