package controller

import (
	"context"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/testenv"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/resources"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/operator/translate"
)

// The envtest suite: one real kube-apiserver + etcd, and the operator's
// manager running in-process against it, for the whole package. Each test
// works in its own namespace and GatewayClass.
var (
	k8s client.Client
	// mgrCache and cached are the suite's manager's cache and the client
	// that reads from it, for BenchmarkReadInputs.
	mgrCache cache.Cache
	cached   client.Client
	restCfg  *rest.Config
	testEnv  *envtest.Environment
)

const testImage = "registry.example/gateway:test"

// waitTimeout bounds every wait for the operator to converge.
const waitTimeout = 45 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	flag.Parse()
	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	testEnv, restCfg, k8s, err = testenv.StartAPIServer(scheme)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = testEnv.Stop() }()

	if testing.Verbose() {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mgrCache, cached = mgr.GetCache(), mgr.GetClient()
	if err := SetupWithManager(mgr, Options{Resources: resources.Options{DefaultImage: testImage}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "manager:", err)
	}
	return code
}

// eventually polls check until it returns nil, failing the test with the
// last error after waitTimeout.
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newNamespace creates a namespace for one test, deleted afterwards.
func newNamespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-", Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), ns) })
	return ns.Name
}

// newClass creates a GatewayClass of our controller, deleted afterwards.
func newClass(t *testing.T, params *gatewayv1.ParametersReference) *gatewayv1.GatewayClass {
	t.Helper()
	gc := &gatewayv1.GatewayClass{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "gc-"},
		Spec:       gatewayv1.GatewayClassSpec{ControllerName: translate.ControllerName, ParametersRef: params},
	}
	if err := k8s.Create(context.Background(), gc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), gc) })
	return gc
}

func httpListener(name string, port int32, hostname string) gatewayv1.Listener {
	l := gatewayv1.Listener{Name: gatewayv1.SectionName(name), Port: port, Protocol: gatewayv1.HTTPProtocolType}
	if hostname != "" {
		l.Hostname = ptr.To(gatewayv1.Hostname(hostname))
	}
	return l
}

func newGateway(t *testing.T, ns, class, name string, listeners ...gatewayv1.Listener) *gatewayv1.Gateway {
	t.Helper()
	gw := &gatewayv1.Gateway{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       gatewayv1.GatewaySpec{GatewayClassName: gatewayv1.ObjectName(class), Listeners: listeners},
	}
	if err := k8s.Create(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	return gw
}

// hasCondition says why conditions lack type=status/reason, or nil.
func hasCondition(conditions []metav1.Condition, typ string, status metav1.ConditionStatus, reason string) error {
	c := meta.FindStatusCondition(conditions, typ)
	if c == nil {
		return fmt.Errorf("no %s condition in %+v", typ, conditions)
	}
	if c.Status != status || (reason != "" && c.Reason != reason) {
		return fmt.Errorf("%s is %s/%s (%q), want %s/%s", typ, c.Status, c.Reason, c.Message, status, reason)
	}
	return nil
}

func getGateway(t *testing.T, ns, name string) (*gatewayv1.Gateway, error) {
	gw := &gatewayv1.Gateway{}
	err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, gw)
	return gw, err
}

// listenerStatus finds a listener's status by name.
func listenerStatus(gw *gatewayv1.Gateway, name string) (*gatewayv1.ListenerStatus, error) {
	for i := range gw.Status.Listeners {
		if string(gw.Status.Listeners[i].Name) == name {
			return &gw.Status.Listeners[i], nil
		}
	}
	return nil, fmt.Errorf("no status for listener %s in %+v", name, gw.Status.Listeners)
}

// waitListener waits until listener name of the Gateway has the condition.
func waitListener(t *testing.T, ns, gwName, listener, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("listener %s %s=%s/%s", listener, typ, status, reason), func() error {
		gw, err := getGateway(t, ns, gwName)
		if err != nil {
			return err
		}
		l, err := listenerStatus(gw, listener)
		if err != nil {
			return err
		}
		return hasCondition(l.Conditions, typ, status, reason)
	})
}

// waitGateway waits until the Gateway has the condition.
func waitGateway(t *testing.T, ns, name, typ string, status metav1.ConditionStatus, reason string) *gatewayv1.Gateway {
	t.Helper()
	var gw *gatewayv1.Gateway
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("Gateway %s %s=%s/%s", name, typ, status, reason), func() error {
		var err error
		if gw, err = getGateway(t, ns, name); err != nil {
			return err
		}
		return hasCondition(gw.Status.Conditions, typ, status, reason)
	})
	return gw
}

// waitRouteParent waits until the route has, for parent gateway gwName, a
// condition of our controller.
func waitRouteParent(t *testing.T, ns, route, gwName, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	r := &gatewayv1.HTTPRoute{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: route}}
	waitParentOf(t, r, &r.Status.Parents, gwName, typ, status, reason)
}

// waitParentOf waits until route (of any kind, read into obj; parents
// points at its status.parents) has our parent entry for gwName with the
// condition.
func waitParentOf(t *testing.T, obj client.Object, parents *[]gatewayv1.RouteParentStatus, gwName, typ string, status metav1.ConditionStatus, reason string) {
	t.Helper()
	key := client.ObjectKeyFromObject(obj)
	testenv.Eventually(t, waitTimeout, fmt.Sprintf("%T %s parent %s %s=%s/%s", obj, key.Name, gwName, typ, status, reason), func() error {
		if err := k8s.Get(context.Background(), key, obj); err != nil {
			return err
		}
		for _, p := range *parents {
			if p.ControllerName == translate.ControllerName && string(p.ParentRef.Name) == gwName {
				return hasCondition(p.Conditions, typ, status, reason)
			}
		}
		return fmt.Errorf("no parent status for %s: %+v", gwName, *parents)
	})
}

// update reads obj, applies mutate and writes it, retrying when the
// operator wrote the same object in between.
func update(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	writeRetrying(t, obj, mutate, func(ctx context.Context) error { return k8s.Update(ctx, obj) })
}

// updateStatus is update for the status subresource.
func updateStatus(t *testing.T, obj client.Object, mutate func()) {
	t.Helper()
	writeRetrying(t, obj, mutate, func(ctx context.Context) error { return k8s.Status().Update(ctx, obj) })
}

func writeRetrying(t *testing.T, obj client.Object, mutate func(), write func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		mutate()
		return write(ctx)
	})
	if err != nil {
		t.Fatal(err)
	}
}
