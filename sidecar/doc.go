// Command sidecar (installed as nginx-gateway-sidecar) runs in both
// containers of a gateway pod; docs/design.md "The gateway pod" and
// internal/dataplane are its contract with the operator.
//
//	nginx-gateway-sidecar [flags]             watch the mounts, validate, apply, report
//	nginx-gateway-sidecar exec-nginx [flags]  the nginx container: wait for the live config, run nginx
//
// The first form owns the live config: it merges the ConfigMap and Secret
// mounts into a staging folder, runs nginx -t on it, swaps the live symlink
// and reloads nginx, confirms the reload, and reports the outcome on its Pod
// and the Gateway. It also publishes the Gateway's addresses from its
// Service, and serves /healthz, /readyz and /metrics.
package main
