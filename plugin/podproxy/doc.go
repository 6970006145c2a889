// Package podproxy reads a gateway pod's sidecar through the API server's
// pod proxy (`pods/proxy` get, the user's own rights, never exec): its live
// config views (plugin/config) and its metrics (plugin/status).
package podproxy
