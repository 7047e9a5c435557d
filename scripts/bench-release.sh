#!/usr/bin/env bash
# Benchmark: the real release built from its pins on this machine (host executor).
#
#   1. cold build of every component, one at a time, with empty caches (a fresh u7s-build cache,
#      so every Go module and source is fetched, and a fresh GOCACHE): wall time, CPU time and
#      peak RSS per component, and the total;
#   2. `u7s-build release` from that warm cache (it packs), and a second one: the no-op rebuild;
#   3. the pack alone: bundle's packer on the same tree (the anchor of the no-op goal);
#   4. the archive's size, beside the sum of the binaries it carries and beside Debian's packages
#      of the same components (upstream's release pages are not reachable here).
#
# Goal (issue 10): no-op rebuild <= 1.2 x the pack time.
#
# Usage: scripts/bench-release.sh [--only NAME,...] [--keep DIR [--warm-only]]
#   --warm-only  steps 2-4 only, from the cache a previous run left in DIR (its table is shown)
#   env BENCH_EXCLUDE (space-separated recipes left out; default: none)
#   env BENCH_RUNS (runs of the no-op rebuild and of the pack, interleaved; medians; default 3)
# Cold, every recipe: about 20 min on 2 cores (Kubernetes 5.5 min of it); prints a table at the end.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

only=
keep=
warm_only=false
while [ $# -gt 0 ]; do
    case "$1" in
        --only) only=$2; shift 2 ;;
        --keep) keep=$2; shift 2 ;;
        --warm-only) warm_only=true; shift ;;
        -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-release.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done

main() {
    bench_require '' bc jq go
    if $warm_only && { [ -z "$keep" ] || [ ! -d "$keep/cache" ]; }; then
        echo "bench-release: --warm-only needs --keep DIR holding a previous run's cache/" >&2
        exit 2
    fi
    if [ -n "$keep" ]; then
        work=$keep
        mkdir -p "$work"
    else
        bench_workdir bench-release
    fi
    bench_build_bundle_examples
    (cd "$REPO" && cargo build --quiet --release -p u7s-builder)
    local build
    build=$(bench_target_dir)/release/u7s-build
    local cache=$work/cache out=$work/out
    $warm_only || rm -rf "$cache" "$work/gocache"
    rm -rf "$out"
    export GOCACHE=$work/gocache
    local names
    if [ -n "$only" ]; then
        names=$(tr ',' ' ' <<<"$only")
    else
        names=$(cd "$REPO/recipes" && ls ./*.toml | sed 's|^\./||; s|\.toml$||' | tr '\n' ' ')
    fi
    local exclude=" ${BENCH_EXCLUDE-} " selected=()
    for n in $names; do
        [[ $exclude == *" $n "* ]] || selected+=("$n")
    done
    echo "components: ${selected[*]}"
    echo "load average before: $(load)"
    $warm_only || printf '%-20s %9s %9s %10s\n' component wall_s cpu_s peak_MB >"$work/table"
    local total=0 n t
    $warm_only && total=$(awk 'NR > 1 { s += $2 } END { print s + 0 }' "$work/table" 2>/dev/null || echo 0)
    for n in "${selected[@]}"; do
        $warm_only && break
        /usr/bin/time -f '%e %U %S %M' -o "$work/time.$n" \
            "$build" build --quiet --executor host --cache "$cache" --recipes "$REPO/recipes" --only "$n" \
            >"$work/log.$n" 2>&1 || { tail -20 "$work/log.$n"; echo "bench-release: $n failed" >&2; exit 1; }
        read -r wall user sys rss <"$work/time.$n"
        t=$(echo "$user + $sys" | bc)
        total=$(echo "$total + $wall" | bc)
        printf '%-20s %9.1f %9.1f %10d\n' "$n" "$wall" "$t" "$((rss / 1024))" | tee -a "$work/table"
    done
    local only_arg
    only_arg=$(IFS=,; echo "${selected[*]}")
    local release=("$build" release --quiet --executor host --cache "$cache" --recipes "$REPO/recipes"
        --only "$only_arg" --out "$out" --release-version 0.0.0-bench)
    timed first "${release[@]}" >/dev/null
    rm -rf "$work/tree" && mkdir "$work/tree"
    tar -xjf "$out/usernetes-x86_64.tbz" -C "$work/tree"
    local _run
    for _run in $(seq "$BENCH_RUNS"); do
        timed noop "${release[@]}" >/dev/null
        timed pack "$PACK_BIN" "$work/tree/usernetes" "$work/pack.tbz" "$(nproc)" 0 >/dev/null
    done
    local t_first t_noop t_pack
    t_first=$(median first) t_noop=$(median noop) t_pack=$(median pack)
    local size binaries
    size=$(stat -c %s "$out/usernetes-x86_64.tbz")
    binaries=$(du -sb "$work/tree/usernetes/bin" | cut -f1)
    echo
    cat "$work/table"
    printf '%-20s %9.1f\n' "total (cold)" "$total"
    echo
    printf '%-44s %9s\n' step seconds
    printf '%-44s %9s\n' "release from the warm cache (first pack)" "$t_first"
    printf '%-44s %9s\n' "no-op rebuild (u7s-build release again, median)" "$t_noop"
    printf '%-44s %9s\n' "pack alone (bundle packer, same tree, median)" "$t_pack"
    printf 'no-op / pack: %.2f (goal <= 1.2)\n' "$(echo "$t_noop / $t_pack" | bc -l)"
    echo
    printf 'archive: %d bytes (%.1f MB); binaries in it: %.1f MB uncompressed\n' \
        "$size" "$(echo "$size / 1000000" | bc -l)" "$(echo "$binaries / 1000000" | bc -l)"
    debian_anchor
    echo "load average after: $(load)"
}

# The anchor for the archive's size: upstream's release pages (GitHub) cannot be reached here, so
# the sizes a user would otherwise download are Debian's packages of the components Debian ships
# (older versions, and no kubelet, apiserver, CRI-O, cri-dockerd, flannel nor CoreDNS).
DEBIAN_PACKAGES="docker.io containerd runc rootlesskit slirp4netns libslirp0 etcd-server etcd-client
kubernetes-client containernetworking-plugins conmon socat fuse-overlayfs tini"
debian_anchor() {
    command -v apt-cache >/dev/null || { echo "anchor: apt-cache not found, Debian sizes skipped"; return; }
    local p line size=0 installed=0 n=0
    for p in $DEBIAN_PACKAGES; do
        line=$(apt-cache show --no-all-versions "$p" 2>/dev/null |
            awk '/^Version:/{v=$2} /^Size:/{s=$2} /^Installed-Size:/{i=$2} END{if (v) print v, s, i}')
        [ -n "$line" ] || continue
        read -r _ s i <<<"$line"
        size=$((size + s)) installed=$((installed + i * 1024)) n=$((n + 1))
    done
    printf 'anchor: Debian %s, %d packages of the same components: %.1f MB of .deb, %.1f MB installed\n' \
        "$(. /etc/os-release && echo "$VERSION_CODENAME")" "$n" \
        "$(echo "$size / 1000000" | bc -l)" "$(echo "$installed / 1000000" | bc -l)"
}

main "$@"
