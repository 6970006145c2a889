package cluster_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/cluster"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/e2e/localcluster/clustertest"
)

// testRequestedAddress: the load balancer gives a Service the address it
// asks for (spec.loadBalancerIP) from the request-only pool, refuses one
// that another Service holds or that is in no pool (no address, a Warning
// event AllocationFailed, as MetalLB does), moves a Service to the address
// it asks for next, gives a refused Service its address once it is free,
// and never gives a request-only address to a Service that did not ask.
func testRequestedAddress(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	services := c.Client.CoreV1().Services("default")
	create := func(name, ip string) {
		t.Helper()
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeLoadBalancer, LoadBalancerIP: ip,
				Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80}},
			},
		}
		if _, err := services.Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// waitAddress waits until the Service's status shows want ("" none).
	waitAddress := func(name, want string) {
		t.Helper()
		clustertest.Eventually(t, 30*time.Second, fmt.Sprintf("Service %s address %q", name, want), func() error {
			s, err := services.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			var got []string
			for _, ing := range s.Status.LoadBalancer.Ingress {
				got = append(got, ing.IP)
			}
			if strings.Join(got, ",") != want {
				return fmt.Errorf("status addresses %v", got)
			}
			return nil
		})
	}
	// waitRefusal waits for the AllocationFailed event of the Service
	// whose message contains part.
	waitRefusal := func(name, part string) {
		t.Helper()
		clustertest.Eventually(t, 30*time.Second, fmt.Sprintf("Service %s refused: %s", name, part), func() error {
			events, err := c.Client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: fields.Set{
				"involvedObject.kind": "Service", "involvedObject.name": name, "reason": "AllocationFailed",
			}.String()})
			if err != nil {
				return err
			}
			for _, e := range events.Items {
				if e.Type == corev1.EventTypeWarning && strings.Contains(e.Message, part) {
					return nil
				}
			}
			return fmt.Errorf("no such event among %d", len(events.Items))
		})
	}
	wanted := c.Network.LBRequestFirst.String()
	refused := c.Network.LBRefusedAddress().String()

	create("asks", wanted)
	waitAddress("asks", wanted)
	conn, err := net.DialTimeout("tcp4", net.JoinHostPort(wanted, "80"), 5*time.Second)
	if err != nil {
		t.Fatalf("the requested address does not answer: %v", err)
	}
	conn.Close()

	create("asks-too", wanted)
	waitRefusal("asks-too", "held by default/asks")
	waitAddress("asks-too", "")

	create("any", "")
	clustertest.Eventually(t, 30*time.Second, "an address for a Service that asks for none", func() error {
		s, err := services.Get(ctx, "any", metav1.GetOptions{})
		if err != nil || len(s.Status.LoadBalancer.Ingress) != 1 {
			return fmt.Errorf("no address yet (%v)", err)
		}
		ip := net.ParseIP(s.Status.LoadBalancer.Ingress[0].IP).To4()
		if ip == nil || ip[3] < c.Network.LBFirst[3] || ip[3] > c.Network.LBLast[3] {
			t.Errorf("address %s is not in the pool of any Service (%s–%s)", s.Status.LoadBalancer.Ingress[0].IP, c.Network.LBFirst, c.Network.LBLast)
		}
		return nil
	})

	// "asks" now asks for an address in no pool: it loses its address,
	// which goes to "asks-too", refused until then.
	s, err := services.Get(ctx, "asks", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Spec.LoadBalancerIP = refused
	if _, err := services.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitRefusal("asks", "not allowed in config")
	waitAddress("asks", "")
	waitAddress("asks-too", wanted)

	for _, name := range []string{"asks", "asks-too", "any"} {
		if err := services.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			t.Error(err)
		}
	}
}
