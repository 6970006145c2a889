// Package metrics holds the sidecar's Prometheus metrics on their own
// registry, served on the pod's metrics port.
package metrics
