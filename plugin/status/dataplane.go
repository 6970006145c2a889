package status

import (
	"bytes"
	"fmt"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
)

// DataPlane is what a pod's sidecar reports about its nginx in its
// metrics (sidecar/internal/metrics), read through the pod proxy.
type DataPlane struct {
	// Reloads counts the reloads asked of nginx, ReloadFailures those it
	// refused or did not confirm in time.
	Reloads        int `json:"reloads"`
	ReloadFailures int `json:"reloadFailures"`
	// LastReload is when nginx last ran a new generation of workers and
	// LastReloadSeconds how long that took from the signal.
	LastReload        *time.Time `json:"lastReload,omitempty"`
	LastReloadSeconds float64    `json:"lastReloadSeconds,omitempty"`
	// Validations counts `nginx -t` runs (only before nginx starts from a
	// tree, unless --validate-before-reload), LastValidationSeconds the
	// last one's time.
	Validations           int        `json:"validations"`
	ValidationFailures    int        `json:"validationFailures"`
	LastValidation        *time.Time `json:"lastValidation,omitempty"`
	LastValidationSeconds float64    `json:"lastValidationSeconds,omitempty"`
	// WorkerGenerations alive now (1: the current config's workers; more
	// while old ones drain connections), and the most seen at once.
	WorkerGenerations     int `json:"workerGenerations"`
	WorkerGenerationsPeak int `json:"workerGenerationsPeak"`
}

// metricPrefix is the sidecar's metric namespace.
const metricPrefix = "nginx_gateway_sidecar_"

// ParseMetrics reads a sidecar's /metrics (Prometheus text format).
func ParseMetrics(text []byte) (*DataPlane, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		return nil, fmt.Errorf("reading the sidecar's metrics: %w", err)
	}
	if fams[metricPrefix+"reloads_total"] == nil {
		return nil, fmt.Errorf("the sidecar's metrics have no %sreloads_total", metricPrefix)
	}
	value := func(name string, labels ...string) float64 {
		fam := fams[metricPrefix+name]
		if fam == nil {
			return 0
		}
	next:
		for _, m := range fam.Metric {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(m, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			}
		}
		return 0
	}
	d := &DataPlane{
		Reloads:               int(value("reloads_total")),
		ReloadFailures:        int(value("reload_failures_total")),
		LastReloadSeconds:     value("last_reload_duration_seconds"),
		Validations:           int(value("validations_total")),
		ValidationFailures:    int(value("validation_failures_total")),
		LastValidationSeconds: value("last_validation_duration_seconds"),
		WorkerGenerations:     int(value("worker_generations")),
		WorkerGenerationsPeak: int(value("worker_generations_peak")),
	}
	d.LastReload = timestamp(value("last_apply_step_timestamp_seconds", "step", dataplane.StepReloaded))
	d.LastValidation = timestamp(value("last_validation_timestamp_seconds"))
	return d, nil
}

// timestamp is a metric's Unix time, nil for 0 (never).
func timestamp(unix float64) *time.Time {
	if unix <= 0 {
		return nil
	}
	sec, frac := math.Modf(unix)
	t := time.Unix(int64(sec), int64(frac*1e9)).UTC().Truncate(time.Millisecond)
	return &t
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// duration is a metric's seconds as a duration, to the millisecond.
func duration(seconds float64) time.Duration {
	return time.Duration(seconds * float64(time.Second)).Round(time.Millisecond)
}
