package controller

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/model"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/render"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// nginxSidecar plays a gateway pod's sidecar with the real `nginx -t`: it
// reads the Gateway's ConfigMap and Secret, and when they hold the config
// the pod's config-hash names, checks them and writes what the sidecar
// writes: applied-hash, or rejected-hash and nginx's message with the
// staging folder stripped.
type nginxSidecar struct {
	t       *testing.T
	pod     *corev1.Pod
	gw      string
	played  string // the last hash reported
	applied string // the last hash nginx accepted, as the real sidecar keeps reporting it
}

// step reports on the pod's current config-hash, once per hash.
func (s *nginxSidecar) step() error {
	ctx := context.Background()
	pod := &corev1.Pod{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s.pod), pod); err != nil {
		return err
	}
	want := pod.Annotations[dataplane.AnnotationConfigHash]
	if want == "" || want == s.played {
		return nil
	}
	key := client.ObjectKey{Namespace: s.pod.Namespace, Name: resources.Name(s.gw)}
	cm, secret := &corev1.ConfigMap{}, &corev1.Secret{}
	if err := k8s.Get(ctx, key, cm); err != nil {
		return err
	}
	if err := k8s.Get(ctx, key, secret); err != nil {
		return err
	}
	files := mountedFiles(cm, secret)
	if got := dataplane.Hash(files); got != want {
		return fmt.Errorf("the objects hold config %s, the pod wants %s", got, want) // not written yet
	}
	dir := s.t.TempDir()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	report := dataplane.PodReport{AppliedHash: want}
	if err := testenv.NginxTest(dir); err != nil {
		_, msg, _ := strings.Cut(err.Error(), "exit status 1: ") // nginx's own output follows
		msg = strings.ReplaceAll(msg, "<prefix>/", "")
		report = dataplane.PodReport{AppliedHash: s.applied, RejectedHash: want, RejectedMessage: msg}
	} else {
		s.applied = want
	}
	s.t.Logf("config %s: %+v", want, report)
	playSidecar(s.t, s.pod, true, report)
	s.played = want
	return nil
}

// until steps the sidecar until check passes.
func (s *nginxSidecar) until(what string, check func() error) {
	s.t.Helper()
	testenv.Eventually(s.t, waitTimeout, what, func() error {
		if err := s.step(); err != nil {
			return err
		}
		return check()
	})
}

// routeAccepted says why the route's Accepted condition for gw is not
// status, or nil; it returns the condition's message.
func routeAccepted(ns, route, gw string, status metav1.ConditionStatus, reason string) (string, error) {
	r := &gatewayv1.HTTPRoute{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: route}, r); err != nil {
		return "", err
	}
	for _, p := range r.Status.Parents {
		if p.ControllerName == translate.ControllerName && string(p.ParentRef.Name) == gw {
			for _, c := range p.Conditions {
				if c.Type == "Accepted" {
					return c.Message, hasCondition(p.Conditions, "Accepted", status, reason)
				}
			}
		}
	}
	return "", fmt.Errorf("%s has no Accepted condition for %s: %+v", route, gw, r.Status.Parents)
}

// configHolds says why the Gateway's ConfigMap does not hold (or, with
// present false, still holds) text in servers.conf.
func configHolds(ns, gw, text string, present bool) error {
	cm := &corev1.ConfigMap{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: resources.Name(gw)}, cm); err != nil {
		return err
	}
	if strings.Contains(cm.Data[render.FileServers], text) != present {
		return fmt.Errorf("servers.conf holding %q is %v, want %v", text, !present, present)
	}
	return nil
}

// lastGoodHolds says why the Gateway's last-good ConfigMap does not hold
// the files of the config of hash, which the Gateway's ConfigMap holds now.
func lastGoodHolds(ns, gw, hash string) error {
	ctx := context.Background()
	current, lastGood := &corev1.ConfigMap{}, &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.Name(gw)}, current); err != nil {
		return err
	}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: resources.LastGoodName(gw)}, lastGood); err != nil {
		return err
	}
	if got := lastGood.Annotations[dataplane.AnnotationConfigHash]; got != hash {
		return fmt.Errorf("last-good holds config %s, want %s", got, hash)
	}
	// The last-good ConfigMap holds the config files only, not the
	// Secret's hash (dataplane.SecretsHashKey): a fallback goes with the
	// Secret mounted then.
	currentFiles := maps.Clone(current.Data)
	delete(currentFiles, dataplane.SecretsHashKey)
	if !reflect.DeepEqual(lastGood.Data, currentFiles) || !reflect.DeepEqual(lastGood.BinaryData, current.BinaryData) {
		return fmt.Errorf("last-good files differ from the applied config's")
	}
	return nil
}

// TestRejectedRouteIsRefused: a route whose config nginx rejects (made
// possible here by render's test hook) is refused with nginx's message,
// the config without it goes live, and the other routes of the Gateway,
// including ones created afterwards, keep being served.
func TestRejectedRouteIsRefused(t *testing.T) {
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, ""))
	t.Cleanup(render.SetTestDirective(func(r model.RouteRef) string {
		if r.Namespace == ns && r.Name == "poison" {
			return `add_header "X-Poison";` // one argument: nginx -t refuses it
		}
		return ""
	}))
	newRoute(t, ns, "good", ns, "gw", "", []string{"good.example.com"}, "", "")
	poison := newRoute(t, ns, "poison", ns, "gw", "", []string{"poison.example.com"}, "", "")
	sidecar := &nginxSidecar{t: t, pod: newGatewayPod(t, ns, "gw", "gw-pod"), gw: "gw"}

	sidecar.until("poison refused with nginx's message, the rest served", func() error {
		msg, err := routeAccepted(ns, "poison", "gw", metav1.ConditionFalse, "UnsupportedValue")
		if err != nil {
			return err
		}
		if !strings.Contains(msg, `invalid number of arguments in "add_header" directive in servers.conf:`) {
			return fmt.Errorf("poison's message lacks nginx's: %q", msg)
		}
		if _, err := routeAccepted(ns, "good", "gw", metav1.ConditionTrue, "Accepted"); err != nil {
			return err
		}
		if err := configHolds(ns, "gw", "X-Poison", false); err != nil {
			return err
		}
		gw, err := getGateway(t, ns, "gw")
		if err != nil {
			return err
		}
		if err := hasCondition(gw.Status.Conditions, "Programmed", metav1.ConditionTrue, "Programmed"); err != nil {
			return err
		}
		// The config nginx applied, never the one it rejected, is the one
		// a new or restarted pod falls back to.
		return lastGoodHolds(ns, "gw", sidecar.played)
	})
	waitEvent(t, ns, "gw", "RouteRefused", "poison")

	newRoute(t, ns, "later", ns, "gw", "", []string{"later.example.com"}, "", "")
	sidecar.until("a route created afterwards is served", func() error {
		if _, err := routeAccepted(ns, "later", "gw", metav1.ConditionTrue, "Accepted"); err != nil {
			return err
		}
		if err := configHolds(ns, "gw", `"later.example.com"`, true); err != nil {
			return err
		}
		if _, err := routeAccepted(ns, "poison", "gw", metav1.ConditionFalse, "UnsupportedValue"); err != nil {
			return err
		}
		gw, err := getGateway(t, ns, "gw")
		if err != nil {
			return err
		}
		return hasCondition(gw.Status.Conditions, "Programmed", metav1.ConditionTrue, "Programmed")
	})

	// A new generation of the refused route gets another chance: fixed
	// (the hook no longer poisons it), it is served again.
	t.Cleanup(render.SetTestDirective(func(model.RouteRef) string { return "" }))
	update(t, poison, func() { poison.Spec.Hostnames = append(poison.Spec.Hostnames, "poison2.example.com") })
	sidecar.until("the changed route is served", func() error {
		if _, err := routeAccepted(ns, "poison", "gw", metav1.ConditionTrue, "Accepted"); err != nil {
			return err
		}
		return configHolds(ns, "gw", `"poison2.example.com"`, true)
	})
}
