// Package cluster starts a real local Kubernetes cluster without Docker:
// etcd, kube-apiserver and kube-controller-manager (the cached build of
// hack/build-kube.sh) as processes, with generated certificates and
// service-account keys, an admin kubeconfig, and a node agent
// (e2e/nodeagent) in the calling process in place of the kubelet. The API
// server listens on the agent's bridge (198.18.0.1:6443), so pods reach it
// too. One cluster runs at a time (a lock file); Start sweeps what a crashed
// run left and Stop removes everything it started.
package cluster
