// Package controller holds the operator's reconciler: a thin loop that
// reads every input from the manager's cache, calls operator/translate once for
// the whole cluster, renders each accepted Gateway (operator/render), applies
// the owned objects (operator/resources) with server-side apply (the config
// and last-good ConfigMaps, ~1 MiB each, whole by update: replaceConfigMap),
// points the gateway pods at the new config hash, and writes GatewayClass, Gateway and
// HTTPRoute statuses only when they change. Gateway Programmed is composed
// from the pods' readiness and what their sidecars report in the Gateway's
// report ConfigMap (PodReports, DataPlaneProgrammed), and from whether the
// Gateway's Service got the addresses its spec.addresses names
// (AddressVerdict: the Service's status and its load balancer's events).
//
// The operator does not install the Gateway API CRDs: CRDWaiter
// (SetupWhenCRDsInstalled) registers the reconciler in the running manager
// once they and the operator's own CRDs are served, and keeps the operator
// not ready, with one error log line and one Event, while any is missing.
package controller
