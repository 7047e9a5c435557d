#!/usr/bin/env bash
# Helpers shared by the benchmark scripts scripts/bench-{pack,unpack,install}.sh (sourced, not run):
# the knobs' defaults, tool checks, a scratch directory, the tree of real binaries collected from
# installed Debian packages, the release build of bundle's examples, and "best of N" timing.
#
# Knobs (a script may set its own defaults before sourcing this file):
#   BENCH_PACKAGES  Debian packages whose regular files make the tree
#   BENCH_TREE      a folder of binaries to use instead of the packages (copied; modes
#                   normalised where the script asks for it)
#   BENCH_MIN_MB    the tree is topped up with suffixed copies to at least this many MB
#   BENCH_THREADS   threads given to the parallel tools (default: all CPUs)
#   BENCH_RUNS      interleaved runs per tool; the median time is shown, with the CPU seconds
#                   (user + system) of that run
#   BENCH_NAME      prefix of the messages on stderr (default: bench)
# shellcheck disable=SC2034 # the variables set here are used by the scripts that source this file

: "${BENCH_PACKAGES:=docker.io containerd etcd-server etcd-client runc rootlesskit}"
: "${BENCH_MIN_MB:=200}"
: "${BENCH_THREADS:=$(nproc)}"
: "${BENCH_RUNS:=3}"
: "${BENCH_NAME:=bench}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# bench_require HINT TOOL...: exits unless every TOOL is on PATH (HINT, if any, is added to the
# message, e.g. which package to install).
bench_require() {
    local hint=${1:+ ($1)} tool
    shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || {
            echo "$BENCH_NAME: $tool is required$hint" >&2
            exit 1
        }
    done
}

# bench_workdir NAME: sets `work` to a new scratch directory, removed on exit.
bench_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    trap 'rm -rf "$work"' EXIT
}

# bench_collect [--under PREFIX] [--normalise-modes] [--warm] DIR: fills DIR with the regular
# files of BENCH_PACKAGES as DIR/PREFIX<package>/<path>, topped up with suffixed copies to
# BENCH_MIN_MB. --normalise-modes: directories and executables 0755, other files 0644.
# --warm: reads every file once so the timed tools read from the page cache.
bench_collect() {
    local under='' normalise=false warm=false
    while [[ $1 == --* ]]; do
        case $1 in
        --under) under=$2 && shift ;;
        --normalise-modes) normalise=true ;;
        --warm) warm=true ;;
        *) echo "bench_collect: unknown option $1" >&2 && return 2 ;;
        esac
        shift
    done
    local dir=$1 pkg f rel bytes copy=0 base_files
    mkdir -p "$dir"
    if [[ -n ${BENCH_TREE:-} ]]; then
        echo "collecting binaries from: $BENCH_TREE"
        mkdir -p "$dir/$under"
        cp -r "$BENCH_TREE/." "$dir/$under"
        find "$dir" -type l -delete
    else
        echo "collecting binaries from: $BENCH_PACKAGES"
        for pkg in $BENCH_PACKAGES; do
            if ! dpkg -L "$pkg" >/dev/null 2>&1; then
                echo "$BENCH_NAME: package $pkg is not installed; skipping it" >&2
                continue
            fi
            while IFS= read -r f; do
                [[ -f $f && ! -L $f ]] || continue
                rel=$under$pkg$f
                mkdir -p "$dir/$(dirname "$rel")"
                cp "$f" "$dir/$rel"
            done < <(dpkg -L "$pkg")
        done
    fi
    bytes=$(du -sb "$dir" | cut -f1)
    mapfile -t base_files < <(cd "$dir" && find . -type f | LC_ALL=C sort)
    if ((${#base_files[@]} == 0 || bytes == 0)); then
        echo "$BENCH_NAME: no files collected from: $BENCH_PACKAGES" >&2
        exit 1
    fi
    while ((bytes < BENCH_MIN_MB * 1000 * 1000)); do
        copy=$((copy + 1))
        for f in "${base_files[@]}"; do
            cp "$dir/$f" "$dir/$f.copy$copy"
            bytes=$((bytes + $(stat -c %s "$dir/$f")))
            ((bytes >= BENCH_MIN_MB * 1000 * 1000)) && break
        done
    done
    if $normalise; then
        find "$dir" -type d -exec chmod 0755 {} +
        find "$dir" -type f -perm /111 -exec chmod 0755 {} +
        find "$dir" -type f ! -perm /111 -exec chmod 0644 {} +
    fi
    if $warm; then
        find "$dir" -type f -exec cat {} + >/dev/null
    fi
}

# bench_target_dir: prints cargo's target directory (CARGO_TARGET_DIR is honoured).
bench_target_dir() { echo "${CARGO_TARGET_DIR:-$REPO/target}"; }

# bench_build_bundle_examples: builds bundle's release examples once, before anything is timed;
# sets PACK_BIN and UNPACK_BIN.
bench_build_bundle_examples() {
    local target
    target=$(bench_target_dir)
    (cd "$REPO" && cargo build --quiet --release -p u7s-bundle --examples)
    PACK_BIN=$target/release/examples/pack
    UNPACK_BIN=$target/release/examples/unpack
}

# timed NAME CMD...: runs CMD under GNU time; appends its wall seconds to the array
# wall_NAME and its CPU seconds (user + system, children included) to cpu_NAME.
timed() {
    local name=$1
    shift
    /usr/bin/time -f '%e %U %S' -o "$work/.timed" "$@"
    local e u s
    read -r e u s <"$work/.timed"
    eval "wall_$name+=($e)"
    eval "cpu_$name+=($(echo "$u + $s" | bc -l))"
}

# median NAME: the median wall seconds of NAME's runs (the lower middle one for an even count).
median() {
    local -n __runs=wall_$1
    printf '%s\n' "${__runs[@]}" | sort -g | sed -n "$(((${#__runs[@]} + 1) / 2))p"
}

# median_cpu NAME: the CPU seconds of the run whose wall time is the median.
median_cpu() {
    local -n __w=wall_$1 __c=cpu_$1
    local m i
    m=$(median "$1")
    for i in "${!__w[@]}"; do
        [[ ${__w[$i]} == "$m" ]] && printf '%.2f\n' "${__c[$i]}" && return
    done
}

# all_runs NAME: every wall time of NAME, in run order.
all_runs() {
    local -n __a=wall_$1
    echo "${__a[*]}"
}

# load: the 1, 5 and 15 minute load averages.
load() { cut -d' ' -f1-3 /proc/loadavg; }

# Options that make GNU tar's output independent of who packs and when.
tar_det=(--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0)
