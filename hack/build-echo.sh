#!/usr/bin/env bash
# Builds (once) echo-basic, the Gateway API conformance echo backend
# (sigs.k8s.io/gateway-api/conformance/echo-basic), into a cache folder outside
# git, from a throwaway module so the project's go.mod does not change.
# Prints the binary's path.
set -euo pipefail
version=${ECHO_BASIC_VERSION:-v1.6.3}
out=${XDG_CACHE_HOME:-$HOME/.cache}/nginx-gateway-operator/echo-basic-$version/echo-basic
if [ ! -x "$out" ]; then
  mod=$(mktemp -d /tmp/echo-basic-build-XXXXXX)
  trap 'rm -rf "$mod"' EXIT
  echo "building echo-basic $version into $out" >&2
  cd "$mod"
  go mod init localcluster/echo-basic-build >/dev/null 2>&1
  # The conformance module replaces the main module with ../ in its own
  # go.mod; pin the main module to the same version here instead.
  GOFLAGS=-mod=mod go get "sigs.k8s.io/gateway-api@$version" "sigs.k8s.io/gateway-api/conformance/echo-basic@$version" >&2
  mkdir -p "$(dirname "$out")"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" sigs.k8s.io/gateway-api/conformance/echo-basic
  # Per-process temp name: concurrent first builds do not clobber each other.
  mv "$out.tmp.$$" "$out"
fi
echo "$out"
