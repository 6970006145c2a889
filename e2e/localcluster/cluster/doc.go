// Package cluster starts a real local Kubernetes cluster without Docker:
// etcd, kube-apiserver and kube-controller-manager (Options.KubeBinDir or
// KUBEBUILDER_ASSETS, e.g. the cached build of hack/build-kube.sh) as
// processes, with generated certificates and service-account keys, an admin
// kubeconfig, and a node agent (package nodeagent) in the calling process in
// place of the kubelet. The API server listens on the agent's bridge
// (198.18.0.1:6443), so pods reach it too. The caller's image rules
// (Options.Images) map images to local programs. One cluster runs at a
// time (a lock file); Start sweeps what a crashed run left and Stop removes
// everything it started.
package cluster
