// Command localcluster runs a local Kubernetes cluster without Docker
// (etcd, kube-apiserver, kube-controller-manager and the node agent of
// nodeagent) until Ctrl-C, then removes everything it started. The
// Kubernetes binaries come from KUBEBUILDER_ASSETS; the image rules from
// the JSON file -images names (a list of nodeagent.ImageRule). The
// repository's make local-cluster and make run-local run the product's
// wrapper (e2e/product/cmd/localcluster), which adds the product's images
// and -deploy.
package main
