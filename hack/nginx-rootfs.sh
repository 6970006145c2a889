#!/usr/bin/env bash
# Builds (once) a Debian unstable root filesystem with nginx >= 1.27.3 and the
# stream module: the local stand-in for the gateway image. Prints its folder.
# Run nginx in it with: chroot DIR nginx ...
set -euo pipefail
out=${NGINX_ROOTFS:-${XDG_CACHE_HOME:-$HOME/.cache}/nginx-gateway-operator/nginx-rootfs}
if [ ! -x "$out/usr/sbin/nginx" ]; then
  mkdir -p "$(dirname "$out")"
  exec 9>"$out.lock"
  flock 9 # one build at a time; re-check after waiting
fi
if [ ! -x "$out/usr/sbin/nginx" ]; then
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rm -rf "$out.tmp"
  echo "building nginx root filesystem into $out (~30 s)" >&2
  debootstrap --variant=minbase --include=nginx,libnginx-mod-stream sid "$out.tmp" >&2
  # Debian's package starts nothing in a chroot; drop its default site so only our configs load.
  rm -f "$out.tmp/etc/nginx/sites-enabled/default"
  rm -rf "$out" && mv "$out.tmp" "$out"
fi
echo "$out"
