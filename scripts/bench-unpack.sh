#!/usr/bin/env bash
# Benchmark: unpack a release-shaped archive of >= 200 MB of real binaries (made by our packer)
# with our reader (parallel multi-stream bzip2 decoder + safe extract, example `unpack`), with
# `tar xjf` (bzip2 -d) and with `lbzip2 -d | tar x`, in one run; print times side by side and
# our peak RSS (GNU time, Debian package `time`). Our decoder is also run on a single-stream
# archive made by lbzip2, where it cannot go parallel.
#
# Usage: scripts/bench-unpack.sh (env: BENCH_TREE or BENCH_PACKAGES, BENCH_THREADS, BENCH_MIN_MB,
# BENCH_RUNS; described in scripts/lib/bench-common.sh)
# Times are the medians of BENCH_RUNS interleaved runs (see bench-pack.sh). Nothing here is
# fsynced: scripts/bench-install.sh compares the durable install.
# Target: our peak RSS for a whole extraction <= 64 MiB.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

# peak_rss_kib CMD...: runs CMD under GNU time; prints its peak RSS in KiB on stdout.
peak_rss_kib() {
    /usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null
    cat "$work/rss"
}

main_unpack() {
    bench_require 'GNU time: apt-get install time' tar bzip2 lbzip2 bc dpkg /usr/bin/time
    bench_workdir bench-unpack
    bench_build_bundle_examples
    bench_collect "$work/usernetes"
    local input
    input=$(du -sb "$work/usernetes" | cut -f1)
    "$PACK_BIN" "$work/usernetes" "$work/ours.tbz" "$BENCH_THREADS" 0 >/dev/null
    tar "${tar_det[@]}" -C "$work" -I "lbzip2 -9 -n $BENCH_THREADS" -cf "$work/single.tbz" usernetes
    rm -rf "$work/usernetes"
    echo "archive: $(stat -c %s "$work/ours.tbz") bytes for $((input / 1000000)) MB;" \
        "threads: $BENCH_THREADS of $(nproc) CPUs"

    local rss_ours rss_single run load_before
    fresh() { rm -rf "$work/out" && mkdir "$work/out"; }
    load_before=$(load)
    for ((run = 1; run <= BENCH_RUNS; run++)); do
        fresh
        timed ours "$UNPACK_BIN" "$work/ours.tbz" "$work/out" "$BENCH_THREADS" >/dev/null
        fresh
        timed lbzip2 bash -c "lbzip2 -d -n $BENCH_THREADS < '$work/ours.tbz' | tar -C '$work/out' -x"
        fresh
        timed tar tar -C "$work/out" -xjf "$work/ours.tbz"
        fresh
        timed single "$UNPACK_BIN" "$work/single.tbz" "$work/out" "$BENCH_THREADS" >/dev/null
    done
    fresh
    rss_ours=$(peak_rss_kib "$UNPACK_BIN" "$work/ours.tbz" "$work/out" "$BENCH_THREADS")
    fresh
    rss_single=$(peak_rss_kib "$UNPACK_BIN" "$work/single.tbz" "$work/out" "$BENCH_THREADS")
    rm -rf "$work/out"

    local t_lbzip2
    t_lbzip2=$(median lbzip2)
    echo
    printf '%-44s %8s %8s %12s %14s\n' tool seconds "CPU s" "time/lbzip2" "peak RSS MiB"
    row() {
        local m
        m=$(median "$2")
        printf '%-44s %8s %8s %12.2f %14s\n' "$1" "$m" "$(median_cpu "$2")" "$(echo "$m / $t_lbzip2" | bc -l)" "$3"
    }
    row "bundle unpack (ours, $BENCH_THREADS threads)" ours "$((rss_ours / 1024))"
    row "lbzip2 -d -n $BENCH_THREADS | tar x" lbzip2 "-"
    row "tar xjf (bzip2 -d, 1 thread)" tar "-"
    row "bundle unpack of lbzip2's single stream" single "$((rss_single / 1024))"
    echo
    echo "runs (wall s): ours $(all_runs ours); lbzip2 $(all_runs lbzip2)"
    echo "medians of $BENCH_RUNS runs; load average before: $load_before, after: $(load)"
    echo "target: peak RSS <= 64 MiB"
}

main_unpack "$@"
