package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/kubeletvolume"
)

// cachedToken is a projected service-account token and when to renew it
// (at 80 % of its lifetime, as the kubelet does).
type cachedToken struct {
	token   string
	renewAt time.Time
}

func (w *podWorker) volumeDir(name string) string {
	return filepath.Join(w.dir, "volumes", name)
}

// syncVolumes (re)writes every volume of the pod from the API server's
// current objects. ConfigMaps and Secrets are read fresh each time, so a
// pod update that follows a ConfigMap change always sees the change.
func (w *podWorker) syncVolumes(ctx context.Context) error {
	pod := w.currentPod()
	var errs []error
	for _, v := range pod.Spec.Volumes {
		if err := w.syncVolume(ctx, pod, v); err != nil {
			errs = append(errs, fmt.Errorf("volume %s: %w", v.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (w *podWorker) syncVolume(ctx context.Context, pod *corev1.Pod, v corev1.Volume) error {
	dir := w.volumeDir(v.Name)
	switch {
	case v.EmptyDir != nil:
		if _, err := os.Stat(dir); err == nil {
			return nil // set up once; its contents are the containers' own
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return err
		}
		// MkdirAll's mode passes through the umask; the kubelet's emptyDir is 0777.
		if err := os.Chmod(dir, 0o777); err != nil {
			return err
		}
		return applyFSGroup(pod, dir, false)
	case v.HostPath != nil:
		if t := v.HostPath.Type; t != nil && *t == corev1.HostPathDirectoryOrCreate {
			return os.MkdirAll(v.HostPath.Path, 0o755)
		}
		return nil
	}
	files := map[string]kubeletvolume.File{}
	var err error
	switch {
	case v.ConfigMap != nil:
		err = w.configMapFiles(ctx, pod, files, v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional, modeOr(v.ConfigMap.DefaultMode))
	case v.Secret != nil:
		err = w.secretFiles(ctx, pod, files, v.Secret.SecretName, v.Secret.Items, v.Secret.Optional, modeOr(v.Secret.DefaultMode))
	case v.DownwardAPI != nil:
		err = w.downwardFiles(pod, files, v.DownwardAPI.Items, modeOr(v.DownwardAPI.DefaultMode))
	case v.Projected != nil:
		err = w.projectedFiles(ctx, pod, v.Name, files, v.Projected)
	default:
		return fmt.Errorf("unsupported volume type (the node agent supports configMap, secret, emptyDir, hostPath, downwardAPI, projected)")
	}
	if err != nil {
		return err
	}
	changed, err := kubeletvolume.Write(dir, files)
	if err != nil {
		return err
	}
	if changed {
		w.logf("volume %s updated", v.Name)
	}
	return applyFSGroup(pod, dir, true)
}

func modeOr(m *int32) os.FileMode {
	if m == nil {
		return 0o644
	}
	return os.FileMode(*m)
}

func itemMode(item corev1.KeyToPath, def os.FileMode) os.FileMode {
	if item.Mode != nil {
		return os.FileMode(*item.Mode)
	}
	return def
}

// addKeys adds data's keys (or only items, under their paths) to files.
func addKeys(files map[string]kubeletvolume.File, data map[string][]byte, items []corev1.KeyToPath, def os.FileMode, what string, opt bool) error {
	if len(items) == 0 {
		for k, v := range data {
			files[k] = kubeletvolume.File{Data: v, Mode: def}
		}
		return nil
	}
	for _, item := range items {
		v, ok := data[item.Key]
		if !ok {
			if opt {
				continue
			}
			return fmt.Errorf("%s has no key %q", what, item.Key)
		}
		files[filepath.Clean(item.Path)] = kubeletvolume.File{Data: v, Mode: itemMode(item, def)}
	}
	return nil
}

func (w *podWorker) configMapFiles(ctx context.Context, pod *corev1.Pod, files map[string]kubeletvolume.File, name string, items []corev1.KeyToPath, opt *bool, def os.FileMode) error {
	cm, err := w.a.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return nil
		}
		return err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return addKeys(files, data, items, def, "ConfigMap "+name, optional(opt))
}

func (w *podWorker) secretFiles(ctx context.Context, pod *corev1.Pod, files map[string]kubeletvolume.File, name string, items []corev1.KeyToPath, opt *bool, def os.FileMode) error {
	s, err := w.a.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if apierrors.IsNotFound(err) && optional(opt) {
			return nil
		}
		return err
	}
	return addKeys(files, s.Data, items, def, "Secret "+name, optional(opt))
}

func (w *podWorker) downwardFiles(pod *corev1.Pod, files map[string]kubeletvolume.File, items []corev1.DownwardAPIVolumeFile, def os.FileMode) error {
	for _, item := range items {
		var v string
		var err error
		switch {
		case item.FieldRef != nil:
			v, err = w.fieldValue(pod, item.FieldRef.FieldPath)
		case item.ResourceFieldRef != nil:
			v, err = resourceValue(pod, item.ResourceFieldRef.ContainerName, item.ResourceFieldRef)
		}
		if err != nil {
			return err
		}
		mode := def
		if item.Mode != nil {
			mode = os.FileMode(*item.Mode)
		}
		files[filepath.Clean(item.Path)] = kubeletvolume.File{Data: []byte(v), Mode: mode}
	}
	return nil
}

func (w *podWorker) projectedFiles(ctx context.Context, pod *corev1.Pod, volume string, files map[string]kubeletvolume.File, p *corev1.ProjectedVolumeSource) error {
	def := modeOr(p.DefaultMode)
	for i, src := range p.Sources {
		var err error
		switch {
		case src.ConfigMap != nil:
			err = w.configMapFiles(ctx, pod, files, src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional, def)
		case src.Secret != nil:
			err = w.secretFiles(ctx, pod, files, src.Secret.Name, src.Secret.Items, src.Secret.Optional, def)
		case src.DownwardAPI != nil:
			err = w.downwardFiles(pod, files, src.DownwardAPI.Items, def)
		case src.ServiceAccountToken != nil:
			var tok string
			tok, err = w.serviceAccountToken(ctx, pod, fmt.Sprintf("%s/%d", volume, i), src.ServiceAccountToken)
			files[filepath.Clean(src.ServiceAccountToken.Path)] = kubeletvolume.File{Data: []byte(tok), Mode: def}
		default:
			err = fmt.Errorf("unsupported projected source")
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// serviceAccountToken returns a token bound to the pod from the
// TokenRequest API, reusing it until 80 % of its lifetime has passed.
func (w *podWorker) serviceAccountToken(ctx context.Context, pod *corev1.Pod, key string, src *corev1.ServiceAccountTokenProjection) (string, error) {
	if t, ok := w.tokens[key]; ok && time.Now().Before(t.renewAt) {
		return t.token, nil
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		ExpirationSeconds: ptr.To(int64(3600)),
		BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID},
	}}
	if src.ExpirationSeconds != nil {
		req.Spec.ExpirationSeconds = src.ExpirationSeconds
	}
	if src.Audience != "" {
		req.Spec.Audiences = []string{src.Audience}
	}
	resp, err := w.a.client.CoreV1().ServiceAccounts(pod.Namespace).CreateToken(ctx, sa, req, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s: %w", sa, err)
	}
	life := time.Until(resp.Status.ExpirationTimestamp.Time)
	w.tokens[key] = cachedToken{token: resp.Status.Token, renewAt: time.Now().Add(life * 8 / 10)}
	return resp.Status.Token, nil
}

// volumeMountSource is the host path a volumeMount binds: the volume's
// folder (or the host path), plus its subPath.
func (w *podWorker) volumeMountSource(pod *corev1.Pod, vm corev1.VolumeMount) (string, error) {
	var vol *corev1.Volume
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == vm.Name {
			vol = &pod.Spec.Volumes[i]
		}
	}
	if vol == nil {
		return "", fmt.Errorf("volumeMount %s: no such volume", vm.Name)
	}
	base := w.volumeDir(vm.Name)
	if vol.HostPath != nil {
		base = vol.HostPath.Path
	}
	sub := vm.SubPath
	if vm.SubPathExpr != "" {
		_, env, err := w.containerEnvForSubPath(pod)
		if err != nil {
			return "", err
		}
		sub = expandVars(vm.SubPathExpr, env)
	}
	if sub == "" {
		return base, nil
	}
	clean := filepath.Clean("/" + sub)
	if strings.Contains(sub, "..") {
		return "", fmt.Errorf("volumeMount %s: subPath %q may not contain '..'", vm.Name, sub)
	}
	src := filepath.Join(base, clean)
	if _, err := os.Lstat(src); os.IsNotExist(err) {
		// The kubelet creates a missing subPath as a folder.
		if err := os.MkdirAll(src, 0o755); err != nil {
			return "", err
		}
	}
	return src, nil
}

// containerEnvForSubPath gives subPathExpr the downward-API variables the
// pod's first container defines (enough for the usual $(POD_NAME)).
func (w *podWorker) containerEnvForSubPath(pod *corev1.Pod) ([]string, map[string]string, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, map[string]string{}, nil
	}
	return w.containerEnv(&pod.Spec.Containers[0], nil)
}
