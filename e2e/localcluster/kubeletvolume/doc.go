// Package kubeletvolume writes a folder the way the kubelet's atomic writer
// updates a ConfigMap, Secret, downward-API or projected volume, step for
// step: a new timestamped folder, a `..data_tmp` symlink renamed over
// `..data`, per-key symlinks through `..data`, removal of keys that went
// away, removal of the old version. The local cluster's node agent writes
// its pods' volumes with it, and the sidecar's tests use it to exercise the
// sidecar against the real sequence of file-system events.
package kubeletvolume
