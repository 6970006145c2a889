// Package configsource is the document shipped with every rendered config
// as the file dataplane.SourceFile: the model the files were rendered from
// (without key material) and the render step's source map. Pure.
//
// The pipeline adds it to the config files, so it is in the Gateway's
// ConfigMap, in the config hash and in every pod's staged tree: a pod's
// live tree and its source document always belong together. `kubectl
// nginx-gateway config` reads it from the pod (plugin/config) to show the
// listeners, routes and upstreams nginx runs and to annotate the raw files.
//
// The JSON leaves out every struct field that holds its zero value
// (lean.go): half the size of json.Marshal's, which every pod decompresses,
// hashes and stages with each change. Decode reads either.
package configsource
