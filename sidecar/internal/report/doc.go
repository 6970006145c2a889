// Package report tells the API server what the sidecar did with a config:
// annotations on its own Pod (applied hash, or rejected hash and nginx's
// message) that the operator turns into the Gateway's Programmed condition,
// and an Event on the Gateway for people reading `kubectl describe`.
// Reports are sent from one goroutine that retries until the API server
// takes them; a newer report replaces one not yet sent.
package report
