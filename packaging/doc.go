// Package packaging holds the tests of the install and distribution
// artifacts: the kustomize trees under config/, the generated OLM bundle and
// file-based catalog, and the inputs of the Dockerfiles. It has no product
// code; the generators live in hack/bundle and hack/catalog.
package packaging
