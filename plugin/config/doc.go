// Package config is `kubectl nginx-gateway config GATEWAY [--pod P]
// listeners|routes|upstreams|raw`: the configuration as nginx runs it on
// one gateway pod.
//
// Everything comes from the pod, through the API server's pod proxy
// (pods/proxy get, never exec): the sidecar's dataplane.LiveConfigPath
// answers the staged tree of the config nginx accepted (the applied hash),
// without private keys, and dataplane.LiveEndpointsPath the endpoints it
// serves nginx as DNS now. The tree holds the source document
// (operator/configsource): the model its files were rendered from and the
// render step's source map, shipped in the same ConfigMap and hash, so the
// tables describe exactly the files nginx runs. Nothing is re-rendered from
// the objects.
//
// Parse reads a pod's answers into a Live; Listeners, Routes and Upstreams
// (pure) derive the tables from it (certificate subjects and expiry from
// the tree's .crt files, endpoints from the sidecar's table); Raw prints
// the nginx files with each block annotated by the route rule and matches
// that produced it; Print writes -o table|yaml|json (plugin/output).
package config
