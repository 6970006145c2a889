// Package resources turns one Gateway's translation result and rendered nginx
// files into the Kubernetes objects the operator owns for it: ConfigMap,
// Secret, ServiceAccount, Role, RoleBinding, Deployment and Service. It is
// pure (no client, no clock): the controller applies what it returns.
package resources
