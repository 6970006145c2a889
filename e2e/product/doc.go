// Package product puts this repository's product on the local cluster of
// e2e/localcluster (a separate, product-free Go module): the image rules
// that map the operator and gateway images to bin/operator, bin/sidecar and
// the nginx root filesystem, and the deployment make run-local shows (CRDs,
// config/default, config/samples). The end-to-end tests (e2e/tests), the
// conformance runner (conformance/) and bin/localcluster
// (e2e/product/cmd/localcluster) use it.
package product
