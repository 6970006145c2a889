package render

// Files is a rendered nginx configuration tree for one Gateway. Names are
// flat file names (no folders): nginx.conf includes the others by relative
// name, so the tree works from any prefix (`nginx -t -p DIR/ -c nginx.conf`).
type Files struct {
	// Config files go into the Gateway's ConfigMap.
	Config map[string][]byte
	// Secret files (TLS certificates and keys) go into the Gateway's Secret.
	Secret map[string][]byte
}
