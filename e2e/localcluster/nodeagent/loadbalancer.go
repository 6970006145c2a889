package nodeagent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	listersv1 "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
)

// lbController does for Services of type LoadBalancer what MetalLB does in
// a lab: it gives each one an address from the LoadBalancer range, puts the
// address on the bridge, writes it to status.loadBalancer.ingress and
// proxies every Service port (TCP and UDP, in user space) to the Service's
// ready endpoints, round robin.
//
// A Service may ask for an address (requestedIP): it gets that one or none.
// An address outside the pools, held by another Service, or not IPv4 is
// refused as MetalLB refuses it: no address (status.loadBalancer emptied,
// so EXTERNAL-IP shows <pending>) and a Warning event AllocationFailed on
// the Service. A Service that asks for another address than the one it has
// gives its old one up first.
type lbController struct {
	a    *Agent
	pool *ipPool
	// requestOnly holds the addresses given only on request (nil when the
	// network has none).
	requestOnly *ipPool
	services    listersv1.ServiceLister
	slices      discoverylisters.EndpointSliceLister
	queue       chan types.NamespacedName
	mu          sync.Mutex
	balancers   map[types.NamespacedName]*balancer
	// refused are the Services last refused an address: when an address
	// is released they are tried again, since theirs may be free now.
	refused map[types.NamespacedName]bool
	wg      sync.WaitGroup
	done    chan struct{}
}

type balancer struct {
	ip        net.IP
	listeners map[string]io.Closer // "TCP/80" → listener
	next      atomic.Uint64
}

func newLBController(a *Agent) *lbController {
	var requestOnly *ipPool
	if n := a.cfg.Network; n.LBRequestFirst != nil && n.LBRequestLast != nil {
		requestOnly = newIPPool(n.LBRequestFirst, n.LBRequestLast)
	}
	return &lbController{
		a:           a,
		pool:        newIPPool(a.cfg.Network.LBFirst, a.cfg.Network.LBLast),
		requestOnly: requestOnly,
		queue:       make(chan types.NamespacedName, 1024),
		balancers:   map[types.NamespacedName]*balancer{},
		refused:     map[types.NamespacedName]bool{},
		done:        make(chan struct{}),
	}
}

func (c *lbController) register(f informers.SharedInformerFactory) error {
	svcInformer := f.Core().V1().Services()
	c.services = svcInformer.Lister()
	c.slices = f.Discovery().V1().EndpointSlices().Lister()
	enqueue := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		if svc, ok := obj.(*corev1.Service); ok {
			select {
			case c.queue <- types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}:
			case <-c.done:
			}
		}
	}
	_, err := svcInformer.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue, UpdateFunc: func(_, o any) { enqueue(o) }, DeleteFunc: enqueue,
	})
	if err != nil {
		return err
	}
	// Registering the lister's informer before the factory starts.
	f.Discovery().V1().EndpointSlices().Informer()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-c.done:
				return
			case key := <-c.queue:
				if err := c.sync(key); err != nil {
					c.a.cfg.Logf("load balancer %s: %v", key, err)
				}
			}
		}
	}()
	return nil
}

func wantsBalancer(svc *corev1.Service) bool {
	return svc != nil && svc.DeletionTimestamp == nil && svc.Spec.Type == corev1.ServiceTypeLoadBalancer &&
		svc.Spec.LoadBalancerClass == nil
}

func (c *lbController) sync(key types.NamespacedName) error {
	svc, err := c.services.Services(key.Namespace).Get(key.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil || !wantsBalancer(svc) {
		c.mu.Lock()
		delete(c.refused, key)
		c.mu.Unlock()
		c.remove(key)
		return nil
	}
	requested, err := requestedIP(svc)
	if err != nil {
		c.remove(key)
		return c.refuse(svc, err)
	}
	c.mu.Lock()
	b := c.balancers[key]
	c.mu.Unlock()
	if b != nil && requested != nil && !b.ip.Equal(requested) {
		c.remove(key)
		b = nil
	}
	if b == nil {
		ip, err := c.assign(key.String(), svc, requested)
		if err != nil {
			return c.refuse(svc, err)
		}
		c.mu.Lock()
		delete(c.refused, key)
		c.mu.Unlock()
		if err := addHostAddress(c.a.cfg.Network, ip); err != nil {
			c.release(key.String())
			return err
		}
		b = &balancer{ip: ip, listeners: map[string]io.Closer{}}
		c.mu.Lock()
		c.balancers[key] = b
		c.mu.Unlock()
	}
	wantPorts := map[string]corev1.ServicePort{}
	for _, p := range svc.Spec.Ports {
		proto := p.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		wantPorts[fmt.Sprintf("%s/%d", proto, p.Port)] = p
	}
	c.mu.Lock()
	for k, l := range b.listeners {
		if _, ok := wantPorts[k]; !ok {
			l.Close()
			delete(b.listeners, k)
		}
	}
	var errs []error
	for k, p := range wantPorts {
		if _, ok := b.listeners[k]; ok {
			continue
		}
		l, err := c.listen(key, b, p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.listeners[k] = l
	}
	c.mu.Unlock()
	if len(svc.Status.LoadBalancer.Ingress) != 1 || svc.Status.LoadBalancer.Ingress[0].IP != b.ip.String() {
		vip := corev1.LoadBalancerIPModeVIP
		patch, _ := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": corev1.LoadBalancerStatus{
			Ingress: []corev1.LoadBalancerIngress{{IP: b.ip.String(), IPMode: &vip}},
		}}})
		_, err := c.a.client.CoreV1().Services(key.Namespace).Patch(c.a.ctx, key.Name, types.MergePatchType, patch,
			metav1.PatchOptions{}, "status")
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (c *lbController) remove(key types.NamespacedName) {
	c.mu.Lock()
	b := c.balancers[key]
	delete(c.balancers, key)
	c.mu.Unlock()
	if b == nil {
		return
	}
	for _, l := range b.listeners {
		l.Close()
	}
	_ = delHostAddress(c.a.cfg.Network, b.ip)
	c.release(key.String())
	c.mu.Lock()
	retry := make([]types.NamespacedName, 0, len(c.refused))
	for k := range c.refused {
		if k != key {
			retry = append(retry, k)
		}
	}
	c.mu.Unlock()
	for _, k := range retry {
		select {
		case c.queue <- k:
		default: // the queue is full: its syncs will come
		}
	}
}

func (c *lbController) release(owner string) {
	c.pool.release(owner)
	if c.requestOnly != nil {
		c.requestOnly.release(owner)
	}
}

// requestedIP is the address a Service asks for: spec.loadBalancerIP
// (deprecated in Kubernetes, still what most load balancers read) or
// MetalLB's loadBalancerIPs annotation (under either of its prefixes; one
// IPv4 address here, the pools being IPv4); nil for any. Asking both ways
// at once, or for what is not one IPv4 address, is an error.
func requestedIP(svc *corev1.Service) (net.IP, error) {
	var asked []string
	if svc.Spec.LoadBalancerIP != "" {
		asked = append(asked, svc.Spec.LoadBalancerIP)
	}
	for _, key := range []string{"metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs"} {
		if v, ok := svc.Annotations[key]; ok {
			for _, ip := range strings.Split(v, ",") {
				asked = append(asked, strings.TrimSpace(ip))
			}
		}
	}
	switch len(asked) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("more than one address asked for (%s): this load balancer gives one IPv4 address", strings.Join(asked, ", "))
	}
	ip := net.ParseIP(asked[0])
	if ip == nil || ip.To4() == nil {
		return nil, fmt.Errorf("%q is not an IPv4 address", asked[0])
	}
	return ip.To4(), nil
}

// assign gives owner the address it asks for, or refuses; without a
// request the address it had (its status, after an agent restart) when
// still free, else the lowest free address of the pool.
func (c *lbController) assign(owner string, svc *corev1.Service, requested net.IP) (net.IP, error) {
	if requested != nil {
		for _, p := range []*ipPool{c.pool, c.requestOnly} {
			if p != nil && p.contains(requested) {
				if err := p.claim(owner, requested); err != nil {
					return nil, err
				}
				return requested, nil
			}
		}
		return nil, fmt.Errorf("%s is not allowed in config: it is in no address pool", requested)
	}
	if len(svc.Status.LoadBalancer.Ingress) > 0 {
		if had := net.ParseIP(svc.Status.LoadBalancer.Ingress[0].IP); had != nil && c.requestOnly != nil && c.requestOnly.contains(had) {
			// An address given on request stays with its Service after the
			// request is withdrawn, as MetalLB keeps it.
			if err := c.requestOnly.claim(owner, had); err == nil {
				return had, nil
			}
		} else if had != nil {
			return c.pool.allocate(owner, had)
		}
	}
	return c.pool.allocate(owner, nil)
}

// refuse leaves the Service without an address and says why, the way
// MetalLB does: EXTERNAL-IP <pending> and a Warning event.
func (c *lbController) refuse(svc *corev1.Service, why error) error {
	c.mu.Lock()
	c.refused[types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}] = true
	c.mu.Unlock()
	c.a.events.Eventf(svc, corev1.EventTypeWarning, "AllocationFailed", "Failed to allocate IP for %q: %v", svc.Namespace+"/"+svc.Name, why)
	if len(svc.Status.LoadBalancer.Ingress) == 0 {
		return nil
	}
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{"loadBalancer": map[string]any{"ingress": nil}}})
	_, err := c.a.client.CoreV1().Services(svc.Namespace).Patch(c.a.ctx, svc.Name, types.MergePatchType, patch,
		metav1.PatchOptions{}, "status")
	return err
}

func (c *lbController) stop() {
	close(c.done)
	c.wg.Wait()
	c.mu.Lock()
	keys := make([]types.NamespacedName, 0, len(c.balancers))
	for k := range c.balancers {
		keys = append(keys, k)
	}
	c.mu.Unlock()
	for _, k := range keys {
		c.remove(k)
	}
}

// endpoint picks the next ready endpoint address for a Service port.
func (c *lbController) endpoint(key types.NamespacedName, b *balancer, sp corev1.ServicePort) (string, error) {
	slices, err := c.slices.EndpointSlices(key.Namespace).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: key.Name,
	}))
	if err != nil {
		return "", err
	}
	var addrs []string
	for _, s := range slices {
		port := int32(-1)
		for _, p := range s.Ports {
			if p.Name != nil && *p.Name == sp.Name && p.Port != nil {
				port = *p.Port
			}
		}
		if port < 0 {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				addrs = append(addrs, net.JoinHostPort(a, strconv.Itoa(int(port))))
			}
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("no ready endpoints")
	}
	return addrs[b.next.Add(1)%uint64(len(addrs))], nil
}

func (c *lbController) listen(key types.NamespacedName, b *balancer, sp corev1.ServicePort) (io.Closer, error) {
	addr := net.JoinHostPort(b.ip.String(), strconv.Itoa(int(sp.Port)))
	if sp.Protocol == corev1.ProtocolUDP {
		conn, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return nil, err
		}
		go c.serveUDP(key, b, sp, conn.(*net.UDPConn))
		return conn, nil
	}
	ln, err := net.Listen("tcp4", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.proxyTCP(key, b, sp, conn)
		}
	}()
	return ln, nil
}

func (c *lbController) proxyTCP(key types.NamespacedName, b *balancer, sp corev1.ServicePort, client net.Conn) {
	defer client.Close()
	target, err := c.endpoint(key, b, sp)
	if err != nil {
		return
	}
	backend, err := net.DialTimeout("tcp4", target, 3*time.Second)
	if err != nil {
		return
	}
	defer backend.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Pass the half-close on, so request/response protocols finish cleanly.
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(backend, client)
	go pipe(client, backend)
	<-done
	<-done
}

// serveUDP keeps one backend socket per client address, dropped after a
// minute without traffic.
func (c *lbController) serveUDP(key types.NamespacedName, b *balancer, sp corev1.ServicePort, conn *net.UDPConn) {
	type session struct {
		backend *net.UDPConn
		last    atomic.Int64
	}
	var mu sync.Mutex
	sessions := map[string]*session{}
	defer func() {
		mu.Lock()
		for _, s := range sessions {
			s.backend.Close()
		}
		mu.Unlock()
	}()
	buf := make([]byte, 64*1024)
	for {
		n, client, err := conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		mu.Lock()
		s := sessions[client.String()]
		if s == nil {
			target, err := c.endpoint(key, b, sp)
			if err != nil {
				mu.Unlock()
				continue
			}
			raddr, err := net.ResolveUDPAddr("udp4", target)
			if err != nil {
				mu.Unlock()
				continue
			}
			backend, err := net.DialUDP("udp4", nil, raddr)
			if err != nil {
				mu.Unlock()
				continue
			}
			s = &session{backend: backend}
			sessions[client.String()] = s
			go func(client *net.UDPAddr) {
				reply := make([]byte, 64*1024)
				for {
					_ = s.backend.SetReadDeadline(time.Now().Add(time.Minute))
					m, err := s.backend.Read(reply)
					if err != nil {
						if time.Since(time.Unix(0, s.last.Load())) < time.Minute && !errors.Is(err, net.ErrClosed) {
							continue
						}
						mu.Lock()
						delete(sessions, client.String())
						mu.Unlock()
						s.backend.Close()
						return
					}
					_, _ = conn.WriteToUDP(reply[:m], client)
				}
			}(client)
		}
		mu.Unlock()
		s.last.Store(time.Now().UnixNano())
		_, _ = s.backend.Write(buf[:n])
	}
}
