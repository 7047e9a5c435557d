#!/usr/bin/env bash
# Benchmark: u7s-doctor's full run (every check plus the live probes: a user namespace mapped
# through newuidmap/newgidmap, tmpfs + overlay mounts and a TAP device inside it) beside the
# anchor, Docker's `dockerd-rootless-setuptool.sh check` (14 checks, no namespace), both run as
# the unprivileged test user. Uses hyperfine when installed, else a date +%s%N loop.
#
#   sudo scripts/bench-doctor.sh            # U7S_TEST_USER (default u7stest), RUNS (default 50)
#   DOCTOR_BIN=path/to/u7s-doctor sudo -E scripts/bench-doctor.sh   # skip the release build
set -euo pipefail
cd "$(dirname "$0")/.."

user=${U7S_TEST_USER:-u7stest}
runs=${RUNS:-50}
anchor=${ANCHOR:-/usr/share/docker.io/contrib/dockerd-rootless-setuptool.sh}

if [ "$(id -u)" -ne 0 ]; then
  echo "bench-doctor: run as root: both tools run as $user through runuser" >&2
  exit 1
fi
id "$user" >/dev/null 2>&1 || { echo "bench-doctor: no user $user (see scripts/ci-setup.sh)" >&2; exit 1; }
[ -x "$anchor" ] || { echo "bench-doctor: anchor $anchor missing (apt-get install docker.io)" >&2; exit 1; }

if [ -z "${DOCTOR_BIN:-}" ]; then
  cargo build --release --locked -p u7s-doctor >&2
  DOCTOR_BIN=${CARGO_TARGET_DIR:-target}/release/u7s-doctor
fi

# The checkout may sit under a 0700 directory: give the user a world-readable copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 0755 "$work"
install -m 0755 "$DOCTOR_BIN" "$work/u7s-doctor"

uid=$(id -u "$user")
home=$(getent passwd "$user" | cut -d: -f6)
# A login-like environment for both tools; the anchor needs dockerd-rootless.sh on PATH.
envv=(env -i "HOME=$home" "USER=$user" "XDG_RUNTIME_DIR=/run/user/$uid"
  "PATH=$(dirname "$anchor"):/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
ours=(runuser -u "$user" -- "${envv[@]}" "$work/u7s-doctor" --for docker --json)
theirs=(runuser -u "$user" -- "${envv[@]}" "$anchor" check --force)
base=(runuser -u "$user" -- "${envv[@]}" true)

# Sanity: our run must include the live probes, and they must have passed.
report=$(cd "$work" && { "${ours[@]}" || true; })
nchecks=$(grep -c '"id":' <<<"$report" || true)
for probe in userns.create userns.map userns.mount storage.overlay_userns devices.tun_userns; do
  status=$(grep -A3 "\"id\": \"$probe\"" <<<"$report" | sed -n 's/.*"status": "\(.*\)".*/\1/p')
  if [ "$status" != pass ]; then
    echo "bench-doctor: live probe $probe did not pass ($status); the figures would not include it" >&2
    exit 1
  fi
done

q() { printf '%q ' "$@"; }
cd "$work"
if command -v hyperfine >/dev/null 2>&1; then
  hyperfine --warmup 3 --runs "$runs" -N -i \
    --export-json "$work/bench.json" \
    -n "runuser baseline" "$(q "${base[@]}")" \
    -n "u7s-doctor ($nchecks checks incl. 5 live probes)" "$(q "${ours[@]}")" \
    -n "dockerd-rootless-setuptool.sh check (14 checks)" "$(q "${theirs[@]}")" >&2
  echo "== bench-doctor (hyperfine, $runs runs, as $user) =="
  grep -E '"(command|mean|stddev|median|min)"' "$work/bench.json" |
    sed -E 's/^ *//; s/,$//' |
    awk -F': ' '/"command"/{name=$2; next} {gsub(/"/,"",$1); v[$1]=$2*1000}
      $1=="min"{printf "%-62s mean %6.1f ms  median %6.1f ms  stddev %5.1f ms  min %6.1f ms\n", name, v["mean"], v["median"], v["stddev"], v["min"]}'
else
  echo "== bench-doctor (date +%s%N loop, $runs runs, as $user; hyperfine not installed) =="
  measure() {
    local name=$1; shift
    local start end
    "$@" >/dev/null 2>&1 || true
    start=$(date +%s%N)
    for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1 || true; done
    end=$(date +%s%N)
    awk -v n="$name" -v t="$((end - start))" -v r="$runs" 'BEGIN{printf "%-62s mean %6.1f ms\n", n, t / r / 1e6}'
  }
  measure "runuser baseline" "${base[@]}"
  measure "u7s-doctor ($nchecks checks incl. 5 live probes)" "${ours[@]}"
  measure "dockerd-rootless-setuptool.sh check (14 checks)" "${theirs[@]}"
fi
