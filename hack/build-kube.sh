#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager and kubectl from the Go
# module proxy (module hack/kube) into a cache folder outside git, once per
# version of hack/kube/go.mod. Prints the folder.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=v1.37.2 # keep equal to k8s.io/kubernetes in hack/kube/go.mod
# Without these the binaries report v0.0.0-master (kubectl version, /version).
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$version -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=37"
stamp=$( (cat "$here/kube/go.mod" "$here/kube/go.sum"; echo "$ldflags") | sha256sum | cut -c1-12)
out=${KUBE_BIN_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/nginx-gateway-operator/kube-$stamp}
bins=(etcd kube-apiserver kube-controller-manager kubectl)
missing=0
for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  # One build at a time: parallel test packages may all ask for the binaries.
  mkdir -p "$(dirname "$out")"
  exec 9>"$out.lock"
  flock 9
  missing=0
  for b in "${bins[@]}"; do [ -x "$out/$b" ] || missing=1; done
fi
if [ "$missing" = 1 ]; then
  rm -rf "$out.tmp"; mkdir -p "$out.tmp"
  echo "building Kubernetes binaries into $out (cold: ~10 min on 2 cores)" >&2
  cd "$here/kube"
  flags=(-trimpath -ldflags "$ldflags")
  go build "${flags[@]}" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
  go build "${flags[@]}" -o "$out.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
  go build "${flags[@]}" -o "$out.tmp/kube-controller-manager" k8s.io/kubernetes/cmd/kube-controller-manager
  go build "${flags[@]}" -o "$out.tmp/kubectl" k8s.io/kubernetes/cmd/kubectl
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
