#!/usr/bin/env bash
# The write-then-exec race (ETXTBSY, "Text file busy") under load: runs the test binaries whose
# tests write a file and then execute it ROUNDS times each, while a busy loop per core keeps the
# machine loaded, and counts the runs that failed and the runs whose output mentions "Text file
# busy". Then the race itself, with and without testkit's mechanism (example etxtbsy_race).
# As root with U7S_TEST_USER set (scripts/ci-setup.sh), the tests that need the test user run too.
#
#   scripts/stress-exec.sh [ROUNDS]      (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-30}

# name of the test target : test-name filter (empty: every test of it), per package.
targets=(
  "u7s-testkit:lib:exec::"
  "u7s-builder:lib:forklock::"
  "u7s-runtime:lib:inspect::"
  "u7s-doctor:live:"
  "u7s-installer:purge:"
  "u7s-installer:flow:"
)

packages=$(printf '%s\n' "${targets[@]}" | cut -d: -f1 | sort -u | sed 's/^/-p /' | tr '\n' ' ')
# shellcheck disable=SC2086
listing=$(cargo test --no-run --message-format=json $packages 2>/dev/null)
binary_of() { # package target-name -> "test-binary<TAB>package-folder"
  python3 -c '
import json, os, sys
pkg, name = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    t = m["target"]
    if "#" + pkg + "@" not in m["package_id"]:
        continue
    if (name == "lib" and "lib" in t["kind"]) or (t["name"] == name and "test" in t["kind"]):
        print(m["executable"] + "\t" + os.path.dirname(m["manifest_path"]))
        break
' "$1" "$2" <<<"$listing"
}

busy_pids=()
stop_busy() { for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap stop_busy EXIT
for _ in $(seq "$(nproc)"); do
  nice -n 10 bash -c 'while :; do :; done' &
  busy_pids+=($!)
done

work=$(mktemp -d)
trap 'stop_busy; rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  IFS=: read -r pkg name filter <<<"$t"
  IFS=$'\t' read -r bin dir < <(binary_of "$pkg" "$name") || true
  if [ -z "${bin:-}" ]; then
    echo "stress-exec: no test binary $pkg/$name" >&2
    exit 1
  fi
  failed=0 busy=0
  for i in $(seq "$rounds"); do
    if ! (cd "$dir" && "$bin" --include-ignored ${filter:+"$filter"}) >"$work/out" 2>&1; then
      failed=$((failed + 1))
      cp "$work/out" "$work/failed-$pkg-$name-$i"
    fi
    if grep -q 'Text file busy' "$work/out"; then busy=$((busy + 1)); fi
  done
  printf '%-32s %4d runs  %4d failed  %4d with "Text file busy"\n' "$pkg/$name ${filter}" "$rounds" "$failed" "$busy"
  for f in "$work"/failed-"$pkg"-"$name"-*; do
    [ -e "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
  done
done
cargo run -q -p u7s-testkit --example etxtbsy_race -- 500
