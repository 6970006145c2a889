// Package plugin is the kubectl plugin `kubectl nginx-gateway` (binary
// kubectl-nginx_gateway, cmd/kubectl-nginx_gateway): its root command with
// the standard kubeconfig, context and namespace flags, its subcommands
// (plugin/status, plugin/explain, plugin/logs, plugin/config; plugin/output writes their
// -o formats) and the exit code of a run.
package plugin
