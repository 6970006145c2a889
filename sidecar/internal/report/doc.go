// Package report tells the API server what the sidecar did with a config:
// its pod's keys in the Gateway's report ConfigMap (applied hash, or
// rejected hash and nginx's message; see dataplane.PodReport), which the
// operator turns into the Gateway's Programmed condition, and an Event on
// the Gateway for people reading `kubectl describe`. The sidecar has no
// permission on any pod, its own included.
// Reports are sent from one goroutine that retries until the API server
// takes them; a newer report replaces one not yet sent.
package report
