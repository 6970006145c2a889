// Package kubeletvolume writes a folder the way the kubelet updates a
// ConfigMap or Secret volume, step for step, so tests exercise the sidecar
// against the real sequence of file-system events: a new timestamped folder,
// a `..data_tmp` symlink renamed over `..data`, per-key symlinks, removal of
// keys that went away, removal of the old version.
package kubeletvolume
