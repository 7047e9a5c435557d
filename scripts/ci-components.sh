#!/usr/bin/env bash
# Builds, from their pins in recipes/, the components the end-to-end tests run
# (e2e/components.txt: RootlessKit, slirp4netns, dockerd + docker CLI, containerd, runc, etcd,
# CNI plugins...) with `u7s-build build --executor host` into the u7s-build cache
# ($XDG_CACHE_HOME/usernetes or ~/.cache/usernetes). Go's module and build caches are reused
# when present, so a warm machine rebuilds nothing. The e2e harness then packs those builds,
# offline, instead of Debian's old binaries. Prints the time it took.
#
# Usage: scripts/ci-components.sh [--u7s-build PATH]   (default: target/debug/u7s-build)
set -euo pipefail
cd "$(dirname "$0")/.."
u7s_build=target/debug/u7s-build
[ "${1:-}" = --u7s-build ] && u7s_build=$2
[ -x "$u7s_build" ] || cargo build --locked -p u7s-builder
only=$(grep -v '^#' e2e/components.txt | grep . | paste -sd, -)
start=$(date +%s)
"$u7s_build" build --executor host --only "$only"
echo "ci-components: $(echo "$only" | tr ',' '\n' | wc -l) components ($only) ready in $(($(date +%s) - start))s" >&2
