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

// Get fetches path from port of pod (in namespace) through the API
// server's pod proxy. An answer 503 is asked again twice (the sidecar
// answers it while the applied config changes under a read).
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
		body, err = cs.CoreV1().Pods(namespace).ProxyGet("http", pod, strconv.Itoa(port), path, nil).DoRaw(ctx)
		if err == nil {
			return body, nil
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
