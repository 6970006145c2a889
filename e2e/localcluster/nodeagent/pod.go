package nodeagent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// podWorker runs one pod: its network namespace, volumes, containers and
// status, from the first time the agent sees it bound here until its
// deletion (or the agent's stop).
type podWorker struct {
	a   *Agent
	dir string

	mu       sync.Mutex
	pod      *corev1.Pod // the latest object from the informer
	net      *podNetwork
	startAt  metav1.Time
	setupErr string
	// initDone: every init container completed; started: the app containers
	// were launched.
	initDone, started bool
	inits             []*containerRunner
	containers        []*containerRunner
	lastStatus        *corev1.PodStatus
	tokens            map[string]cachedToken

	updates     chan struct{}
	termOnce    sync.Once
	terminating chan struct{}
	termGrace   time.Duration
	deleteObj   bool
	done        chan struct{}
}

func newPodWorker(a *Agent, pod *corev1.Pod) *podWorker {
	return &podWorker{
		a:           a,
		dir:         filepath.Join(a.cfg.StateDir, "pods", string(pod.UID)),
		pod:         pod.DeepCopy(),
		startAt:     metav1.Now(),
		tokens:      map[string]cachedToken{},
		updates:     make(chan struct{}, 1),
		terminating: make(chan struct{}),
		done:        make(chan struct{}),
	}
}

func (w *podWorker) currentPod() *corev1.Pod {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod
}

func (w *podWorker) logf(format string, args ...any) {
	p := w.currentPod()
	w.a.cfg.Logf("pod %s/%s: %s", p.Namespace, p.Name, fmt.Sprintf(format, args...))
}

// update hands the worker a newer pod object: the kubelet re-syncs a pod's
// volumes whenever the pod changes, and starts terminating it once it has a
// deletion timestamp.
func (w *podWorker) update(pod *corev1.Pod) {
	w.mu.Lock()
	old := w.pod
	w.pod = pod.DeepCopy()
	w.mu.Unlock()
	if pod.DeletionTimestamp != nil {
		grace := 30 * time.Second
		if pod.DeletionGracePeriodSeconds != nil {
			grace = time.Duration(*pod.DeletionGracePeriodSeconds) * time.Second
		}
		go w.terminate(grace, true)
		return
	}
	// Our own status writes come back as updates too: like the kubelet,
	// re-sync only when what the pod's owner controls changed.
	if equality.Semantic.DeepEqual(old.Spec, pod.Spec) &&
		equality.Semantic.DeepEqual(old.Labels, pod.Labels) &&
		equality.Semantic.DeepEqual(old.Annotations, pod.Annotations) {
		return
	}
	select {
	case w.updates <- struct{}{}:
	default:
	}
}

// terminate stops the pod's containers (SIGTERM, SIGKILL after grace),
// removes its network and folder and, when deleteObj, its API object. It
// returns once all of that is done; later calls just wait.
func (w *podWorker) terminate(grace time.Duration, deleteObj bool) {
	w.termOnce.Do(func() {
		w.termGrace, w.deleteObj = grace, deleteObj
		close(w.terminating)
	})
	<-w.done
}

func (w *podWorker) run() {
	defer close(w.done)
	ctx, cancel := context.WithCancel(w.a.ctx)
	defer cancel()
	if w.prepare(ctx) {
		w.runContainers(ctx)
	}
	w.teardown()
}

// prepare sets up the network and volumes, retrying until it succeeds or
// the pod terminates (a ConfigMap may be created after the pod). It reports
// whether the pod is ready to start containers.
func (w *podWorker) prepare(ctx context.Context) bool {
	for {
		err := w.setup(ctx)
		if err == nil {
			w.mu.Lock()
			w.setupErr = ""
			w.mu.Unlock()
			return true
		}
		w.mu.Lock()
		repeated := w.setupErr == err.Error()
		w.setupErr = err.Error()
		w.mu.Unlock()
		if !repeated {
			w.logf("setup (retrying every 2 s): %v", err)
			w.a.events.Event(w.currentPod(), corev1.EventTypeWarning, "FailedMount", err.Error())
		}
		w.writeStatus(ctx)
		select {
		case <-w.terminating:
			return false
		case <-time.After(2 * time.Second):
		}
	}
}

func (w *podWorker) setup(ctx context.Context) error {
	pod := w.currentPod()
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	w.mu.Lock()
	haveNet := w.net != nil
	w.mu.Unlock()
	if !haveNet {
		ip, err := w.a.podIPs.allocate(string(pod.UID), nil)
		if err != nil {
			return err
		}
		pn, err := createPodNetwork(w.a.cfg.Network, string(pod.UID), ip)
		if err != nil {
			w.a.podIPs.release(string(pod.UID))
			return err
		}
		w.mu.Lock()
		w.net = pn
		w.mu.Unlock()
		hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", ip, pod.Name)
		if err := os.WriteFile(filepath.Join(w.dir, "etc-hosts"), []byte(hosts), 0o644); err != nil {
			return err
		}
	}
	return w.syncVolumes(ctx)
}

func (w *podWorker) runContainers(ctx context.Context) {
	pod := w.currentPod()
	for i := range pod.Spec.InitContainers {
		c := pod.Spec.InitContainers[i]
		// Sidecar containers (restartPolicy Always) start and keep running.
		sidecar := c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		r := newContainerRunner(w, c, !sidecar)
		w.mu.Lock()
		w.inits = append(w.inits, r)
		w.mu.Unlock()
		r.start()
		if sidecar {
			continue
		}
		select {
		case <-r.finished:
		case <-w.terminating:
			w.stopContainers()
			return
		}
		if !r.succeeded() {
			// The pod failed for good (restartPolicy Never); keep it until deleted.
			w.writeStatus(ctx)
			w.waitLoop(ctx)
			w.stopContainers()
			return
		}
	}
	w.mu.Lock()
	w.initDone = true
	for _, c := range pod.Spec.Containers {
		w.containers = append(w.containers, newContainerRunner(w, c, false))
	}
	w.started = true
	runners := w.containers
	w.mu.Unlock()
	for _, r := range runners {
		r.start()
	}
	w.waitLoop(ctx)
	w.stopContainers()
}

// waitLoop keeps volumes and status current until the pod terminates.
func (w *podWorker) waitLoop(ctx context.Context) {
	syncTick := time.NewTicker(w.a.cfg.SyncPeriod)
	defer syncTick.Stop()
	statusTick := time.NewTicker(250 * time.Millisecond)
	defer statusTick.Stop()
	w.writeStatus(ctx)
	for {
		select {
		case <-w.terminating:
			return
		case <-w.updates:
			w.resyncVolumes(ctx)
		case <-syncTick.C:
			w.resyncVolumes(ctx)
		case <-statusTick.C:
			w.writeStatus(ctx)
		}
	}
}

func (w *podWorker) resyncVolumes(ctx context.Context) {
	if err := w.syncVolumes(ctx); err != nil && ctx.Err() == nil {
		w.logf("volumes: %v", err)
	}
}

func (w *podWorker) stopContainers() {
	w.mu.Lock()
	all := append(append([]*containerRunner{}, w.containers...), w.inits...)
	grace := w.termGrace
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.stop(grace)
		}()
	}
	wg.Wait()
}

// teardown removes everything the pod had on the host and, after a
// deletion, the Pod object itself.
func (w *podWorker) teardown() {
	w.mu.Lock()
	pn := w.net
	w.net = nil
	deleteObj := w.deleteObj
	pod := w.pod
	w.mu.Unlock()
	if pn != nil {
		// Anything a container started that escaped its process group.
		killNetNSProcesses(pn.NetNS)
		pn.delete()
		// The next pod with this address has another MAC address.
		_ = runIP("neigh", "flush", "to", pn.IP.String(), "dev", w.a.cfg.Network.Bridge)
	}
	w.a.podIPs.release(string(pod.UID))
	if err := os.RemoveAll(w.dir); err != nil {
		w.logf("removing %s: %v", w.dir, err)
	}
	if deleteObj {
		w.a.deletePodObject(pod)
	}
}
