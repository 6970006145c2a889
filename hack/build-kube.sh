#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go
# module proxy (module hack/kube) into a cache folder outside git, once per
# version of hack/kube/go.mod. Prints the folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
stamp=$(cat "$here/kube/go.mod" "$here/kube/go.sum" | sha256sum | cut -c1-12)
out=${KUBE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nginx-gateway-operator/kube-$stamp}
bins=(etcd kube-apiserver kube-controller-manager kubectl)
missing=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  mkdir -p "$out.tmp"
  echo "building Kubernetes binaries into $out (cold: ~10 min on 2 cores)" >&2
  cd "$here/kube"
  flags=(-trimpath -ldflags "-s -w")
  go build "${flags[@]}" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
  go build "${flags[@]}" -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build "${flags[@]}" -o "$out.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
  go build "${flags[@]}" -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
