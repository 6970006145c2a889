package metrics

import (
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "nginx_gateway_sidecar"

// Metrics are the sidecar's counters and gauges.
type Metrics struct {
	registry *prometheus.Registry

	Validations        prometheus.Counter
	ValidationFailures prometheus.Counter
	Reloads            prometheus.Counter
	ReloadFailures     prometheus.Counter
	LastValidation     prometheus.Gauge
	LastReload         prometheus.Gauge
	// EndpointsUpdates counts the versions of the endpoints ConfigMap
	// served to nginx as DNS (no reload each).
	EndpointsUpdates prometheus.Counter

	appliedMu sync.Mutex
	applied   *prometheus.GaugeVec
}

// New registers the metrics on a fresh registry, with the Go and process collectors.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		Validations: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "validations_total",
			Help: "Config trees checked with nginx -t.",
		}),
		ValidationFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "validation_failures_total",
			Help: "Config trees nginx -t refused.",
		}),
		Reloads: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "reloads_total",
			Help: "Reload signals sent to the nginx master.",
		}),
		ReloadFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "reload_failures_total",
			Help: "Reloads nginx refused or did not confirm in time (the previous config was restored).",
		}),
		LastValidation: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_validation_duration_seconds",
			Help: "Duration of the last nginx -t.",
		}),
		LastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_reload_duration_seconds",
			Help: "Time from the last reload signal until nginx ran a new generation of workers.",
		}),
		EndpointsUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "endpoints_updates_total",
			Help: "Versions of the endpoints ConfigMap served to nginx as DNS (each without a reload).",
		}),
		applied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "applied_config_info",
			Help: "The config nginx serves: 1 with the config hash as label.",
		}, []string{"hash"}),
	}
	m.registry.MustRegister(
		m.Validations, m.ValidationFailures, m.Reloads, m.ReloadFailures,
		m.LastValidation, m.LastReload, m.EndpointsUpdates, m.applied,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// SetApplied makes hash the only applied config.
func (m *Metrics) SetApplied(hash string) {
	m.appliedMu.Lock()
	defer m.appliedMu.Unlock()
	m.applied.Reset()
	m.applied.WithLabelValues(hash).Set(1)
}

// ObserveValidation records one nginx -t run.
func (m *Metrics) ObserveValidation(d time.Duration, failed bool) {
	m.Validations.Inc()
	m.LastValidation.Set(d.Seconds())
	if failed {
		m.ValidationFailures.Inc()
	}
}

// ObserveReload records one reload.
func (m *Metrics) ObserveReload(d time.Duration, failed bool) {
	m.Reloads.Inc()
	m.LastReload.Set(d.Seconds())
	if failed {
		m.ReloadFailures.Inc()
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
