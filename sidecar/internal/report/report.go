package report

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

const (
	// ReasonApplied and ReasonRejected are the Gateway Events' reasons.
	ReasonApplied  = dataplane.EventReasonConfigApplied
	ReasonRejected = dataplane.EventReasonConfigRejected
	// MaxMessage bounds nginx's message in the annotation and the Event.
	MaxMessage = 2048
	// component names the Events' source.
	component = dataplane.SidecarFieldManager
)

// Target names the objects reports go to.
type Target struct {
	PodName, PodNamespace         string
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

	mu     sync.Mutex
	queue  []Outcome
	wakeup chan struct{}
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
	r.queue = append(r.queue, o)
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
		var next *Outcome
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
func (r *Reporter) send(ctx context.Context, o Outcome) bool {
	backoff := 500 * time.Millisecond
	annotated := false
	for {
		var err error
		if !annotated {
			if err = r.annotatePod(ctx, o); err == nil {
				annotated = true
			}
		}
		if err == nil && o.Event {
			err = r.recordEvent(ctx, o)
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

func (r *Reporter) annotatePod(ctx context.Context, o Outcome) error {
	if r.target.PodName == "" {
		return nil
	}
	annotations := map[string]any{}
	if o.Rejected {
		annotations[dataplane.AnnotationRejectedHash] = o.Hash
		annotations[dataplane.AnnotationRejectedMessage] = o.Message
	} else {
		annotations[dataplane.AnnotationAppliedHash] = o.Hash
		annotations[dataplane.AnnotationRejectedHash] = nil // null removes, in a merge patch
		annotations[dataplane.AnnotationRejectedMessage] = nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": annotations}})
	if err != nil {
		return err
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: r.target.PodName, Namespace: r.target.PodNamespace}}
	if err := r.client.Patch(ctx, pod, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return fmt.Errorf("annotating pod %s/%s: %w", r.target.PodNamespace, r.target.PodName, err)
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
// character boundary, to fit an annotation.
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
