package report

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

const (
	// ReasonApplied and ReasonRejected are the Gateway Events' reasons.
	ReasonApplied  = dataplane.EventReasonConfigApplied
	ReasonRejected = dataplane.EventReasonConfigRejected
	// MaxMessage bounds nginx's message in the report and the Event.
	MaxMessage = 2048
	// component names the Events' source.
	component = dataplane.SidecarFieldManager
)

// Target names the objects reports go to: the report ConfigMap (in
// PodNamespace, which is the Gateway's), where this pod's keys are named
// after PodName, and the Gateway the Events are about.
type Target struct {
	PodName, PodNamespace         string
	ReportConfigMap               string
	GatewayName, GatewayNamespace string
}

// Outcome is one config's fate.
type Outcome struct {
	Hash     string
	Rejected bool
	Message  string // nginx's message when rejected
	// Event says whether to record an Event (not for the state found at start).
	Event bool
}

// Reporter sends outcomes to the API server, in order.
type Reporter struct {
	client client.Client
	target Target
	log    logr.Logger

	mu      sync.Mutex
	queue   []queued
	applied string // the last applied hash, kept in reports of rejections
	wakeup  chan struct{}
}

// queued is an outcome and the whole report it leaves: an apply sets every
// key of this pod's field manager, so each carries the applied hash too.
type queued struct {
	Outcome
	report dataplane.PodReport
}

// maxQueue bounds the outcomes waiting while the API server is unreachable;
// past it the oldest are dropped (the newest carries the current state).
const maxQueue = 64

// New returns a Reporter; call Run to send.
func New(c client.Client, target Target, log logr.Logger) *Reporter {
	return &Reporter{client: c, target: target, log: log, wakeup: make(chan struct{}, 1)}
}

// Report queues an outcome.
func (r *Reporter) Report(o Outcome) {
	o.Message = TrimMessage(o.Message, MaxMessage)
	r.mu.Lock()
	q := queued{Outcome: o}
	if o.Rejected {
		q.report = dataplane.PodReport{AppliedHash: r.applied, RejectedHash: o.Hash, RejectedMessage: o.Message}
	} else {
		r.applied = o.Hash
		q.report = dataplane.PodReport{AppliedHash: o.Hash}
	}
	r.queue = append(r.queue, q)
	if len(r.queue) > maxQueue {
		r.queue = r.queue[len(r.queue)-maxQueue:]
	}
	r.mu.Unlock()
	select {
	case r.wakeup <- struct{}{}:
	default:
	}
}

// Run sends queued outcomes until ctx ends, retrying failed calls with backoff.
func (r *Reporter) Run(ctx context.Context) {
	for {
		r.mu.Lock()
		var next *queued
		if len(r.queue) > 0 {
			next = &r.queue[0]
		}
		r.mu.Unlock()
		if next == nil {
			select {
			case <-ctx.Done():
				return
			case <-r.wakeup:
				continue
			}
		}
		if !r.send(ctx, *next) {
			return
		}
		r.mu.Lock()
		r.queue = r.queue[1:]
		r.mu.Unlock()
	}
}

// send delivers one outcome, retrying; false when ctx ended first.
func (r *Reporter) send(ctx context.Context, o queued) bool {
	backoff := 500 * time.Millisecond
	reported := false
	for {
		var err error
		if !reported {
			if err = r.applyReport(ctx, o.report); err == nil {
				reported = true
			}
		}
		if err == nil && o.Event {
			err = r.recordEvent(ctx, o.Outcome)
		}
		if err == nil {
			return true
		}
		r.log.Error(err, "reporting config outcome; retrying", "hash", o.Hash, "in", backoff)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// applyReport server-side applies this pod's keys of the report ConfigMap
// under the pod's own field manager: keys of other replicas are not this
// manager's and stay, keys this manager set before and no longer sets (a
// rejection that a later config fixed) are removed. The operator created
// the ConfigMap; the sidecar may not create it, so until then this fails
// and is retried.
func (r *Reporter) applyReport(ctx context.Context, report dataplane.PodReport) error {
	if r.target.PodName == "" || r.target.ReportConfigMap == "" {
		return nil
	}
	cm := corev1ac.ConfigMap(r.target.ReportConfigMap, r.target.PodNamespace).WithData(report.Data(r.target.PodName))
	if err := r.client.Apply(ctx, cm, client.FieldOwner(dataplane.ReportFieldManager(r.target.PodName)), client.ForceOwnership); err != nil {
		return fmt.Errorf("reporting to ConfigMap %s/%s: %w", r.target.PodNamespace, r.target.ReportConfigMap, err)
	}
	return nil
}

func (r *Reporter) recordEvent(ctx context.Context, o Outcome) error {
	if r.target.GatewayName == "" {
		return nil
	}
	ref := corev1.ObjectReference{
		APIVersion: gatewayv1.GroupVersion.String(),
		Kind:       "Gateway",
		Name:       r.target.GatewayName,
		Namespace:  r.target.GatewayNamespace,
	}
	gw := &gatewayv1.Gateway{}
	if err := r.client.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, gw); err == nil {
		ref.UID, ref.ResourceVersion = gw.UID, gw.ResourceVersion
	}
	now := metav1.NewTime(time.Now())
	ev := &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:      fmt.Sprintf("%s.%x", ref.Name, time.Now().UnixNano()),
			Namespace: ref.Namespace,
		},
		InvolvedObject:      ref,
		Type:                corev1.EventTypeNormal,
		Reason:              ReasonApplied,
		Message:             fmt.Sprintf("nginx serves config %s (pod %s)", o.Hash, r.target.PodName),
		Source:              corev1.EventSource{Component: component},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		ReportingController: "gateway.nginx-operator.dev/" + component,
		ReportingInstance:   r.target.PodName,
	}
	if o.Rejected {
		ev.Type, ev.Reason = corev1.EventTypeWarning, ReasonRejected
		ev.Message = fmt.Sprintf("config %s refused (pod %s): %s", o.Hash, r.target.PodName, o.Message)
	}
	if err := r.client.Create(ctx, ev); err != nil {
		return fmt.Errorf("recording event on gateway %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return nil
}

// TrimMessage shortens nginx's text to at most max bytes, cut on a
// character boundary, to fit the report.
func TrimMessage(msg string, max int) string {
	msg = strings.TrimSpace(msg)
	if len(msg) <= max {
		return msg
	}
	const ellipsis = "…"
	cut := max - len(ellipsis)
	for cut > 0 && (msg[cut]&0xC0) == 0x80 { // UTF-8 continuation byte
		cut--
	}
	return msg[:cut] + ellipsis
}
