package nodeagent

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func (w *podWorker) podIP() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.net == nil {
		return ""
	}
	return w.net.IP.String()
}

// containerEnv is the container's environment as the kubelet and the
// runtime build it: defaults, the image's env, the API server's service
// variables, envFrom, then env (later wins), with $(VAR) references
// expanded in order.
func (w *podWorker) containerEnv(c *corev1.Container, imageEnv map[string]string) ([]string, map[string]string, error) {
	pod := w.currentPod()
	ctx := w.a.ctx
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	set("PATH", defaultPath)
	set("HOSTNAME", pod.Name)
	imageKeys := make([]string, 0, len(imageEnv))
	for k := range imageEnv {
		imageKeys = append(imageKeys, k)
	}
	sort.Strings(imageKeys)
	for _, k := range imageKeys {
		set(k, imageEnv[k])
	}
	host, port := w.a.cfg.APIServerHost, strconv.Itoa(w.a.cfg.APIServerPort)
	set("KUBERNETES_SERVICE_HOST", host)
	set("KUBERNETES_SERVICE_PORT", port)
	set("KUBERNETES_SERVICE_PORT_HTTPS", port)
	set("KUBERNETES_PORT", "tcp://"+host+":"+port)
	set("KUBERNETES_PORT_"+port+"_TCP", "tcp://"+host+":"+port)
	set("KUBERNETES_PORT_"+port+"_TCP_PROTO", "tcp")
	set("KUBERNETES_PORT_"+port+"_TCP_PORT", port)
	set("KUBERNETES_PORT_"+port+"_TCP_ADDR", host)

	for _, from := range c.EnvFrom {
		var data map[string]string
		switch {
		case from.ConfigMapRef != nil:
			cm, err := w.a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, nil, fmt.Errorf("envFrom: %w", err)
			}
			data = cm.Data
		case from.SecretRef != nil:
			s, err := w.a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) && optional(from.SecretRef.Optional) {
					continue
				}
				return nil, nil, fmt.Errorf("envFrom: %w", err)
			}
			data = map[string]string{}
			for k, v := range s.Data {
				data[k] = string(v)
			}
		}
		keys := make([]string, 0, len(data))
		for k := range data {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		v, skip, err := w.envValue(ctx, pod, c, e, env)
		if err != nil {
			return nil, nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if !skip {
			set(e.Name, v)
		}
	}
	list := make([]string, 0, len(order))
	for _, k := range order {
		list = append(list, k+"="+env[k])
	}
	return list, env, nil
}

func optional(b *bool) bool { return b != nil && *b }

func (w *podWorker) envValue(ctx context.Context, pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, env map[string]string) (string, bool, error) {
	if e.ValueFrom == nil {
		return expandVars(e.Value, env), false, nil
	}
	from := e.ValueFrom
	switch {
	case from.FieldRef != nil:
		v, err := w.fieldValue(pod, from.FieldRef.FieldPath)
		return v, false, err
	case from.ResourceFieldRef != nil:
		v, err := resourceValue(pod, c.Name, from.ResourceFieldRef)
		return v, false, err
	case from.ConfigMapKeyRef != nil:
		ref := from.ConfigMapKeyRef
		cm, err := w.a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", apierrors.IsNotFound(err) && optional(ref.Optional), ignoreIf(err, optional(ref.Optional))
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return "", optional(ref.Optional), ignoreIf(fmt.Errorf("ConfigMap %s has no key %s", ref.Name, ref.Key), optional(ref.Optional))
		}
		return v, false, nil
	case from.SecretKeyRef != nil:
		ref := from.SecretKeyRef
		s, err := w.a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return "", apierrors.IsNotFound(err) && optional(ref.Optional), ignoreIf(err, optional(ref.Optional))
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return "", optional(ref.Optional), ignoreIf(fmt.Errorf("Secret %s has no key %s", ref.Name, ref.Key), optional(ref.Optional))
		}
		return string(v), false, nil
	}
	return "", true, nil
}

func ignoreIf(err error, ignore bool) error {
	if ignore && (apierrors.IsNotFound(err) || !apierrors.IsUnexpectedServerError(err)) {
		return nil
	}
	return err
}

// fieldValue resolves a downward-API field path.
func (w *podWorker) fieldValue(pod *corev1.Pod, path string) (string, error) {
	if k, ok := subscript(path, "metadata.labels"); ok {
		return pod.Labels[k], nil
	}
	if k, ok := subscript(path, "metadata.annotations"); ok {
		return pod.Annotations[k], nil
	}
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return w.a.hostIP().String(), nil
	case "status.podIP", "status.podIPs":
		return w.podIP(), nil
	}
	return "", fmt.Errorf("unsupported field path %q", path)
}

// subscript parses `prefix['key']`.
func subscript(path, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(path, prefix+"['")
	if !ok || !strings.HasSuffix(rest, "']") {
		return "", false
	}
	return strings.TrimSuffix(rest, "']"), true
}

// formatMap is the kubelet's file format for labels and annotations.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%q\n", k, m[k])
	}
	return b.String()
}

// resourceValue resolves limits.* / requests.* of a container: its limit or
// request when set, otherwise the node's allocatable (as the kubelet does
// for unset limits), divided by the divisor and rounded up.
func resourceValue(pod *corev1.Pod, containerName string, ref *corev1.ResourceFieldSelector) (string, error) {
	name := containerName
	if ref.ContainerName != "" {
		name = ref.ContainerName
	}
	var c *corev1.Container
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			c = &pod.Spec.Containers[i]
		}
	}
	if c == nil {
		return "", fmt.Errorf("no container %q", name)
	}
	kind, res, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	list := c.Resources.Limits
	if kind == "requests" {
		list = c.Resources.Requests
	}
	q, ok := list[corev1.ResourceName(res)]
	if !ok {
		q, ok = nodeCapacity[corev1.ResourceName(res)]
		if !ok {
			q = resource.MustParse("0")
		}
	}
	div := ref.Divisor
	if div.IsZero() {
		div = resource.MustParse("1")
	}
	v := math.Ceil(float64(q.MilliValue()) / float64(div.MilliValue()))
	return strconv.FormatInt(int64(v), 10), nil
}
