#!/usr/bin/env bash
# Benchmark: pack a tree of >= 200 MB of real binaries with our packer (deterministic tar +
# parallel bzip2, crate `bundle`), with `tar -cjf` (single-threaded bzip2) and with
# `tar -I lbzip2 -cf` (the parallel anchor), in one run, and print time and size side by side.
#
# The binaries come from installed Debian packages (docker.io, containerd, etcd-server, runc,
# rootlesskit, ... see BENCH_PACKAGES); the tree is topped up with suffixed copies if the
# packages hold less than BENCH_MIN_MB.
#
# Usage: scripts/bench-pack.sh   (env: BENCH_THREADS, BENCH_MIN_MB, BENCH_PACKAGES, BENCH_RUNS)
# Each tool runs BENCH_RUNS times (default 2), interleaved; the best time is shown, since on a
# shared machine the slower runs measure the neighbours.
# Goal (issue 2): our time <= lbzip2's, at <= 1.02 x its size.
#
# This file is also sourced by scripts/bench-unpack.sh for its helper functions.
set -euo pipefail

BENCH_PACKAGES=${BENCH_PACKAGES:-"docker.io containerd etcd-server etcd-client runc rootlesskit"}
BENCH_MIN_MB=${BENCH_MIN_MB:-200}
BENCH_THREADS=${BENCH_THREADS:-$(nproc)}
BENCH_RUNS=${BENCH_RUNS:-2}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# collect_tree DIR: fills DIR with the regular files of BENCH_PACKAGES (>= BENCH_MIN_MB).
collect_tree() {
    local dir=$1 pkg f rel bytes copy=0
    mkdir -p "$dir"
    for pkg in $BENCH_PACKAGES; do
        if ! dpkg -L "$pkg" >/dev/null 2>&1; then
            echo "bench: package $pkg is not installed; skipping it" >&2
            continue
        fi
        while IFS= read -r f; do
            [[ -f $f && ! -L $f ]] || continue
            rel=$pkg${f}
            mkdir -p "$dir/$(dirname "$rel")"
            cp "$f" "$dir/$rel"
        done < <(dpkg -L "$pkg")
    done
    bytes=$(du -sb "$dir" | cut -f1)
    if ((bytes == 0)); then
        echo "bench: no files collected from: $BENCH_PACKAGES" >&2
        return 1
    fi
    local base_files
    mapfile -t base_files < <(cd "$dir" && find . -type f | LC_ALL=C sort)
    while ((bytes < BENCH_MIN_MB * 1000 * 1000)); do
        copy=$((copy + 1))
        for f in "${base_files[@]}"; do
            cp "$dir/$f" "$dir/$f.copy$copy"
            bytes=$((bytes + $(stat -c %s "$dir/$f")))
            ((bytes >= BENCH_MIN_MB * 1000 * 1000)) && break
        done
    done
    # Warm the page cache so every tool reads from memory.
    find "$dir" -type f -exec cat {} + >/dev/null
}

# build_examples: builds the release examples once, before anything is timed; sets
# PACK_BIN and UNPACK_BIN.
build_examples() {
    local target=${CARGO_TARGET_DIR:-$REPO/target}
    (cd "$REPO" && cargo build --quiet --release -p u7s-bundle --examples)
    PACK_BIN=$target/release/examples/pack
    # shellcheck disable=SC2034 # used by bench-unpack.sh
    UNPACK_BIN=$target/release/examples/unpack
}

# timed VAR CMD...: runs CMD; stores its wall seconds in VAR, or keeps VAR if that was less.
timed() {
    local __var=$1 start end took
    shift
    start=$(date +%s.%N)
    "$@"
    end=$(date +%s.%N)
    printf -v took '%.2f' "$(echo "$end - $start" | bc -l)"
    if [[ -z ${!__var:-} ]] || (($(echo "$took < ${!__var}" | bc -l))); then
        printf -v "$__var" '%s' "$took"
    fi
}

load() { cut -d' ' -f1-3 /proc/loadavg; }

tar_det=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)

main() {
    for tool in tar bzip2 lbzip2 bc; do
        command -v "$tool" >/dev/null || {
            echo "bench: $tool is required" >&2
            exit 1
        }
    done
    work=$(mktemp -d "${TMPDIR:-/tmp}/bench-pack.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    build_examples
    echo "collecting binaries from: $BENCH_PACKAGES"
    collect_tree "$work/usernetes"
    local input
    input=$(du -sb "$work/usernetes" | cut -f1)
    echo "input: $((input / 1000000)) MB in $(find "$work/usernetes" -type f | wc -l) files;" \
        "threads: $BENCH_THREADS of $(nproc) CPUs"

    local t_ours='' t_bzip2='' t_lbzip2='' run load_before
    load_before=$(load)
    for ((run = 1; run <= BENCH_RUNS; run++)); do
        timed t_ours "$PACK_BIN" "$work/usernetes" "$work/ours.tbz" "$BENCH_THREADS" 0 >/dev/null
        timed t_lbzip2 tar "${tar_det[@]}" -C "$work" -I "lbzip2 -9 -n $BENCH_THREADS" \
            -cf "$work/lbzip2.tbz" usernetes
        timed t_bzip2 tar "${tar_det[@]}" -C "$work" -cjf "$work/bzip2.tbz" usernetes
    done
    lbzip2 -t "$work/ours.tbz" # the output must be valid bzip2

    local s_ours s_bzip2 s_lbzip2
    s_ours=$(stat -c %s "$work/ours.tbz")
    s_bzip2=$(stat -c %s "$work/bzip2.tbz")
    s_lbzip2=$(stat -c %s "$work/lbzip2.tbz")
    echo
    printf '%-34s %9s %14s %12s %12s\n' tool seconds bytes "time/lbzip2" "size/lbzip2"
    row() {
        printf '%-34s %9s %14s %12.2f %12.4f\n' "$1" "$2" "$3" \
            "$(echo "$2 / $t_lbzip2" | bc -l)" "$(echo "$3 / $s_lbzip2" | bc -l)"
    }
    row "bundle pack (ours, $BENCH_THREADS threads)" "$t_ours" "$s_ours"
    row "tar -I 'lbzip2 -9 -n $BENCH_THREADS' -cf" "$t_lbzip2" "$s_lbzip2"
    row "tar -cjf (bzip2 -9, 1 thread)" "$t_bzip2" "$s_bzip2"
    echo
    echo "best of $BENCH_RUNS runs; load average before: $load_before, after: $(load)"
    echo "goal: ours time <= lbzip2 time, ours size <= 1.02 x lbzip2 size"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
