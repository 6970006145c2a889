package podproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
)

// AnswerTimeout bounds each read: a sidecar that is stopped or hung
// accepts the connection and never answers, and the API server's proxy
// waits about a minute before it gives up. status is run precisely when a
// pod is stale, so it reports such a pod's read as failed instead.
const AnswerTimeout = 5 * time.Second

// Get fetches path from port of pod (in namespace) through the API
// server's pod proxy. An answer 503 is asked again twice (the sidecar
// answers it while the applied config changes under a read); no answer
// within AnswerTimeout is an error.
func Get(ctx context.Context, cs kubernetes.Interface, namespace, pod string, port int, path string) ([]byte, error) {
	var err error
	for attempt := range 3 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		var body []byte
		attemptCtx, cancel := context.WithTimeout(ctx, AnswerTimeout)
		body, err = cs.CoreV1().Pods(namespace).ProxyGet("http", pod, strconv.Itoa(port), path, nil).DoRaw(attemptCtx)
		timedOut := attemptCtx.Err() != nil && ctx.Err() == nil
		cancel()
		if err == nil {
			return body, nil
		}
		if timedOut {
			// The cause first: tables cut long messages.
			return nil, fmt.Errorf("no answer within %s (sidecar stopped or overloaded?) reading %s of pod %s/%s through the API server's pod proxy", AnswerTimeout, path, namespace, pod)
		}
		if !apierrors.IsServiceUnavailable(err) {
			break
		}
	}
	if apierrors.IsForbidden(err) {
		return nil, fmt.Errorf("reading %s of pod %s/%s needs get on pods/proxy (the ClusterRole nginx-gateway-plugin-viewer, config/plugin/viewer_role.yaml): %w", path, namespace, pod, err)
	}
	return nil, fmt.Errorf("reading %s of pod %s/%s through the API server's pod proxy: %w", path, namespace, pod, err)
}

// GetJSON is Get decoded into v.
func GetJSON(ctx context.Context, cs kubernetes.Interface, namespace, pod string, port int, path string, v any) error {
	body, err := Get(ctx, cs, namespace, pod, port, path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("reading %s of pod %s/%s: %w", path, namespace, pod, err)
	}
	return nil
}
