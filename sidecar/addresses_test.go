package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
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

// TestGatewayAddresses: the elected sidecar writes status.addresses from
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

	lease := &coordinationv1.Lease{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: addresses.LeaseName(gwName)}, lease); err != nil {
		t.Fatal(err)
	}
	if holder := ptr.Deref(lease.Spec.HolderIdentity, ""); holder != pod {
		t.Errorf("lease holder %q, want %q", holder, pod)
	}
}

type metav1ApplyCondition = metav1apply.ConditionApplyConfiguration

func newCondition(typ, reason string, generation int64, now metav1.Time) *metav1ApplyCondition {
	return metav1apply.Condition().WithType(typ).WithStatus(metav1.ConditionTrue).WithReason(reason).
		WithMessage("set by the test operator").WithObservedGeneration(generation).WithLastTransitionTime(now)
}

// TestAddressesLeaderFailover: of two replicas one holds the Lease; when it
// stops (releasing the Lease), the other takes over and follows the Service.
func TestAddressesLeaderFailover(t *testing.T) {
	_, c := apiServer(t)
	ctx := context.Background()
	ns, pod0, gwName := kubeObjects(t, c, "failover")
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
	waitAddress := func(ip string) {
		t.Helper()
		testenv.Eventually(t, 30*time.Second, "Gateway address "+ip, func() error {
			gw := &gatewayv1.Gateway{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: gwName}, gw); err != nil {
				return err
			}
			if len(gw.Status.Addresses) != 1 || gw.Status.Addresses[0].Value != ip {
				return fmt.Errorf("status.addresses %v, want %s", gw.Status.Addresses, ip)
			}
			return nil
		})
	}
	holder := func() string {
		lease := &coordinationv1.Lease{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: addresses.LeaseName(gwName)}, lease); err != nil {
			return ""
		}
		return ptr.Deref(lease.Spec.HolderIdentity, "")
	}
	setIngress("203.0.113.1")

	user := sidecarUser(t, c, ns, gwName, svc.Name)
	pods := map[string]*gatewayPod{}
	for _, name := range []string{pod0, pod1} {
		p := newPod(t)
		p.useAPIServer(user, name, ns, gwName, svc.Name)
		p.write(httpConfig(p.ip, "127.0.0.1:9", 1, newCert(t), ""))
		p.startSidecar()
		pods[name] = p
	}
	waitAddress("203.0.113.1")
	leader := holder()
	if pods[leader] == nil {
		t.Fatalf("lease holder %q is not one of the replicas", leader)
	}
	other := pod0
	if leader == pod0 {
		other = pod1
	}
	pods[leader].sidecar.stop(10 * time.Second)
	testenv.Eventually(t, 30*time.Second, "lease taken over", func() error {
		if h := holder(); h != other {
			return fmt.Errorf("lease holder %q, want %q after the leader stopped", h, other)
		}
		return nil
	})
	setIngress("203.0.113.2")
	waitAddress("203.0.113.2")
}
