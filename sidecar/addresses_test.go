package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"
	gatewayapply "sigs.k8s.io/gateway-api/applyconfiguration/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/addresses"
)

// operatorManager stands for the operator's own status writes.
const operatorManager = "test-operator"

// operatorStatus is what the operator writes: conditions and listeners, no addresses.
func operatorStatus(gw *gatewayv1.Gateway, reason string) *gatewayapply.GatewayApplyConfiguration {
	now := metav1.Now()
	cond := func(typ string) *metav1ApplyCondition {
		return newCondition(typ, reason, gw.Generation, now)
	}
	return gatewayapply.Gateway(gw.Name, gw.Namespace).WithStatus(gatewayapply.GatewayStatus().
		WithConditions(cond("Accepted"), cond("Programmed")).
		WithListeners(gatewayapply.ListenerStatus().
			WithName("http").
			WithAttachedRoutes(3).
			WithSupportedKinds(gatewayapply.RouteGroupKind().WithGroup(gatewayv1.GroupName).WithKind("HTTPRoute")).
			WithConditions(cond("Accepted"), cond("Programmed"), cond("ResolvedRefs"))))
}

// TestGatewayAddresses: the sidecar writes status.addresses from
// the Service (load-balancer ingress first), follows Service changes, and
// leaves the operator's conditions and listeners alone.
func TestGatewayAddresses(t *testing.T) {
	_, c := apiServer(t)
	ctx := context.Background()
	ns, pod, gwName := kubeObjects(t, c, "addresses")
	gw := &gatewayv1.Gateway{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: gwName}, gw); err != nil {
		t.Fatal(err)
	}
	if err := c.Status().Apply(ctx, operatorStatus(gw, "Ready"), client.FieldOwner(operatorManager), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-nginx", Namespace: ns},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeLoadBalancer,
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080}},
			Selector: map[string]string{"app": "gw"},
		},
	}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.10"}, {Hostname: "lb.example.com"}}
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}

	p := newPod(t)
	p.useAPIServer(sidecarUser(t, c, ns, gwName, svc.Name), pod, ns, gwName, svc.Name)
	p.write(httpConfig(p.ip, okBackend(t), 1, newCert(t), ""))
	p.startSidecar()
	p.startNginx()

	want := func(pairs ...string) []gatewayv1.GatewayStatusAddress {
		var out []gatewayv1.GatewayStatusAddress
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, gatewayv1.GatewayStatusAddress{Type: ptr.To(gatewayv1.AddressType(pairs[i])), Value: pairs[i+1]})
		}
		return out
	}
	waitAddresses := func(expected []gatewayv1.GatewayStatusAddress) *gatewayv1.Gateway {
		t.Helper()
		got := &gatewayv1.Gateway{}
		testenv.Eventually(t, 30*time.Second, "Gateway status.addresses", func() error {
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: gwName}, got); err != nil {
				return err
			}
			if !addresses.Equal(got.Status.Addresses, expected) {
				return fmt.Errorf("status.addresses %v, want %v", got.Status.Addresses, expected)
			}
			return nil
		})
		return got
	}
	checkOperatorFields := func(got *gatewayv1.Gateway) {
		t.Helper()
		if meta.FindStatusCondition(got.Status.Conditions, "Programmed") == nil || len(got.Status.Conditions) != 2 {
			t.Errorf("operator's conditions lost: %+v", got.Status.Conditions)
		}
		if len(got.Status.Listeners) != 1 || got.Status.Listeners[0].AttachedRoutes != 3 || len(got.Status.Listeners[0].Conditions) != 3 {
			t.Errorf("operator's listeners lost: %+v", got.Status.Listeners)
		}
	}

	got := waitAddresses(want("IPAddress", "203.0.113.10", "Hostname", "lb.example.com"))
	checkOperatorFields(got)
	owners := map[string]bool{}
	for _, mf := range got.ManagedFields {
		if mf.Subresource == "status" {
			owners[mf.Manager] = true
		}
	}
	if !owners[addresses.FieldManager] || !owners[operatorManager] {
		t.Errorf("status field managers %v, want both %q and %q", owners, addresses.FieldManager, operatorManager)
	}

	// The Service changes: the addresses follow.
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "203.0.113.20"}}
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	checkOperatorFields(waitAddresses(want("IPAddress", "203.0.113.20")))

	// The operator writes its status again, without addresses: they stay.
	if err := c.Status().Apply(ctx, operatorStatus(got, "Updated"), client.FieldOwner(operatorManager), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	checkOperatorFields(waitAddresses(want("IPAddress", "203.0.113.20")))

	// No load balancer any more: external IPs, then cluster IPs.
	svc.Status.LoadBalancer.Ingress = nil
	if err := c.Status().Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	waitAddresses(want("IPAddress", svc.Spec.ClusterIP))

}

// values are the addresses' values, for messages and comparisons.
func values(addrs []gatewayv1.GatewayStatusAddress) string {
	var out []string
	for _, a := range addrs {
		out = append(out, a.Value)
	}
	return strings.Join(out, ",")
}

type metav1ApplyCondition = metav1apply.ConditionApplyConfiguration

func newCondition(typ, reason string, generation int64, now metav1.Time) *metav1ApplyCondition {
	return metav1apply.Condition().WithType(typ).WithStatus(metav1.ConditionTrue).WithReason(reason).
		WithMessage("set by the test operator").WithObservedGeneration(generation).WithLastTransitionTime(now)
}

// TestAddressesReplicas: two replicas (two pods) write the addresses at
// once, without an election. They converge to the Service's addresses with
// one resourceVersion per change (an apply of what the Gateway already
// shows changes nothing), send no apply at all while the Gateway shows the
// right addresses, and do not fight over a disagreement without end.
func TestAddressesReplicas(t *testing.T) {
	cfg, c := apiServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ns, pod0, gwName := kubeObjects(t, c, "replicas")
	pod1 := "gw-pod-1"
	if err := c.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod1, Namespace: ns},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sidecar", Image: "gateway"}}},
	}); err != nil {
		t.Fatal(err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "gw-nginx", Namespace: ns},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "http", Port: 8080}}},
	}
	if err := c.Create(ctx, svc); err != nil {
		t.Fatal(err)
	}
	setIngress := func(ip string) {
		t.Helper()
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip}}
		if err := c.Status().Update(ctx, svc); err != nil {
			t.Fatal(err)
		}
	}
	gwKey := client.ObjectKey{Namespace: ns, Name: gwName}
	getGateway := func() *gatewayv1.Gateway {
		t.Helper()
		gw := &gatewayv1.Gateway{}
		if err := c.Get(ctx, gwKey, gw); err != nil {
			t.Fatal(err)
		}
		return gw
	}
	shows := func(gw *gatewayv1.Gateway, ip string) bool {
		return len(gw.Status.Addresses) == 1 && gw.Status.Addresses[0].Value == ip
	}
	waitAddress := func(ip string) *gatewayv1.Gateway {
		t.Helper()
		var gw *gatewayv1.Gateway
		testenv.Eventually(t, 30*time.Second, "Gateway address "+ip, func() error {
			gw = getGateway()
			if !shows(gw, ip) {
				return fmt.Errorf("status.addresses %v, want %s", gw.Status.Addresses, ip)
			}
			return nil
		})
		return gw
	}

	// Every write to the Gateway, as a watch sees it: each is a new
	// resourceVersion.
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	w, err := dc.Resource(gatewayv1.SchemeGroupVersion.WithResource("gateways")).Namespace(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	var writes []string // the addresses after each write
	go func() {
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			var gw gatewayv1.Gateway
			if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &gw); err != nil {
				continue
			}
			mu.Lock()
			writes = append(writes, values(gw.Status.Addresses))
			mu.Unlock()
		}
	}()
	written := func() (int, []string) {
		mu.Lock()
		defer mu.Unlock()
		return len(writes), slices.Clone(writes)
	}

	setIngress("203.0.113.1")
	user := sidecarUser(t, c, ns, gwName, svc.Name)
	var pods []*gatewayPod
	for _, name := range []string{pod0, pod1} {
		p := newPod(t)
		p.useAPIServer(user, name, ns, gwName, svc.Name)
		p.write(httpConfig(p.ip, "127.0.0.1:9", 1, newCert(t), ""))
		pods = append(pods, p)
	}
	for _, p := range pods {
		p.startSidecar() // both at once: both find no addresses
	}
	// applies counts the apply requests the replicas sent (the writer logs each).
	applies := func() (n int) {
		for _, p := range pods {
			n += strings.Count(p.sidecar.out.String(), "gateway addresses written")
		}
		return n
	}
	// settled waits a moment for late writes, then says the Gateway has not
	// changed since gw.
	settled := func(gw *gatewayv1.Gateway) {
		t.Helper()
		time.Sleep(2 * time.Second)
		if now := getGateway(); now.ResourceVersion != gw.ResourceVersion {
			t.Errorf("the Gateway changed again: resourceVersion %s → %s, addresses %s", gw.ResourceVersion, now.ResourceVersion, values(now.Status.Addresses))
		}
	}

	gw := waitAddress("203.0.113.1")
	settled(gw)
	n := applies()
	if n < 1 || n > len(pods) {
		t.Errorf("%d applies for the first addresses, want 1 to %d (at most one per replica)", n, len(pods))
	}
	if m, all := written(); m != 1 {
		t.Errorf("%d applies made %d writes %v, want 1 (an apply of what the Gateway shows writes nothing)", n, m, all)
	} else {
		t.Logf("%d applies, 1 write", n)
	}
	// A replica whose cache lags applies what the Gateway already shows:
	// the API server writes nothing.
	same := gatewayapply.Gateway(gwName, ns).WithStatus(gatewayapply.GatewayStatus().
		WithAddresses(gatewayapply.GatewayStatusAddress().WithType(gatewayv1.IPAddressType).WithValue("203.0.113.1")))
	if err := c.Status().Apply(ctx, same, client.FieldOwner(addresses.FieldManager), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	if now := getGateway(); now.ResourceVersion != gw.ResourceVersion {
		t.Errorf("an apply of the addresses shown changed the resourceVersion %s → %s", gw.ResourceVersion, now.ResourceVersion)
	}
	sidecarEntries := 0
	for _, mf := range gw.ManagedFields {
		if mf.Manager == addresses.FieldManager {
			sidecarEntries++
		}
	}
	if sidecarEntries != 1 {
		t.Errorf("%d managedFields entries of %s, want 1 for all replicas", sidecarEntries, addresses.FieldManager)
	}

	// Changes that leave the addresses as they are send no apply at all:
	// the operator's status write, a Service change elsewhere.
	before := applies()
	if err := c.Status().Apply(ctx, operatorStatus(gw, "Ready"), client.FieldOwner(operatorManager), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	svc.Labels = map[string]string{"touched": "yes"}
	if err := c.Update(ctx, svc); err != nil {
		t.Fatal(err)
	}
	gw = getGateway()
	settled(gw)
	if n := applies() - before; n != 0 {
		t.Errorf("%d applies while the Gateway showed the Service's addresses, want none", n)
	}

	// The Service changes: both replicas see it and converge, and neither
	// puts the old addresses back (a replica whose Service watch lags
	// behind the Gateway's reads the Service again before it writes).
	from, _ := written()
	setIngress("203.0.113.2")
	settled(waitAddress("203.0.113.2"))
	if _, all := written(); slices.Contains(all[from:], values(gw.Status.Addresses)) {
		t.Errorf("the old addresses came back after the Service changed: %v", all[from:])
	}

	// A writer that disagrees for good (say, another sidecar version, under
	// the same field manager) puts other addresses back as soon as they are
	// overwritten: each replica overwrites them at most once per hold.
	before = applies()
	foreign := func() {
		t.Helper()
		ac := gatewayapply.Gateway(gwName, ns).WithStatus(gatewayapply.GatewayStatus().
			WithAddresses(gatewayapply.GatewayStatusAddress().WithType(gatewayv1.IPAddressType).WithValue("198.51.100.7")))
		if err := c.Status().Apply(ctx, ac, client.FieldOwner(addresses.FieldManager), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
	}
	overwritten := 0
	for range 5 {
		foreign()
		deadline := time.Now().Add(2 * time.Second)
		for !shows(getGateway(), "203.0.113.2") && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if shows(getGateway(), "203.0.113.2") {
			overwritten++
		}
	}
	if overwritten < 1 || overwritten > len(pods) {
		t.Errorf("the replicas overwrote the other writer %d times in a row, want 1 to %d (once per replica per hold)", overwritten, len(pods))
	}
	if n := applies() - before; n > len(pods) {
		t.Errorf("%d applies against the other writer, want at most one per replica", n)
	}
	settled(getGateway())
}
