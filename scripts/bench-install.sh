#!/usr/bin/env bash
# Benchmark (not a test): installs a release of >= 200 MB of real binaries with `u7s-install`
# (SHA256SUMS check, parallel multi-stream bzip2 decode, safe extraction hashing as it writes,
# fsync of every file and folder, manifest check, rename, swap of `current`) and, in the same
# run, unpacks the same archive with `lbzip2 -d | tar -x` followed by `sync -f` (the parallel
# anchor, made as durable as our install), without the sync, and with `tar -xjf` (one bzip2
# thread); prints the times side by side, our phase times and our peak RSS.
#
# The binaries are the regular files of installed Debian packages (BENCH_PACKAGES), topped up
# with suffixed copies to BENCH_MIN_MB; the release is made by the installer's example
# `make_release` (bundle's scanner and packer). Needs tar, bzip2, lbzip2, bc and GNU time
# (Debian package `time`).
#
# Usage: scripts/bench-install.sh   (env: BENCH_TREE or BENCH_PACKAGES, BENCH_MIN_MB,
# BENCH_THREADS, BENCH_RUNS; see scripts/lib/bench-common.sh)
# Times are the medians of BENCH_RUNS interleaved runs (all runs are printed too), with the CPU
# seconds of the median run: on a shared machine the wall time also measures the neighbours.
# Goal (issue 13): our time <= that of `lbzip2 -d | tar -x; sync`; our peak RSS <= 64 MiB
# whatever the archive size.
set -euo pipefail

BENCH_PACKAGES=${BENCH_PACKAGES:-"docker.io containerd etcd-server etcd-client runc rootlesskit slirp4netns busybox-static"}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_NAME=bench-install
# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/bench-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/bench-common.sh"
TARGET=$(bench_target_dir)

bench_require 'GNU time: apt-get install time' tar bzip2 lbzip2 bc dpkg /usr/bin/time
bench_workdir bench-install

echo "building u7s-install and the make_release / unpack examples (release profile)…"
(cd "$REPO" && cargo build --quiet --release -p u7s-installer --bin u7s-install --example make_release &&
    cargo build --quiet --release -p u7s-bundle --example unpack)
INSTALL_BIN=$TARGET/release/u7s-install
MAKE_BIN=$TARGET/release/examples/make_release
UNPACK_BIN=$TARGET/release/examples/unpack # bundle's reader alone: no hash check, no fsync

# The packages' regular files under tree/bin/<package>/..., modes normalised (0755 executables,
# 0644 others), topped up with copies to BENCH_MIN_MB.
bench_collect --under bin/ --normalise-modes "$work/tree"
input=$(du -sb "$work/tree" | cut -f1)
files=$(find "$work/tree" -type f | wc -l)
"$MAKE_BIN" "$work/tree" 1.0.0 "$work" "$BENCH_THREADS" >/dev/null
rm -rf "$work/tree"
archive=$work/usernetes-x86_64.tbz
echo "release: $((input / 1000000)) MB in $files files -> $(($(stat -c %s "$archive") / 1000000)) MB archive;" \
    "threads: $BENCH_THREADS of $(nproc) CPUs"
cat "$archive" >/dev/null # page cache: every tool reads from memory

install_args=("$archive" --prefix "$work/prefix" --no-doctor --no-modify-path --no-systemd
    --no-completions --threads "$BENCH_THREADS" -q)
# Each tool starts with the previous output deleted and no dirty pages left to write back.
fresh() {
    rm -rf "${work:?}/prefix" "${work:?}/out" "${work:?}/home" && mkdir -p "$work/out" "$work/home"
    sync
}

load_before=$(load)
for ((run = 1; run <= BENCH_RUNS; run++)); do
    fresh
    timed ours env HOME="$work/home" "$INSTALL_BIN" "${install_args[@]}"
    fresh
    timed durable bash -c "lbzip2 -d -n $BENCH_THREADS < '$archive' | tar -C '$work/out' -x && sync -f '$work/out'"
    fresh
    timed reader "$UNPACK_BIN" "$archive" "$work/out" "$BENCH_THREADS" >/dev/null
    fresh
    timed lbzip2 bash -c "lbzip2 -d -n $BENCH_THREADS < '$archive' | tar -C '$work/out' -x"
    fresh
    timed tar tar -C "$work/out" -xjf "$archive"
done

# One more run of ours for the phase times and the peak RSS.
fresh
HOME=$work/home U7S_TIMINGS=1 /usr/bin/time -f '%M' -o "$work/rss" \
    "$INSTALL_BIN" "${install_args[@]}" 2>"$work/timings"
rss_kib=$(cat "$work/rss")
"$INSTALL_BIN" --prefix "$work/prefix" --list
fresh

base=$(median durable)
echo
printf '%-52s %8s %8s %9s %10s\n' tool seconds "CPU s" "time/base" "peak MiB"
row() {
    local m
    m=$(median "$2")
    printf '%-52s %8s %8s %9.2f %10s\n' "$1" "$m" "$(median_cpu "$2")" "$(echo "$m / $base" | bc -l)" "$3"
}
row "u7s-install (verify + extract + fsync + check)" ours "$((rss_kib / 1024))"
row "base: lbzip2 -d -n $BENCH_THREADS | tar -x; sync -f" durable -
row "lbzip2 -d -n $BENCH_THREADS | tar -x (not durable)" lbzip2 -
row "bundle's reader alone (example unpack, no fsync)" reader -
row "tar -xjf (bzip2, 1 thread, not durable)" tar -
echo
echo "u7s-install phases (one run):"
sed -n 's/^timing: /  /p' "$work/timings"
echo
echo "runs (wall s): ours $(all_runs ours); base $(all_runs durable); lbzip2 $(all_runs lbzip2)"
echo "medians of $BENCH_RUNS runs; load average before: $load_before, after: $(load)"
echo "goal: u7s-install time <= base time; peak RSS <= 64 MiB"
