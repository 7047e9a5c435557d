#!/usr/bin/env bash
# The base image of compose/Dockerfile without a registry: a Debian root file system made with
# debootstrap from the machine's Debian mirror (Release files checked against Debian's archive
# keyring), holding compose/packages.txt, imported into the local Docker as IMAGE.
#
#   sudo scripts/compose-base.sh [IMAGE]        (default usernetes-base:bookworm)
#   docker-compose -f compose/docker-compose.yml build --build-arg BASE=usernetes-base:bookworm
#
# Needs root (debootstrap), debootstrap and a Docker daemon. Skipped when IMAGE exists and was
# made from the same package list (label org.usernetes.packages). U7S_DEBIAN_MIRROR overrides the
# mirror (default: the first of /etc/apt's sources, else http://deb.debian.org/debian).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-usernetes-base:bookworm}
suite=bookworm
log() { echo "compose-base: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap creates device nodes and owners)"
command -v debootstrap >/dev/null || die "no debootstrap: apt-get install debootstrap"
docker info >/dev/null 2>&1 || die "no Docker daemon answers (docker info)"

packages=$(grep -v '^\s*\(#\|$\)' compose/packages.txt | tr '\n' ',' | sed 's/,$//')
stamp=$(printf '%s %s' "$suite" "$packages" | sha256sum | cut -c1-16)
if [ "$(docker image inspect -f '{{index .Config.Labels "org.usernetes.packages"}}' "$image" 2>/dev/null)" = "$stamp" ]; then
  log "$image is up to date ($stamp)"
  exit 0
fi

mirror=${U7S_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' |
    grep -v security | head -1)
  [ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\).*/\2/p' \
    /etc/apt/sources.list 2>/dev/null | grep -v security | head -1)
  [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
fi

root=$(mktemp -d /var/tmp/u7s-compose-base.XXXXXX)
trap 'rm -rf --one-file-system "$root"' EXIT
log "debootstrap $suite from $mirror (with $packages)"
start=$(date +%s)
debootstrap --variant=minbase --include="$packages" --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$suite" "$root/rootfs" "$mirror" >"$root/debootstrap.log" 2>&1 ||
  { tail -20 "$root/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
# What a container does not need: apt's lists and caches, logs of the bootstrap.
rm -rf "$root"/rootfs/var/lib/apt/lists/* "$root"/rootfs/var/cache/apt/*.bin "$root"/rootfs/var/cache/apt/archives/*.deb \
  "$root"/rootfs/var/log/bootstrap.log
# The tag moves only after the import succeeded.
tar -C "$root/rootfs" --numeric-owner -c . |
  docker import --change "LABEL org.usernetes.packages=$stamp" --change 'CMD ["/bin/bash"]' - "$image" >/dev/null
log "$image imported ($(docker image inspect -f '{{.Size}}' "$image" | numfmt --to=iec) in $(($(date +%s) - start)) s)"
