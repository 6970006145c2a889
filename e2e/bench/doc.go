// Package bench is the product's benchmark on the local cluster (`make
// bench-e2e`; its tests build only with the tag benche2e, so `make test`
// never runs them): route propagation against plain nginx reloading a
// hand-written config of the same routes in the same run, where our time
// goes, route churn under traffic, endpoint churn (backend pods replaced
// under traffic, observed with e2e/churn), and throughput against the same
// nginx with a hand-written keepalive config. It writes docs/performance.md.
package bench
