// Package endpointwatch keeps the sidecar's endpoints DNS
// (internal/endpointdns) equal to the Gateway's endpoints ConfigMap: it
// watches that one object through the API server (get, list and watch on
// its name only) and sets the DNS server's table on every change. Not a
// mounted volume: the kubelet refreshes ConfigMap volumes up to a minute
// late, and an endpoint change must reach nginx within a second or two.
package endpointwatch
