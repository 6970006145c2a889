package nodeagent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// Config configures a node agent.
type Config struct {
	// NodeName is the Node the agent registers and runs pods for.
	NodeName string
	// RestConfig reaches the API server with rights to bind pods, write pod
	// and node status, request service-account tokens and read everything
	// the pods reference.
	RestConfig *rest.Config
	// Network is the bridge (already created by CreateBridge) and its ranges.
	Network NetworkConfig
	// StateDir holds the pods' folders: volumes, logs, container layers.
	StateDir string
	// APIServerHost and APIServerPort are how pods reach the API server
	// (KUBERNETES_SERVICE_HOST/PORT): an address on the bridge.
	APIServerHost string
	APIServerPort int
	// KubeletPort serves /containerLogs over HTTPS on the bridge's gateway
	// address with KubeletCertFile/KubeletKeyFile, to clients whose
	// certificate ClientCAFile signed (the API server).
	KubeletPort                                   int
	KubeletCertFile, KubeletKeyFile, ClientCAFile string
	// Images maps image references to local programs.
	Images []ImageRule
	// SyncPeriod is how often every pod's volumes are refreshed even when the
	// pod does not change (the kubelet's default: one minute).
	SyncPeriod time.Duration
	// RestartBackoff is the first delay before a crashed container restarts;
	// it doubles up to five minutes (the kubelet's: 10 s).
	RestartBackoff time.Duration
	// TerminationGraceOnStop bounds each pod's grace period when the agent
	// itself stops.
	TerminationGraceOnStop time.Duration
	// Logf receives the agent's log lines.
	Logf func(format string, args ...any)
}

// Agent plays the kubelet for one Node (and MetalLB for the cluster).
type Agent struct {
	cfg    Config
	client kubernetes.Interface
	self   string // own executable: the container init helper

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	podIPs *ipPool
	lb     *lbController

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	stopped bool

	factory informers.SharedInformerFactory
	kubelet *kubeletServer
	// events records what the kubelet would (Started, Killing, Unhealthy,
	// BackOff, Failed, FailedMount), for kubectl describe.
	events      record.EventRecorder
	broadcaster record.EventBroadcaster
}

// Start registers the Node, starts the kubelet endpoint and the load
// balancer, and begins binding and running pods. Stop undoes all of it.
func Start(cfg Config) (*Agent, error) {
	if cfg.SyncPeriod == 0 {
		cfg.SyncPeriod = time.Minute
	}
	if cfg.RestartBackoff == 0 {
		cfg.RestartBackoff = 10 * time.Second
	}
	if cfg.TerminationGraceOnStop == 0 {
		cfg.TerminationGraceOnStop = 5 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(cfg.RestConfig)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "pods"), 0o755); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &Agent{
		cfg: cfg, client: client, self: self, ctx: ctx, cancel: cancel,
		podIPs:  newRotatingIPPool(cfg.Network.PodFirst, cfg.Network.PodLast),
		workers: map[types.UID]*podWorker{},
	}
	a.broadcaster = record.NewBroadcaster(record.WithContext(ctx))
	a.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	a.events = a.broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: cfg.NodeName})
	if err := a.registerNode(ctx); err != nil {
		a.broadcaster.Shutdown()
		cancel()
		return nil, fmt.Errorf("registering node: %w", err)
	}
	a.kubelet, err = startKubeletServer(a)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("kubelet endpoint: %w", err)
	}
	a.goRun(a.heartbeat)

	a.factory = informers.NewSharedInformerFactory(client, 0)
	podInformer := a.factory.Core().V1().Pods().Informer()
	if _, err := podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { a.onPod(obj) },
		UpdateFunc: func(_, obj any) { a.onPod(obj) },
		DeleteFunc: a.onPodDeleted,
	}); err != nil {
		a.Stop()
		return nil, err
	}
	a.lb = newLBController(a)
	if err := a.lb.register(a.factory); err != nil {
		a.Stop()
		return nil, err
	}
	a.factory.Start(ctx.Done())
	for typ, ok := range a.factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			a.Stop()
			return nil, fmt.Errorf("informer for %v did not sync", typ)
		}
	}
	a.cfg.Logf("node agent: node %s ready, pods on %s, kubelet endpoint %s:%d",
		cfg.NodeName, cfg.Network.Bridge, cfg.Network.Gateway, cfg.KubeletPort)
	return a, nil
}

func (a *Agent) goRun(f func(ctx context.Context)) {
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f(a.ctx)
	}()
}

// Stop terminates every pod (SIGTERM, SIGKILL after TerminationGraceOnStop),
// removes their network namespaces, folders and the load balancer's
// addresses, and stops the kubelet endpoint. The Pod objects stay.
func (a *Agent) Stop() {
	a.mu.Lock()
	if a.stopped {
		a.mu.Unlock()
		return
	}
	a.stopped = true
	workers := make([]*podWorker, 0, len(a.workers))
	for _, w := range a.workers {
		workers = append(workers, w)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.terminate(a.cfg.TerminationGraceOnStop, false)
		}()
	}
	wg.Wait()
	if a.lb != nil {
		a.lb.stop()
	}
	if a.kubelet != nil {
		a.kubelet.stop()
	}
	a.cancel()
	if a.factory != nil {
		a.factory.Shutdown()
	}
	a.wg.Wait()
	a.broadcaster.Shutdown()
}

func (a *Agent) onPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stopped {
		return
	}
	if pod.Spec.NodeName == "" {
		if pod.DeletionTimestamp == nil {
			go a.bind(pod)
		}
		return
	}
	if pod.Spec.NodeName != a.cfg.NodeName {
		return
	}
	w := a.workers[pod.UID]
	if w == nil {
		if pod.DeletionTimestamp != nil {
			// Nothing of it runs here: let the API server drop it now.
			go a.deletePodObject(pod)
			return
		}
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return
		}
		w = newPodWorker(a, pod)
		a.workers[pod.UID] = w
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			w.run()
			a.mu.Lock()
			delete(a.workers, pod.UID)
			a.mu.Unlock()
		}()
		return
	}
	w.update(pod)
}

func (a *Agent) onPodDeleted(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	a.mu.Lock()
	w := a.workers[pod.UID]
	a.mu.Unlock()
	if w != nil {
		// Force-deleted: the object is gone, stop its processes at once.
		go w.terminate(0, false)
	}
}

func (a *Agent) worker(namespace, name string) *podWorker {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, w := range a.workers {
		p := w.currentPod()
		if p.Namespace == namespace && p.Name == name {
			return w
		}
	}
	return nil
}

// bind does the scheduler's one job here: every pod goes to this node.
func (a *Agent) bind(pod *corev1.Pod) {
	binding := &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: a.cfg.NodeName},
	}
	for attempt := 0; attempt < 5; attempt++ {
		err := a.client.CoreV1().Pods(pod.Namespace).Bind(a.ctx, binding, metav1.CreateOptions{})
		if err == nil || apierrors.IsConflict(err) || apierrors.IsNotFound(err) || a.ctx.Err() != nil {
			return
		}
		a.cfg.Logf("binding pod %s/%s: %v", pod.Namespace, pod.Name, err)
		time.Sleep(time.Second)
	}
}

// deletePodObject removes a terminated pod's object (grace 0), as the
// kubelet does once its containers are gone.
func (a *Agent) deletePodObject(pod *corev1.Pod) {
	zero := int64(0)
	uid := pod.UID
	err := a.client.CoreV1().Pods(pod.Namespace).Delete(context.Background(), pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: &zero,
		Preconditions:      &metav1.Preconditions{UID: &uid},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		a.cfg.Logf("deleting pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}

// hostIP is the node's address as pods and the API server see it.
func (a *Agent) hostIP() net.IP { return a.cfg.Network.Gateway }
