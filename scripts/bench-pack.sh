#!/usr/bin/env bash
# Benchmark: pack a tree of >= 200 MB of real binaries with our packer (deterministic tar +
# parallel bzip2, crate `bundle`), with `tar -cjf` (single-threaded bzip2) and with
# `tar -I lbzip2 -cf` (the parallel anchor), in one run, and print time and size side by side.
#
# The binaries come from installed Debian packages (docker.io, containerd, etcd-server, runc,
# rootlesskit, ... see BENCH_PACKAGES); the tree is topped up with suffixed copies if the
# packages hold less than BENCH_MIN_MB.
#
# Usage: scripts/bench-pack.sh   (env: BENCH_TREE or BENCH_PACKAGES, BENCH_THREADS,
# BENCH_MIN_MB, BENCH_RUNS; see scripts/lib/bench-common.sh)
# Each tool runs BENCH_RUNS times (default 3), interleaved; the median time is shown, with the
# CPU seconds of that run (on a shared machine the wall time also measures the neighbours).
# Goal (issue 13): our time <= 0.9 x lbzip2's, at <= 1.01 x its size.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"

main() {
    bench_require 'GNU time: apt-get install time' tar bzip2 lbzip2 bc dpkg /usr/bin/time
    bench_workdir bench-pack
    bench_build_bundle_examples
    bench_collect --warm "$work/usernetes"
    local input
    input=$(du -sb "$work/usernetes" | cut -f1)
    echo "input: $((input / 1000000)) MB in $(find "$work/usernetes" -type f | wc -l) files;" \
        "threads: $BENCH_THREADS of $(nproc) CPUs"

    local run load_before
    load_before=$(load)
    for ((run = 1; run <= BENCH_RUNS; run++)); do
        timed ours "$PACK_BIN" "$work/usernetes" "$work/ours.tbz" "$BENCH_THREADS" 0 >/dev/null
        timed lbzip2 tar "${tar_det[@]}" -C "$work" -I "lbzip2 -9 -n $BENCH_THREADS" \
            -cf "$work/lbzip2.tbz" usernetes
        ((run > 1 && BENCH_RUNS > 2)) && continue # bzip2 is slow and not the anchor: once or twice
        timed bzip2 tar "${tar_det[@]}" -C "$work" -cjf "$work/bzip2.tbz" usernetes
    done
    lbzip2 -t "$work/ours.tbz" # the output must be valid bzip2

    local s_ours s_bzip2 s_lbzip2 t_lbzip2
    s_ours=$(stat -c %s "$work/ours.tbz")
    s_bzip2=$(stat -c %s "$work/bzip2.tbz")
    s_lbzip2=$(stat -c %s "$work/lbzip2.tbz")
    t_lbzip2=$(median lbzip2)
    echo
    printf '%-34s %8s %8s %12s %11s %11s\n' tool seconds "CPU s" bytes "time/lbzip2" "size/lbzip2"
    row() {
        local m
        m=$(median "$2")
        printf '%-34s %8s %8s %12s %11.2f %11.4f\n' "$1" "$m" "$(median_cpu "$2")" "$3" \
            "$(echo "$m / $t_lbzip2" | bc -l)" "$(echo "$3 / $s_lbzip2" | bc -l)"
    }
    row "bundle pack (ours, $BENCH_THREADS threads)" ours "$s_ours"
    row "tar -I 'lbzip2 -9 -n $BENCH_THREADS' -cf" lbzip2 "$s_lbzip2"
    row "tar -cjf (bzip2 -9, 1 thread)" bzip2 "$s_bzip2"
    echo
    echo "runs (wall s): ours $(all_runs ours); lbzip2 $(all_runs lbzip2)"
    echo "medians of $BENCH_RUNS runs; load average before: $load_before, after: $(load)"
    echo "goal: ours time <= 0.9 x lbzip2 time, ours size <= 1.01 x lbzip2 size"
}

main "$@"
