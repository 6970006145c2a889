// Package status is `kubectl nginx-gateway status`: for each Gateway of our
// controller, whether its gateway pods serve the config the operator wants.
//
// It reads, with the user's own rights and only through the API server
// (never exec): the Gateway, its GatewayClass (to tell ours from others';
// optional), its rendered ConfigMap (the wanted hash in
// dataplane.AnnotationConfigHash), its report ConfigMap
// (resources.ReportName, dataplane.ParseReports), its pods (their
// config-hash annotation and readiness) and HTTPRoute statuses (our
// status.parents entries for the Gateway that are Accepted False); and,
// through the API server's pod proxy (pods/proxy get, plugin/podproxy),
// each pod's sidecar metrics: last reload (when, how long), reload and
// nginx -t counts, worker generations alive (ParseMetrics, DataPlane).
//
// Build (pure: objects in, a GatewayStatus out) decides each pod's State;
// Print writes a table, YAML or JSON; NewCommand fetches and wires both.
// A Gateway is InSync when it is Accepted and Programmed and every pod is
// SYNCED; the command fails (ErrNotInSync) otherwise, so a deploy script
// can wait on it.
package status
