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
	// LastValidationAt is when the last nginx -t ended: the validated
	// step of LastStep is set for changes that skip nginx -t too.
	LastValidationAt prometheus.Gauge
	LastReload       prometheus.Gauge
	// EndpointsUpdates counts the versions of the endpoints ConfigMap
	// served to nginx as DNS (no reload each).
	EndpointsUpdates prometheus.Counter
	// LastStep is the wall-clock time of each step of the last change.
	LastStep *prometheus.GaugeVec
	// WorkerGenerations counts the nginx worker generations alive (1: only
	// the current one; more while old workers drain their connections);
	// WorkerGenerationsPeak is the most seen at once since the start.
	WorkerGenerations, WorkerGenerationsPeak prometheus.Gauge

	genMu   sync.Mutex
	genPeak int

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
		LastValidationAt: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_validation_timestamp_seconds",
			Help: "Unix time the last nginx -t ended.",
		}),
		LastReload: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_reload_duration_seconds",
			Help: "Time from the last reload signal until nginx ran a new generation of workers.",
		}),
		EndpointsUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "endpoints_updates_total",
			Help: "Versions of the endpoints ConfigMap served to nginx as DNS (each without a reload).",
		}),
		LastStep: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_apply_step_timestamp_seconds",
			Help: "Unix time of each step of the last config change (mount_changed, validated, reloaded).",
		}, []string{"step"}),
		WorkerGenerations: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "worker_generations",
			Help: "nginx worker generations alive: 1 is the current one, more while old workers drain.",
		}),
		WorkerGenerationsPeak: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "worker_generations_peak",
			Help: "Most nginx worker generations alive at once since the sidecar started.",
		}),
		applied: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Name: "applied_config_info",
			Help: "The config nginx serves: 1 with the config hash as label.",
		}, []string{"hash"}),
	}
	m.registry.MustRegister(
		m.Validations, m.ValidationFailures, m.Reloads, m.ReloadFailures,
		m.LastValidation, m.LastValidationAt, m.LastReload, m.EndpointsUpdates, m.LastStep, m.WorkerGenerations, m.WorkerGenerationsPeak, m.applied,
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
	m.LastValidationAt.SetToCurrentTime()
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

// StepAt records when a step (dataplane.Step*) of the current change happened.
func (m *Metrics) StepAt(step string, t time.Time) {
	m.LastStep.WithLabelValues(step).Set(float64(t.UnixNano()) / 1e9)
}

// SetGenerations records the worker generations alive now.
func (m *Metrics) SetGenerations(n int) {
	m.genMu.Lock()
	defer m.genMu.Unlock()
	m.WorkerGenerations.Set(float64(n))
	if n > m.genPeak {
		m.genPeak = n
		m.WorkerGenerationsPeak.Set(float64(n))
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
