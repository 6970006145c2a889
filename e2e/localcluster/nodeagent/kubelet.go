package nodeagent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

// kubeletServer is the part of the kubelet's HTTPS API the API server uses
// for `kubectl logs`: /containerLogs/<namespace>/<pod>/<container>.
type kubeletServer struct {
	srv *http.Server
	ln  net.Listener
}

func startKubeletServer(a *Agent) (*kubeletServer, error) {
	cert, err := tls.LoadX509KeyPair(a.cfg.KubeletCertFile, a.cfg.KubeletKeyFile)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(a.cfg.ClientCAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the client CA file")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", a.serveLogs)
	addr := net.JoinHostPort(a.hostIP().String(), strconv.Itoa(a.cfg.KubeletPort))
	ln, err := tls.Listen("tcp", addr, &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		// Only the API server (a client certificate from the cluster's CA) reads logs.
		ClientAuth: tls.RequireAndVerifyClientCert,
		MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		return nil, err
	}
	s := &kubeletServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

func (s *kubeletServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
}

// serveLogs answers the query parameters kubectl logs uses: previous,
// tailLines, limitBytes and follow.
func (a *Agent) serveLogs(rw http.ResponseWriter, req *http.Request) {
	w := a.worker(req.PathValue("namespace"), req.PathValue("pod"))
	if w == nil {
		http.Error(rw, "pod not found on this node", http.StatusNotFound)
		return
	}
	r := w.runner(req.PathValue("container"))
	if r == nil {
		http.Error(rw, "container not found (or not started yet)", http.StatusNotFound)
		return
	}
	q := req.URL.Query()
	r.mu.Lock()
	run := r.status.RestartCount
	r.mu.Unlock()
	if q.Get("previous") == "true" {
		if run == 0 {
			http.Error(rw, "previous terminated container not found", http.StatusNotFound)
			return
		}
		run--
	}
	data, err := os.ReadFile(r.logPath(run))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusNotFound)
		return
	}
	if n, err := strconv.Atoi(q.Get("tailLines")); err == nil && n >= 0 {
		data = tailLines(data, n)
	}
	if n, err := strconv.Atoi(q.Get("limitBytes")); err == nil && n >= 0 && n < len(data) {
		data = data[:n]
	}
	rw.Header().Set("Content-Type", "text/plain")
	if _, err := rw.Write(data); err != nil || q.Get("follow") != "true" || q.Get("previous") == "true" {
		return
	}
	a.followLog(req.Context(), rw, r, run, int64(len(data)))
}

// followLog streams what run's log file gains until the client goes, the
// container restarts or the pod goes away.
func (a *Agent) followLog(ctx context.Context, rw http.ResponseWriter, r *containerRunner, run int32, offset int64) {
	f, err := os.Open(r.logPath(run))
	if err != nil {
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil {
		offset = st.Size()
	}
	flusher, _ := rw.(http.Flusher)
	buf := make([]byte, 32*1024)
	for {
		n, _ := f.ReadAt(buf, offset)
		if n > 0 {
			offset += int64(n)
			if _, err := rw.Write(buf[:n]); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			continue
		}
		r.mu.Lock()
		current := r.status.RestartCount
		r.mu.Unlock()
		if current != run || r.stopping() {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-r.w.done:
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tailLines(data []byte, n int) []byte {
	if n == 0 {
		return nil
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines++
	}
	skip := lines - n
	if skip <= 0 {
		return data
	}
	idx := 0
	for i := 0; i < skip; i++ {
		next := bytes.IndexByte(data[idx:], '\n')
		if next < 0 {
			return nil
		}
		idx += next + 1
	}
	return data[idx:]
}

// runner finds a container (app, then init) by name.
func (w *podWorker) runner(name string) *containerRunner {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range append(append([]*containerRunner{}, w.containers...), w.inits...) {
		if r.spec.Name == name {
			return r
		}
	}
	return nil
}
