// Package metrics holds the sidecar's Prometheus metrics on their own
// registry, served on the pod's metrics port: the reload, validation, sync
// and worker-generation metrics the sidecar records, and nginx's own
// connection and request counters, read from nginx's stub_status over its
// status server's unix socket at each scrape (nginxstatus.go).
package metrics
