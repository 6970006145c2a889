// Package apply turns what the ConfigMap and Secret mounts hold into what
// nginx serves, never letting nginx see a tree `nginx -t` refused: it merges
// both mounts into a staging folder named by the config hash (the
// ConfigMap's gzipped `<name>.gz` keys decompressed, within bounds),
// validates it, points the live symlink at it atomically, reloads nginx,
// confirms that a new generation of workers runs, and restores the previous
// tree on failure. It keeps only the current and previous staging folders.
package apply
