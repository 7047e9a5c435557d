#!/usr/bin/env bash
# Reproducibility check (issue 10, item 7): two builds of the same pins from empty caches must give
# a byte-identical usernetes-x86_64.tbz. Where they do not, every file of the release that differs
# is listed with both sha256s, so the component at fault is named.
#
#   build A   u7s-build release into an empty cache (or, with --first-cache, from a cache that
#             was itself filled from empty, e.g. by a cold CI run: only the packing runs again)
#   build B   u7s-build release into a second empty cache, with an empty GOCACHE
#   compare   sha256 of the two archives, then of every file inside them
#
# Usage: scripts/check-reproducible.sh [--only NAME,...] [--first-cache DIR] [--keep DIR]
#                                      [--u7s-build PATH]
#   --only         the components (default: every recipe)
#   --first-cache  use this u7s-build cache for build A instead of building it again
#   --keep DIR     work in DIR and keep it (both caches, both archives, the file lists)
# Each build has its own Go module cache (the gomod/ folder of its u7s-build cache) and its own
# GOCACHE, so every source and module is fetched and compiled twice. Exit status 0 only when
# identical.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

only=
first_cache=
keep=
u7s_build=
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=$2; shift 2 ;;
        --first-cache) first_cache=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --u7s-build) u7s_build=$2; shift 2 ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "check-reproducible.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done

if [ -n "$keep" ]; then
    work=$keep
    mkdir -p "$work"
else
    work=$(mktemp -d "${TMPDIR:-/tmp}/u7s-repro.XXXXXX")
    trap 'rm -rf "$work"' EXIT
fi
if [ -z "$u7s_build" ]; then
    (cd "$REPO" && cargo build --quiet --release -p u7s-builder)
    u7s_build=$REPO/target/release/u7s-build
fi
if [ -z "$only" ]; then
    only=$(cd "$REPO/recipes" && ls ./*.toml | sed 's|^\./||; s|\.toml$||' | paste -sd, -)
fi
echo "components: $only"

# build NAME CACHE GOCACHE: one release into $work/NAME, timed.
build() {
    local name=$1 cache=$2 gocache=$3 start
    mkdir -p "$work/$name"
    start=$(date +%s)
    echo "build $name: cache $cache"
    GOCACHE=$gocache "$u7s_build" release --executor host --quiet --recipes "$REPO/recipes" \
        --cache "$cache" --only "$only" --out "$work/$name" --release-version 0.0.0-repro
    echo "build $name: $(($(date +%s) - start)) s"
}

# files ARCHIVE: "sha256  path" of every regular file and "-> target" of every link inside it.
files() {
    local dir
    dir=$(mktemp -d "$work/unpack.XXXXXX")
    tar -xjf "$1" -C "$dir"
    (cd "$dir" && find . -type f -print0 | sort -z | xargs -0 sha256sum &&
        find . -type l -printf '%l  %p (link)\n' | sort -k2)
    rm -rf "$dir"
}

if [ -n "$first_cache" ]; then
    build A "$first_cache" "${GOCACHE:-$(go env GOCACHE)}"
else
    build A "$work/cache-a" "$work/gocache-a"
fi
build B "$work/cache-b" "$work/gocache-b"

a=$(sha256sum <"$work/A/usernetes-x86_64.tbz" | cut -d' ' -f1)
b=$(sha256sum <"$work/B/usernetes-x86_64.tbz" | cut -d' ' -f1)
echo "archive A: $a"
echo "archive B: $b"
if [ "$a" = "$b" ]; then
    echo "reproducible: the two archives are byte-identical"
    exit 0
fi
files "$work/A/usernetes-x86_64.tbz" >"$work/A.files"
files "$work/B/usernetes-x86_64.tbz" >"$work/B.files"
echo "NOT reproducible: files that differ (A's line, then B's):"
diff "$work/A.files" "$work/B.files" | grep '^[<>]' || echo "  (no file differs: only the archive's metadata)"
exit 1
