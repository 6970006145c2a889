package dataplane

// The live config, served read-only by the sidecar on HealthPort for
// `kubectl nginx-gateway config` (through the API server's pod proxy:
// pods/proxy get, never exec). See docs/security.md for what is served.
const (
	// LiveConfigPathPrefix is the path prefix of everything below.
	LiveConfigPathPrefix = "/config/"
	// LiveConfigPath answers a LiveConfig: the tree nginx accepted
	// (the applied hash names it), without private keys.
	LiveConfigPath = LiveConfigPathPrefix + "live"
	// LiveEndpointsPath answers LiveEndpoints: the table the sidecar
	// serves nginx as DNS now.
	LiveEndpointsPath = LiveConfigPathPrefix + "endpoints"

	// SourceFile is a file of the rendered tree (in the Gateway's
	// ConfigMap, hashed with the others, staged beside nginx.conf, which
	// never includes it): the model the files were rendered from and the
	// render step's source map (operator/configsource). Shipped with the
	// files so that a pod's live tree and its map always belong together.
	SourceFile = "ngo-source.json"
)

// LiveConfig is the answer of LiveConfigPath.
type LiveConfig struct {
	// Hash is the applied config's hash (Hash of the whole tree, keys
	// included), "" while nothing is applied.
	Hash string `json:"hash"`
	// Files are the tree's files by name, except private keys (names
	// ending in ".key" and any file holding a PEM private key block).
	Files map[string]string `json:"files"`
	// Withheld names the files left out.
	Withheld []string `json:"withheld,omitempty"`
}

// LiveEndpoints is the answer of LiveEndpointsPath.
type LiveEndpoints struct {
	// Synced is false until the endpoints ConfigMap was first read (the
	// DNS server answers SERVFAIL until then).
	Synced bool `json:"synced"`
	// Upstreams maps each upstream name to its endpoints ("ADDRESS:PORT",
	// sorted); an upstream without endpoints has an empty list.
	Upstreams map[string][]string `json:"upstreams"`
}
