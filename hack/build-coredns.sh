#!/usr/bin/env bash
# Builds (once) a CoreDNS for the local cluster's conformance runs: the
# Gateway API conformance base manifests run registry.k8s.io/coredns/coredns
# (a UDP backend whose Corefile uses forward, log, errors and whoami). Built
# from the Go module proxy in a throwaway module, so the project's go.mod
# does not change, with only the plugins that Corefile needs (the full
# plugin set pulls in every cloud SDK). Prints the binary's path.
set -euo pipefail
version=${COREDNS_VERSION:-v1.12.2}
out=${XDG_CACHE_HOME:-$HOME/.cache}/nginx-gateway-operator/coredns-$version/coredns
if [ ! -x "$out" ]; then
  mod=$(mktemp -d /tmp/coredns-build-XXXXXX)
  trap 'rm -rf "$mod"' EXIT
  echo "building coredns $version into $out" >&2
  cd "$mod"
  go mod init localcluster/coredns-build >/dev/null 2>&1
  cat > main.go <<'GO'
// Command coredns is CoreDNS with the plugins the conformance Corefile uses.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/whoami"
	"github.com/coredns/coredns/coremain"
)

func init() {
	// Only the plugins linked in: the server refuses unknown directives.
	dnsserver.Directives = []string{"log", "errors", "whoami", "forward"}
}

func main() { coremain.Run() }
GO
  GOFLAGS=-mod=mod go get "github.com/coredns/coredns@$version" >&2
  mkdir -p "$(dirname "$out")"
  CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$out.tmp.$$" . >&2
  mv "$out.tmp.$$" "$out"
fi
echo "$out"
