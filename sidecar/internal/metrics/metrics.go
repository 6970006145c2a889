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
	// ValidationDuration and ReloadDuration are every nginx -t and every
	// reload (signal until nginx runs new workers, or its refusal).
	ValidationDuration, ReloadDuration prometheus.Histogram
	// LastReloadSuccess is 1 when the last reload was accepted, 0 when
	// nginx refused it or did not confirm it; LastReloadTime is when it ended.
	LastReloadSuccess, LastReloadTime prometheus.Gauge
	// ConfigInSync is 1 when nginx serves the newest config the sidecar
	// read from its mounts; ConfigRejected is 1 when that config was
	// refused (nginx -t, the reload, or the mounts' contents) and will not
	// be tried again until it changes.
	ConfigInSync, ConfigRejected prometheus.Gauge
	// EndpointsUpdates counts the versions of the endpoints ConfigMap
	// served to nginx as DNS (no reload each).
	EndpointsUpdates prometheus.Counter
	// EndpointsPickup is, per upstream whose endpoints changed, the time
	// until nginx next asked the sidecar's DNS for them (nginx re-resolves
	// each upstream on its own timer).
	EndpointsPickup prometheus.Histogram
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

// durationBuckets span a small config's nginx -t or reload (tens of
// milliseconds) to a large one's (seconds) and the timeouts (10 s, 30 s).
var durationBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New registers the metrics on a fresh registry, with the Go and process
// collectors and nginx's own counters, read at each scrape from its status
// server's unix socket nginxStatusSocket ("" for none).
func New(nginxStatusSocket string) *Metrics {
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
		ValidationDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "validation_duration_seconds",
			Help: "Duration of nginx -t runs (a tree is checked before nginx starts from it, or before every reload with --validate-before-reload).", Buckets: durationBuckets,
		}),
		ReloadDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "reload_duration_seconds",
			Help: "Time from a reload signal until nginx ran a new generation of workers, or refused the config.", Buckets: durationBuckets,
		}),
		LastReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_reload_success",
			Help: "1 when the last reload was accepted by nginx, 0 when it was refused or not confirmed in time.",
		}),
		LastReloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "last_reload_timestamp_seconds",
			Help: "Unix time the last reload ended (accepted or not).",
		}),
		ConfigInSync: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_in_sync",
			Help: "1 when nginx serves the newest config the sidecar read from its mounts, 0 while that config is being applied, was refused, or failed to apply.",
		}),
		ConfigRejected: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Name: "config_rejected",
			Help: "1 when the newest config read from the mounts was refused (nginx -t, the reload, or its files) and is not tried again until it changes.",
		}),
		EndpointsUpdates: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "endpoints_updates_total",
			Help: "Versions of the endpoints ConfigMap served to nginx as DNS (each without a reload).",
		}),
		EndpointsPickup: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "endpoints_pickup_seconds",
			Help:    "Per upstream whose endpoints changed, the time from the sidecar serving the change until nginx next asked for that upstream (nginx re-resolves each upstream a second after its last answer).",
			Buckets: []float64{.05, .1, .2, .3, .4, .5, .6, .7, .8, .9, 1, 1.1, 1.25, 1.5, 2, 3, 5},
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
		m.LastValidation, m.LastValidationAt, m.LastReload, m.ValidationDuration, m.ReloadDuration, m.LastReloadSuccess, m.LastReloadTime,
		m.ConfigInSync, m.ConfigRejected,
		m.EndpointsUpdates, m.EndpointsPickup, m.LastStep, m.WorkerGenerations, m.WorkerGenerationsPeak, m.applied,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if nginxStatusSocket != "" {
		m.registry.MustRegister(newNginxStatus(nginxStatusSocket))
	}
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
	m.ValidationDuration.Observe(d.Seconds())
	if failed {
		m.ValidationFailures.Inc()
	}
}

// ObserveReload records one reload, which ended at end.
func (m *Metrics) ObserveReload(d time.Duration, failed bool, end time.Time) {
	m.Reloads.Inc()
	m.LastReload.Set(d.Seconds())
	m.ReloadDuration.Observe(d.Seconds())
	m.LastReloadTime.Set(float64(end.UnixNano()) / 1e9)
	if failed {
		m.ReloadFailures.Inc()
		m.LastReloadSuccess.Set(0)
	} else {
		m.LastReloadSuccess.Set(1)
	}
}

// SetSync records whether nginx serves the newest config read from the
// mounts, and whether that config was refused for good.
func (m *Metrics) SetSync(inSync, rejected bool) {
	m.ConfigInSync.Set(boolValue(inSync))
	m.ConfigRejected.Set(boolValue(rejected))
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
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
