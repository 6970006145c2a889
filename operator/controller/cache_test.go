package controller

import (
	"encoding/json"
	"maps"
	"testing"
	"unsafe"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// TestReferencedFilter: Services, EndpointSlices and Secrets that the last
// translation did not look up trigger no reconcile, unless they are ours
// or no translation ran yet; the skipped ones are remembered, and a
// translation that then looks one up must run again.
func TestReferencedFilter(t *testing.T) {
	meta := func(name string, labels map[string]string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}
	}
	nn := func(name string) types.NamespacedName { return types.NamespacedName{Namespace: "ns", Name: name} }
	svcA := &corev1.Service{ObjectMeta: meta("a", nil)}
	svcB := &corev1.Service{ObjectMeta: meta("b", nil)}
	sliceA := &discoveryv1.EndpointSlice{ObjectMeta: meta("a-x1", map[string]string{discoveryv1.LabelServiceName: "a"})}
	sliceB := &discoveryv1.EndpointSlice{ObjectMeta: meta("b-x1", map[string]string{discoveryv1.LabelServiceName: "b"})}
	cert := &corev1.Secret{ObjectMeta: meta("cert", nil)}
	other := &corev1.Secret{ObjectMeta: meta("other", nil)}
	ours := &corev1.Secret{ObjectMeta: meta("gw-nginx", map[string]string{dataplane.LabelManagedBy: dataplane.ManagedByValue})}

	r := &Reconciler{}
	for _, obj := range []client.Object{svcB, sliceB, other} {
		if !r.referenced(obj) {
			t.Errorf("%T %s skipped before any translation", obj, obj.GetName())
		}
	}
	r.refs.Store(&translate.References{
		Services: map[types.NamespacedName]bool{nn("a"): true},
		Secrets:  map[types.NamespacedName]bool{nn("cert"): true},
	})
	for obj, want := range map[client.Object]bool{svcA: true, sliceA: true, cert: true, ours: true, svcB: false, sliceB: false, other: false} {
		if got := r.referenced(obj); got != want {
			t.Errorf("referenced(%T %s) = %v, want %v", obj, obj.GetName(), got, want)
		}
	}
	skipped := r.takeSkipped()
	if !skipped.Services[nn("b")] || !skipped.Secrets[nn("other")] || len(skipped.Services) != 1 || len(skipped.Secrets) != 1 {
		t.Errorf("skipped = %+v, want Service ns/b (and its slice) and Secret ns/other", skipped)
	}
	if again := r.takeSkipped(); len(again.Services)+len(again.Secrets) != 0 {
		t.Errorf("skipped not forgotten: %+v", again)
	}
	if !missedChange(translate.References{Services: map[types.NamespacedName]bool{nn("b"): true}}, skipped) {
		t.Error("a translation that looked up a skipped Service is not run again")
	}
	if missedChange(translate.References{Services: map[types.NamespacedName]bool{nn("a"): true}}, skipped) {
		t.Error("a translation that looked up no skipped object runs again")
	}
}

// TestKeepSecretDataWeUse: the cache keeps the data of TLS Secrets and of
// ours only, and no managedFields.
func TestKeepSecretDataWeUse(t *testing.T) {
	secret := func(typ corev1.SecretType, labels map[string]string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "s", Labels: labels, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
			Type:       typ,
			Data:       map[string][]byte{"k": []byte("v")},
		}
	}
	for _, tc := range []struct {
		name     string
		secret   *corev1.Secret
		keepData bool
	}{
		{"opaque", secret(corev1.SecretTypeOpaque, nil), false},
		{"service account token", secret(corev1.SecretTypeServiceAccountToken, nil), false},
		{"tls", secret(corev1.SecretTypeTLS, nil), true},
		{"ours", secret(corev1.SecretTypeOpaque, map[string]string{dataplane.LabelManagedBy: dataplane.ManagedByValue}), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := keepSecretDataWeUse(tc.secret)
			if err != nil {
				t.Fatal(err)
			}
			s := out.(*corev1.Secret)
			if (s.Data != nil) != tc.keepData {
				t.Errorf("data kept = %v, want %v", s.Data != nil, tc.keepData)
			}
			if s.ManagedFields != nil {
				t.Errorf("managedFields kept: %v", s.ManagedFields)
			}
			if s.Type != tc.secret.Type || s.Name != "s" {
				t.Errorf("type or name lost: %+v", s.ObjectMeta)
			}
		})
	}
}

// TestCacheStripsWhatNothingReads: the cache's transforms drop managedFields
// and kubectl apply's last-applied-configuration annotation from every
// object (a route, and the Secrets and ConfigMaps whose transforms are
// their own), and keep every other annotation.
func TestCacheStripsWhatNothingReads(t *testing.T) {
	objectMeta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{
			Namespace: "ns", Name: "x",
			Annotations: map[string]string{
				corev1.LastAppliedConfigAnnotation: `{"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute"}`,
				"example.com/kept":                 "yes",
			},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}},
		}
	}
	for name, c := range map[string]struct {
		obj       client.Object
		transform func(any) (any, error)
	}{
		"HTTPRoute": {&gatewayv1.HTTPRoute{ObjectMeta: objectMeta()}, CacheOptions().DefaultTransform},
		"Gateway":   {&gatewayv1.Gateway{ObjectMeta: objectMeta()}, CacheOptions().DefaultTransform},
		"Secret":    {&corev1.Secret{ObjectMeta: objectMeta(), Type: corev1.SecretTypeTLS}, keepSecretDataWeUse},
		"ConfigMap": {&corev1.ConfigMap{ObjectMeta: objectMeta()}, keepConfigMapDataWeUse},
	} {
		out, err := c.transform(c.obj)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := out.(client.Object)
		if _, ok := got.GetAnnotations()[corev1.LastAppliedConfigAnnotation]; ok || got.GetManagedFields() != nil {
			t.Errorf("%s cached with annotations %v, managedFields %v", name, got.GetAnnotations(), got.GetManagedFields())
		}
		if got.GetAnnotations()["example.com/kept"] != "yes" {
			t.Errorf("%s lost its other annotations: %v", name, got.GetAnnotations())
		}
	}
}

// TestCacheSharesRouteStrings: two routes decoded apart, with the same
// namespace and status entries, hold one copy of those strings once
// cached, and are what they were.
func TestCacheSharesRouteStrings(t *testing.T) {
	decoded := func(name string) *gatewayv1.HTTPRoute {
		raw := `{"metadata":{"namespace":"ns","name":"` + name + `"},"status":{"parents":[{"parentRef":{"group":"gateway.networking.k8s.io","name":"gw"},
			"controllerName":"nginx-operator.dev/gateway-controller","conditions":[{"type":"Accepted","status":"True",
			"reason":"Accepted","message":"route is accepted","lastTransitionTime":"2026-01-01T00:00:00Z"}]}]}}`
		r := &gatewayv1.HTTPRoute{}
		if err := json.Unmarshal([]byte(raw), r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	transform := CacheOptions().DefaultTransform
	var cached []*gatewayv1.HTTPRoute
	for _, name := range []string{"a", "b"} {
		out, err := transform(decoded(name))
		if err != nil {
			t.Fatal(err)
		}
		cached = append(cached, out.(*gatewayv1.HTTPRoute))
		if want := decoded(name); !equality.Semantic.DeepEqual(out, want) {
			t.Errorf("route %s cached as %+v, want %+v", name, out, want)
		}
	}
	a, b := cached[0], cached[1]
	same := func(what, x, y string) {
		if unsafe.StringData(x) != unsafe.StringData(y) {
			t.Errorf("%s: two copies", what)
		}
	}
	same("namespace", a.Namespace, b.Namespace)
	same("controllerName", string(a.Status.Parents[0].ControllerName), string(b.Status.Parents[0].ControllerName))
	same("parentRef name", string(a.Status.Parents[0].ParentRef.Name), string(b.Status.Parents[0].ParentRef.Name))
	same("parentRef group", string(*a.Status.Parents[0].ParentRef.Group), string(*b.Status.Parents[0].ParentRef.Group))
	ca, cb := a.Status.Parents[0].Conditions[0], b.Status.Parents[0].Conditions[0]
	same("condition type", ca.Type, cb.Type)
	same("condition status", string(ca.Status), string(cb.Status))
	same("condition reason", ca.Reason, cb.Reason)
	same("condition message", ca.Message, cb.Message)
}

// TestCacheDigestsConfigConfigMaps: of a Gateway's config and last-good
// ConfigMaps the cache keeps a digest of the data, which changes with any
// key or value; its other ConfigMaps (endpoints, report) keep their data.
func TestCacheDigestsConfigConfigMaps(t *testing.T) {
	labels := map[string]string{dataplane.LabelManagedBy: dataplane.ManagedByValue, dataplane.LabelGatewayName: "gw"}
	cm := func(name string, data map[string]string, binary map[string][]byte) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: labels}, Data: data, BinaryData: binary}
	}
	cached := func(c *corev1.ConfigMap) *corev1.ConfigMap {
		out, err := keepConfigMapDataWeUse(c)
		if err != nil {
			t.Fatal(err)
		}
		return out.(*corev1.ConfigMap)
	}
	data, binary := map[string]string{"nginx.conf": "events {}\n"}, map[string][]byte{"servers.conf.gz": {1, 2, 3}}
	digests := map[string]bool{}
	for _, name := range []string{resources.Name("gw"), resources.LastGoodName("gw")} {
		got := cached(cm(name, maps.Clone(data), maps.Clone(binary)))
		d := got.Annotations[annotationCachedDataDigest]
		if got.Data != nil || got.BinaryData != nil || d != configDataDigest(data, binary) {
			t.Errorf("%s cached with data %v, binaryData %v, digest %q", name, got.Data, got.BinaryData, d)
		}
		digests[d] = true
	}
	for _, other := range []*corev1.ConfigMap{
		cm(resources.Name("gw"), map[string]string{"nginx.conf": "events { }\n"}, binary),
		cm(resources.Name("gw"), data, map[string][]byte{"servers.conf.gz": {1, 2, 4}}),
		cm(resources.Name("gw"), data, map[string][]byte{"servers.conf": {1, 2, 3}}),
		cm(resources.Name("gw"), nil, map[string][]byte{"nginx.conf": []byte("events {}\n"), "servers.conf.gz": {1, 2, 3}}),
	} {
		if d := cached(other).Annotations[annotationCachedDataDigest]; digests[d] {
			t.Errorf("data %v, binaryData %v: the same digest as another data", other.Data, other.BinaryData)
		}
	}
	for _, name := range []string{resources.ReportName("gw"), resources.EndpointsName("gw"), resources.Name("other")} {
		if got := cached(cm(name, maps.Clone(data), nil)); got.Data["nginx.conf"] == "" || got.Annotations[annotationCachedDataDigest] != "" {
			t.Errorf("%s cached without its data: %v %v", name, got.Data, got.Annotations)
		}
	}
}
