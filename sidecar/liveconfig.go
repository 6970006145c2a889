package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/dataplane"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/internal/endpointdns"
	"github.com/nginx-gateway-operator/nginx-gateway-operator/sidecar/internal/mount"
)

// The live config handlers: read-only views for `kubectl nginx-gateway
// config`, reached through the API server's pod proxy on the health port
// (see dataplane.LiveConfigPath and docs/security.md).

// appliedHash is the hash of the config nginx serves, set by the apply
// loop and read by the handlers.
type appliedHash struct{ v atomic.Pointer[string] }

func (a *appliedHash) set(h string) { a.v.Store(&h) }

func (a *appliedHash) get() string {
	if p := a.v.Load(); p != nil {
		return *p
	}
	return ""
}

// liveConfigHandler answers dataplane.LiveConfig: the staged tree of the
// applied hash (the sidecar names each staged tree by its hash and keeps
// the applied one), not `live`, which points at a tree nginx is still
// being asked to load during a reload. Private keys are withheld.
//
// The answer is kept for its hash: a hash names one content (checked when
// the tree is read), so the tree is read and hashed once per applied
// config, not on every request (the plugin polls, several people may ask);
// a newly applied hash misses and replaces it.
func liveConfigHandler(stagingDir string, applied *appliedHash) http.Handler {
	var cached atomic.Pointer[liveConfigAnswer]
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hash := applied.get()
		if c := cached.Load(); c != nil && c.hash == hash {
			writeJSONBody(w, c.body)
			return
		}
		out := dataplane.LiveConfig{Hash: hash, Files: map[string]string{}}
		if hash == "" {
			writeJSON(w, out)
			return
		}
		files, err := mount.Read(filepath.Join(stagingDir, hash))
		if err == nil && dataplane.Hash(mount.Contents(files)) != hash {
			err = errTreeChanged
		}
		if err != nil {
			// A newer config was applied and this tree cleaned up meanwhile.
			http.Error(w, "the applied config changed while it was read; ask again: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		for name, f := range files {
			if privateKey(name, f.Data) {
				out.Withheld = append(out.Withheld, name)
				continue
			}
			out.Files[name] = string(f.Data)
		}
		slices.Sort(out.Withheld)
		body, err := json.Marshal(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		cached.Store(&liveConfigAnswer{hash: hash, body: body})
		writeJSONBody(w, body)
	})
}

// liveConfigAnswer is the encoded answer for one applied hash.
type liveConfigAnswer struct {
	hash string
	body []byte
}

type liveConfigError string

func (e liveConfigError) Error() string { return string(e) }

const errTreeChanged = liveConfigError("the staged tree does not hash to the applied hash")

// privateKey is whether a file must never leave the pod: a certificate's
// key (the renderer names them "<name>.key") or anything else holding a PEM
// private key block.
func privateKey(name string, data []byte) bool {
	return strings.HasSuffix(name, ".key") || bytes.Contains(data, []byte("PRIVATE KEY-----"))
}

// liveEndpointsHandler answers dataplane.LiveEndpoints from the table the
// DNS server answers nginx with.
func liveEndpointsHandler(dns *endpointdns.Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		table := dns.Table()
		out := dataplane.LiveEndpoints{Synced: table != nil, Upstreams: make(map[string][]string, len(table))}
		for upstream, aps := range table {
			eps := make([]string, 0, len(aps))
			for _, ap := range aps {
				eps = append(eps, ap.String())
			}
			slices.Sort(eps)
			out.Upstreams[upstream] = eps
		}
		writeJSON(w, out)
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSONBody(w, body)
}

func writeJSONBody(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}
