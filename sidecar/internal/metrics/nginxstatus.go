package metrics

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// nginxNamespace prefixes nginx's own numbers, read from its stub_status.
const nginxNamespace = "nginx_gateway_nginx"

// statusTimeout bounds one read of nginx's status page: a scrape must not
// hang on an nginx that does not answer (it is then reported down).
const statusTimeout = 2 * time.Second

// StubStatus is nginx's stub_status page: connections and requests since
// the master started (reloads keep them; they live in shared memory).
type StubStatus struct {
	Active, Reading, Writing, Waiting int64
	Accepted, Handled, Requests       int64
}

// ParseStubStatus reads the stub_status page:
//
//	Active connections: 2
//	server accepts handled requests
//	 10 10 25
//	Reading: 0 Writing: 1 Waiting: 1
func ParseStubStatus(page string) (StubStatus, error) {
	var s StubStatus
	lines := strings.Split(strings.TrimSpace(page), "\n")
	if len(lines) != 4 {
		return s, fmt.Errorf("stub_status: %d lines, want 4: %q", len(lines), page)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[0]), "Active connections: %d", &s.Active); err != nil {
		return s, fmt.Errorf("stub_status line 1 %q: %w", lines[0], err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[2]), "%d %d %d", &s.Accepted, &s.Handled, &s.Requests); err != nil {
		return s, fmt.Errorf("stub_status line 3 %q: %w", lines[2], err)
	}
	if _, err := fmt.Sscanf(strings.TrimSpace(lines[3]), "Reading: %d Writing: %d Waiting: %d", &s.Reading, &s.Writing, &s.Waiting); err != nil {
		return s, fmt.Errorf("stub_status line 4 %q: %w", lines[3], err)
	}
	return s, nil
}

// nginxStatus collects nginx's stub_status at each scrape, read over the
// unix socket of the rendered status server (dataplane.NginxStatusSocket).
// Each read is one connection and one request to nginx, so the counters
// it exports include the scrapes themselves.
type nginxStatus struct {
	client *http.Client
	url    string

	up, active, reading, writing, waiting *prometheus.Desc
	accepted, handled, requests           *prometheus.Desc
}

func newNginxStatus(socket string) *nginxStatus {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(nginxNamespace, "", name), help, nil, nil)
	}
	return &nginxStatus{
		client: &http.Client{
			Timeout: statusTimeout,
			Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", socket)
				},
				// One fresh connection per scrape: an idle one kept open
				// between scrapes would show in nginx's "waiting".
				DisableKeepAlives: true,
			},
		},
		// The host is never resolved: every connection goes to the socket.
		url:      "http://nginx" + dataplane.NginxStatusURI,
		up:       desc("up", "1 when nginx answered its status page at this scrape, else 0 (not running yet, or not answering)."),
		active:   desc("connections_active", "Client connections open now, idle ones included (HTTP and stream)."),
		reading:  desc("connections_reading", "HTTP connections where nginx is reading the request header."),
		writing:  desc("connections_writing", "HTTP connections where nginx is reading the body, processing the request or writing the response."),
		waiting:  desc("connections_waiting", "Idle client connections waiting for a request (keep-alive)."),
		accepted: desc("connections_accepted_total", "Client connections accepted since the nginx master started (reloads keep counting)."),
		handled:  desc("connections_handled_total", "Client connections handled; below accepted when nginx hit worker_connections."),
		requests: desc("http_requests_total", "HTTP requests since the nginx master started, the scrapes' own included."),
	}
}

func (n *nginxStatus) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{n.up, n.active, n.reading, n.writing, n.waiting, n.accepted, n.handled, n.requests} {
		ch <- d
	}
}

func (n *nginxStatus) Collect(ch chan<- prometheus.Metric) {
	s, err := n.read()
	if err != nil {
		ch <- prometheus.MustNewConstMetric(n.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(n.up, prometheus.GaugeValue, 1)
	for _, g := range []struct {
		d *prometheus.Desc
		v int64
	}{{n.active, s.Active}, {n.reading, s.Reading}, {n.writing, s.Writing}, {n.waiting, s.Waiting}} {
		ch <- prometheus.MustNewConstMetric(g.d, prometheus.GaugeValue, float64(g.v))
	}
	for _, c := range []struct {
		d *prometheus.Desc
		v int64
	}{{n.accepted, s.Accepted}, {n.handled, s.Handled}, {n.requests, s.Requests}} {
		ch <- prometheus.MustNewConstMetric(c.d, prometheus.CounterValue, float64(c.v))
	}
}

func (n *nginxStatus) read() (StubStatus, error) {
	resp, err := n.client.Get(n.url)
	if err != nil {
		return StubStatus{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return StubStatus{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return StubStatus{}, fmt.Errorf("stub_status: HTTP %d", resp.StatusCode)
	}
	return ParseStubStatus(string(body))
}
