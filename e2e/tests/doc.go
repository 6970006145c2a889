// Package tests holds the end-to-end tests that run against a real local
// cluster (e2e/cluster): plain workloads first (the conformance echo
// backend), then the product.
package tests
