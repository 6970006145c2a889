// Package rendercmd is `operator render -f FILE_OR_DIR [-o DIR]`: the translation
// and render steps of the operator, offline. It reads Kubernetes objects
// from YAML files, prints the statuses the operator would write, and with
// -o writes each accepted Gateway's nginx files to DIR/<namespace>/<gateway>/
// (ConfigMap and Secret files merged into one flat folder, as the sidecar
// lays them out), ready for `nginx -t -p DIR/<namespace>/<gateway>/ -c nginx.conf`.
package rendercmd
