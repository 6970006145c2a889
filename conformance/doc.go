// Package conformance runs the Gateway API conformance suite
// (sigs.k8s.io/gateway-api/conformance, the version in go.mod) against the
// operator on a local cluster (e2e/localcluster) and writes the suite's
// ConformanceReport to report.yaml. The runner is a Go test behind the
// build tag "conformance" so that a plain `go test ./...` skips it; run it
// with `make conformance` (root, ~tens of minutes).
package conformance
