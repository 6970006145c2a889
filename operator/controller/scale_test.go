package controller

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// statusPatches counts the API server's PATCH requests on the status of
// a resource (apiserver_request_total), read from its /metrics.
func statusPatches(t *testing.T, resource string) int {
	t.Helper()
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") ||
			!strings.Contains(line, `resource="`+resource+`"`) ||
			!strings.Contains(line, `subresource="status"`) ||
			!strings.Contains(line, `verb="PATCH"`) {
			continue
		}
		fields := strings.Fields(line)
		n, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		total += int(n)
	}
	return total
}

// reconciles is how many times the reconciler has run in this process.
func reconciles(t *testing.T) int {
	t.Helper()
	families, err := crmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			total += int(m.GetCounter().GetValue())
		}
	}
	return total
}

// TestManyRoutes attaches many HTTPRoutes to one Gateway at once and
// measures how long until every route is Accepted, and how many status
// writes and reconciles that took. Each route's status changes once, so it
// is written once: a rewrite per reconcile, or a second write of the same
// status from a cache that has not seen the first, would show here.
// SCALE_ROUTES sets the number of routes (default 300).
func TestManyRoutes(t *testing.T) {
	if testing.Short() {
		t.Skip("scale test")
	}
	routes := 300
	if n, err := strconv.Atoi(os.Getenv("SCALE_ROUTES")); err == nil && n > 0 {
		routes = n
	}
	ctx := ctxFor(t)
	ns := newNamespace(t, nil)
	gc := newClass(t, nil)
	newGateway(t, ns, gc.Name, "gw", httpListener("http", 80, "*.example.com"))
	newService(t, ns, "backend", 8080)
	waitGateway(t, ns, "gw", "Accepted", metav1.ConditionTrue, "Accepted")

	routeWritesBefore := statusPatches(t, "httproutes")
	gatewayWritesBefore := statusPatches(t, "gateways")
	reconcilesBefore := reconciles(t)
	start := time.Now()
	for i := range routes {
		newRoute(t, ns, fmt.Sprintf("r%03d", i), ns, "gw", "", []string{fmt.Sprintf("h%03d.example.com", i)}, ns, "backend")
	}
	created := time.Since(start)
	testenv.Eventually(t, waitTimeout, "every route Accepted", func() error {
		var list gatewayv1.HTTPRouteList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return err
		}
		accepted := 0
		for _, r := range list.Items {
			for _, p := range r.Status.Parents {
				if p.ControllerName == translate.ControllerName && hasCondition(p.Conditions, "Accepted", metav1.ConditionTrue, "Accepted") == nil {
					accepted++
				}
			}
		}
		if accepted != routes {
			return fmt.Errorf("%d of %d routes accepted", accepted, routes)
		}
		gw, err := getGateway(t, ns, "gw")
		if err != nil {
			return err
		}
		if l, err := listenerStatus(gw, "http"); err != nil || int(l.AttachedRoutes) != routes {
			return fmt.Errorf("attachedRoutes not yet %d (%v)", routes, err)
		}
		return nil
	})
	converged := time.Since(start)
	routeWrites := statusPatches(t, "httproutes") - routeWritesBefore
	gatewayWrites := statusPatches(t, "gateways") - gatewayWritesBefore
	runs := reconciles(t) - reconcilesBefore
	t.Logf("%d routes: created in %s, all Accepted after %s; %d route status writes, %d Gateway status writes, %d reconciles",
		routes, created.Round(time.Millisecond), converged.Round(time.Millisecond), routeWrites, gatewayWrites, runs)

	// One more route on top: how long until its status says Accepted
	// (a full rebuild and render of every route, plus the writes).
	start = time.Now()
	newRoute(t, ns, "one-more", ns, "gw", "", []string{"one-more.example.com"}, ns, "backend")
	waitRouteParent(t, ns, "one-more", "gw", "Accepted", metav1.ConditionTrue, "Accepted")
	t.Logf("one more route on top of %d: Accepted after %s", routes, time.Since(start).Round(time.Millisecond))

	// At most one write per route (requests counted whatever their answer:
	// a write from a stale cache that the API server refuses counts too).
	if routeWrites > routes {
		t.Errorf("%d route status writes for %d routes whose status changed once", routeWrites, routes)
	}
}
