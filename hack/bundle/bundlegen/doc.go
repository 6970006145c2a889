// Package bundlegen generates the OLM artifacts of the operator from config/:
// the registry+v1 bundle (bundle/manifests with the ClusterServiceVersion,
// bundle/metadata/annotations.yaml, bundle.Dockerfile) and the file-based
// catalog (catalog/). It runs kustomize in-process (sigs.k8s.io/kustomize/api)
// on an in-memory copy of config/, so choosing images never edits the tree.
// `make bundle` and `make catalog` call it through hack/bundle; the tests in
// packaging/ call it directly to detect drift.
package bundlegen
