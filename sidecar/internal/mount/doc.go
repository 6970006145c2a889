// Package mount reads and watches the folders the kubelet fills from a
// ConfigMap or Secret volume: files in a timestamped folder, a `..data`
// symlink swapped atomically, and one `name -> ..data/name` symlink per key.
// Read returns one consistent version of such a folder; Expand decompresses
// the keys the operator stored gzipped (`<name>.gz`), within size bounds;
// Watch reports when a burst of changes to the watched folders has settled.
package mount
