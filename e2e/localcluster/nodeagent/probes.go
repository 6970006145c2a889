package nodeagent

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probe runs the container's startup, readiness and liveness probes while
// its process (pid) runs, until exited closes. A failed liveness probe
// kills the process; the supervisor restarts it.
func (r *containerRunner) probe(pid int, env []string, exited <-chan struct{}) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-exited
		cancel()
	}()
	spec := r.spec
	if spec.StartupProbe != nil {
		if !r.runProbe(ctx, spec.StartupProbe, pid, env, nil) {
			return
		}
		r.mu.Lock()
		r.started = true
		r.mu.Unlock()
	}
	if spec.ReadinessProbe == nil {
		r.mu.Lock()
		r.ready = true
		r.mu.Unlock()
	} else {
		go r.runProbe(ctx, spec.ReadinessProbe, pid, env, func(ok bool) {
			r.mu.Lock()
			r.ready = ok
			r.mu.Unlock()
		})
	}
	if spec.LivenessProbe != nil {
		if !r.runProbe(ctx, spec.LivenessProbe, pid, env, nil) {
			return
		}
		r.w.logf("container %s failed its liveness probe; restarting it", spec.Name)
		grace := 30 * time.Second
		if p := r.w.currentPod().Spec.TerminationGracePeriodSeconds; p != nil {
			grace = time.Duration(*p) * time.Second
		}
		if spec.LivenessProbe.TerminationGracePeriodSeconds != nil {
			grace = time.Duration(*spec.LivenessProbe.TerminationGracePeriodSeconds) * time.Second
		}
		r.kill(grace)
	}
	<-ctx.Done()
}

// runProbe probes on the probe's schedule. With a report function it runs
// until ctx ends, reporting every change of the thresholded result
// (readiness). Without one it returns true on the first thresholded
// outcome that matters: success for a startup probe, failure for a
// liveness probe; false when ctx ends first.
func (r *containerRunner) runProbe(ctx context.Context, p *corev1.Probe, pid int, env []string, report func(bool)) bool {
	period := secondsOr(p.PeriodSeconds, 10)
	timeout := secondsOr(p.TimeoutSeconds, 1)
	successThreshold, failureThreshold := int(p.SuccessThreshold), int(p.FailureThreshold)
	if successThreshold <= 0 {
		successThreshold = 1
	}
	if failureThreshold <= 0 {
		failureThreshold = 3
	}
	isStartup := report == nil && p == r.spec.StartupProbe
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Duration(p.InitialDelaySeconds) * time.Second):
	}
	successes, failures := 0, 0
	state := false
	kind := "Readiness"
	switch p {
	case r.spec.LivenessProbe:
		kind = "Liveness"
	case r.spec.StartupProbe:
		kind = "Startup"
	}
	for {
		err := r.probeOnce(ctx, p, pid, env, timeout)
		ok := err == nil
		if !ok && ctx.Err() == nil {
			r.event(corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %v", kind, err)
		}
		if ok {
			successes, failures = successes+1, 0
		} else {
			successes, failures = 0, failures+1
		}
		switch {
		case report != nil:
			if ok && successes >= successThreshold && !state {
				state = true
				report(true)
			} else if !ok && failures >= failureThreshold && state {
				state = false
				report(false)
			}
		case isStartup && ok && successes >= successThreshold:
			return true
		case !isStartup && !ok && failures >= failureThreshold:
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(period):
		}
	}
}

func secondsOr(v int32, def int32) time.Duration {
	if v <= 0 {
		v = def
	}
	return time.Duration(v) * time.Second
}

// probeOnce runs one probe: HTTP GET (2xx/3xx), TCP connect, or a command
// in the container's namespaces and root (exit 0). gRPC probes are checked
// as TCP connects.
func (r *containerRunner) probeOnce(ctx context.Context, p *corev1.Probe, pid int, env []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	podIP := r.w.podIP()
	switch {
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := r.resolvePort(g.Port)
		if err != nil {
			return err
		}
		host := g.Host
		if host == "" {
			host = podIP
		}
		scheme := "http"
		if g.Scheme == corev1.URISchemeHTTPS {
			scheme = "https"
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			fmt.Sprintf("%s://%s%s", scheme, net.JoinHostPort(host, strconv.Itoa(port)), g.Path), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "kube-probe/1.37")
		for _, h := range g.HTTPHeaders {
			if h.Name == "Host" {
				req.Host = h.Value
				continue
			}
			req.Header.Add(h.Name, h.Value)
		}
		client := &http.Client{
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true},
			// The kubelet follows redirects only to the same host; not following any is close enough.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe: status %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil, p.GRPC != nil:
		var port int
		host := podIP
		var err error
		if p.TCPSocket != nil {
			port, err = r.resolvePort(p.TCPSocket.Port)
			if p.TCPSocket.Host != "" {
				host = p.TCPSocket.Host
			}
		} else {
			port = int(p.GRPC.Port)
		}
		if err != nil {
			return err
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	case p.Exec != nil:
		args := append([]string{"--target", strconv.Itoa(pid), "--mount", "--net", "--uts", "--root", "--wd", "--"}, p.Exec.Command...)
		cmd := exec.CommandContext(ctx, "nsenter", args...)
		cmd.Env = env
		cmd.WaitDelay = time.Second
		return cmd.Run()
	}
	return fmt.Errorf("probe has no handler")
}

func (r *containerRunner) resolvePort(port intstr.IntOrString) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range r.spec.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("container %s has no port named %q", r.spec.Name, port.StrVal)
}
