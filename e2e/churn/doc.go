// Package churn observes a Gateway while its backend pods change (scaled,
// restarted, replaced): clients that never retry (a fresh connection per
// request) send requests through the Gateway, in a loop and from a prober
// that does not wait for earlier answers, and it records failures,
// when each pod became Ready, when its address reached the Gateway's
// endpoints ConfigMap, when it first answered (echo-basic answers with its
// pod name), the sidecar's reload counter and nginx's processes before and
// after. The end-to-end test EndpointChurnWithoutReload (e2e/tests) asserts
// on what it records and the benchmark (e2e/bench) reports it: one helper
// for both.
package churn
