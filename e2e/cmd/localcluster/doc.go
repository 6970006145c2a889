// Command localcluster runs a local Kubernetes cluster without Docker
// (etcd, kube-apiserver, kube-controller-manager and the node agent of
// e2e/nodeagent) until Ctrl-C, then removes everything it started. With
// -deploy it also installs the Gateway API CRDs, the operator from
// config/default and config/samples, and prints a curl that reaches the
// sample Gateway (make run-local).
package main
