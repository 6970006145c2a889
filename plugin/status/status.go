package status

import (
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// State is what a gateway pod serves compared with what the operator
// wants: dataplane.PodStateOf, the classification the operator's Programmed
// condition uses too.
type State = dataplane.PodState

const (
	Synced   = dataplane.PodSynced
	Stale    = dataplane.PodStale
	Rejected = dataplane.PodRejected
	NotReady = dataplane.PodNotReady
)

// Input is everything Build needs about one Gateway, as read from the API
// server. ConfigMap and Report are nil when missing.
type Input struct {
	Gateway   gatewayv1.Gateway
	ConfigMap *corev1.ConfigMap
	Report    *corev1.ConfigMap
	Pods      []corev1.Pod
	// Routes may hold routes of any kind; only our status entries for
	// Gateway count.
	Routes []Route
	// DataPlanes holds, per pod name, its sidecar's reload and worker
	// figures, and DataPlaneErrors why a pod's could not be read; neither
	// when the pods' metrics were not read.
	DataPlanes      map[string]*DataPlane
	DataPlaneErrors map[string]string
	// Now is when the status is read: a STALE pod is stale for Now minus
	// the time the operator pointed it at the wanted config.
	Now time.Time
}

// Route is what status reads of a route of any kind: its name and the
// status.parents every route kind has.
type Route struct {
	Kind      string
	Namespace string
	Name      string
	Parents   []gatewayv1.RouteParentStatus
}

// GatewayStatus is the status of one Gateway, the unit of every output.
type GatewayStatus struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// WantedHash is the hash of the config the operator rendered for the
	// Gateway (its ConfigMap's dataplane.AnnotationConfigHash); empty when
	// there is none (not accepted yet, or an operator that does not write it).
	WantedHash    string        `json:"wantedHash"`
	Accepted      Condition     `json:"accepted"`
	Programmed    Condition     `json:"programmed"`
	Pods          []PodStatus   `json:"pods"`
	RefusedRoutes []RouteStatus `json:"refusedRoutes,omitempty"`
	// InSync: Accepted and Programmed True and every pod Synced.
	InSync bool `json:"inSync"`
}

// Condition is a Gateway condition; Status "Unknown" when absent.
type Condition struct {
	Status  metav1.ConditionStatus `json:"status"`
	Reason  string                 `json:"reason,omitempty"`
	Message string                 `json:"message,omitempty"`
}

// PodStatus is one gateway pod.
type PodStatus struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	Ready bool   `json:"ready"`
	// AnnotatedHash is the pod's dataplane.AnnotationConfigHash: the
	// config the operator pointed this pod at, and AnnotatedAt when
	// (dataplane.AnnotationConfigHashSince).
	AnnotatedHash string     `json:"annotatedHash,omitempty"`
	AnnotatedAt   *time.Time `json:"annotatedAt,omitempty"`
	// StaleFor is, for a STALE pod annotated with the wanted config, how
	// long ago the operator asked for it (whole seconds).
	StaleFor string `json:"staleFor,omitempty"`
	// AppliedHash, RejectedHash and RejectedMessage are the pod's report.
	AppliedHash     string `json:"appliedHash,omitempty"`
	RejectedHash    string `json:"rejectedHash,omitempty"`
	RejectedMessage string `json:"rejectedMessage,omitempty"`
	// DataPlane is the pod's reload timings, counts and worker
	// generations, from its sidecar; DataPlaneError why they are missing.
	DataPlane      *DataPlane `json:"dataPlane,omitempty"`
	DataPlaneError string     `json:"dataPlaneError,omitempty"`
}

// RouteStatus is a route our controller refused for the Gateway.
type RouteStatus struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Reason    string `json:"reason"`
	Message   string `json:"message"`
}

// Build is the status of in.Gateway. Pods being deleted are left out, as
// the operator leaves them out of Programmed.
func Build(in Input) GatewayStatus {
	gw := &in.Gateway
	out := GatewayStatus{
		Namespace:  gw.Namespace,
		Name:       gw.Name,
		Accepted:   condition(gw.Status.Conditions, string(gatewayv1.GatewayConditionAccepted)),
		Programmed: condition(gw.Status.Conditions, string(gatewayv1.GatewayConditionProgrammed)),
		Pods:       []PodStatus{},
	}
	if in.ConfigMap != nil {
		out.WantedHash = in.ConfigMap.Annotations[dataplane.AnnotationConfigHash]
	}
	var reports map[string]dataplane.PodReport
	if in.Report != nil {
		reports = dataplane.ParseReports(in.Report.Data)
	}
	allSynced := true
	for i := range in.Pods {
		pod := &in.Pods[i]
		if pod.DeletionTimestamp != nil {
			continue
		}
		ps := podStatus(pod, reports[pod.Name], out.WantedHash, in.Now)
		ps.DataPlane, ps.DataPlaneError = in.DataPlanes[pod.Name], in.DataPlaneErrors[pod.Name]
		allSynced = allSynced && ps.State == Synced
		out.Pods = append(out.Pods, ps)
	}
	slices.SortFunc(out.Pods, func(a, b PodStatus) int { return strings.Compare(a.Name, b.Name) })
	out.RefusedRoutes = refusedRoutes(gw, in.Routes)
	out.InSync = out.WantedHash != "" && len(out.Pods) > 0 && allSynced &&
		out.Accepted.Status == metav1.ConditionTrue && out.Programmed.Status == metav1.ConditionTrue
	return out
}

func podStatus(pod *corev1.Pod, report dataplane.PodReport, wanted string, now time.Time) PodStatus {
	ps := PodStatus{
		Name:            pod.Name,
		State:           dataplane.PodStateOf(pod, report, wanted),
		Ready:           dataplane.PodReady(pod),
		AnnotatedHash:   pod.Annotations[dataplane.AnnotationConfigHash],
		AppliedHash:     report.AppliedHash,
		RejectedHash:    report.RejectedHash,
		RejectedMessage: report.RejectedMessage,
	}
	if at, err := time.Parse(time.RFC3339, pod.Annotations[dataplane.AnnotationConfigHashSince]); err == nil {
		at = at.UTC()
		ps.AnnotatedAt = &at
		// Stale for how long is only known when the pod was pointed at the
		// wanted config: before that, the operator has not asked it yet.
		if ps.State == Stale && ps.AnnotatedHash == wanted && !now.IsZero() {
			ps.StaleFor = max(now.Sub(at), 0).Truncate(time.Second).String()
		}
	}
	return ps
}

func condition(conds []metav1.Condition, t string) Condition {
	c := meta.FindStatusCondition(conds, t)
	if c == nil {
		return Condition{Status: metav1.ConditionUnknown, Reason: "NotReported"}
	}
	return Condition{Status: c.Status, Reason: c.Reason, Message: c.Message}
}

// refusedRoutes are the routes with an entry of our controller for gw in
// status.parents whose Accepted is False, sorted by namespace and name.
func refusedRoutes(gw *gatewayv1.Gateway, routes []Route) []RouteStatus {
	var out []RouteStatus
	for i := range routes {
		r := &routes[i]
		for _, p := range r.Parents {
			if p.ControllerName != translate.ControllerName || !refersTo(p.ParentRef, r.Namespace, gw) {
				continue
			}
			c := meta.FindStatusCondition(p.Conditions, string(gatewayv1.RouteConditionAccepted))
			if c == nil || c.Status != metav1.ConditionFalse {
				continue
			}
			out = append(out, RouteStatus{Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, Reason: c.Reason, Message: c.Message})
		}
	}
	slices.SortFunc(out, func(a, b RouteStatus) int {
		return strings.Compare(a.Namespace+"/"+a.Name+"\x00"+a.Kind+"\x00"+a.Reason+a.Message, b.Namespace+"/"+b.Name+"\x00"+b.Kind+"\x00"+b.Reason+b.Message)
	})
	// One route may have several parentRefs to the Gateway (sections).
	return slices.Compact(out)
}

func refersTo(ref gatewayv1.ParentReference, routeNamespace string, gw *gatewayv1.Gateway) bool {
	if ref.Group != nil && *ref.Group != gatewayv1.GroupName {
		return false
	}
	if ref.Kind != nil && *ref.Kind != "Gateway" {
		return false
	}
	ns := routeNamespace
	if ref.Namespace != nil {
		ns = string(*ref.Namespace)
	}
	return ns == gw.Namespace && string(ref.Name) == gw.Name
}
