// Package bundlegen generates the OLM registry+v1 bundle of the operator from
// config/: bundle/manifests with the ClusterServiceVersion,
// bundle/metadata/annotations.yaml and bundle.Dockerfile. It runs kustomize
// in-process (sigs.k8s.io/kustomize/api) on an in-memory copy of config/, so
// choosing images never edits the tree. `make bundle` calls it through
// hack/bundle, `make catalog` through hack/catalog (a module of its own, which
// renders the file-based catalog with operator-registry's declcfg types); the
// tests in packaging/ call it directly to detect drift.
package bundlegen
