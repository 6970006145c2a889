// Package tests holds the product's end-to-end tests: the operator
// installed the way users install it (config/default, config/samples) on a
// real local cluster (the e2e/localcluster module, wired to the product by
// e2e/product). The local cluster's own tests live in that module.
package tests
