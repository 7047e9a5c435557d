#!/usr/bin/env bash
# The test command of the README: sets the machine up (as root: packages, test user, dockerd),
# then runs formatting, the whole test suite (unit, integration, end-to-end as the unprivileged
# test user) and clippy, sharing one cargo build.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ]; then
  eval "$(scripts/ci-setup.sh)"
elif [ -z "${U7S_TEST_USER:-}" ]; then
  echo "test.sh: run as root (sudo scripts/test.sh) so the end-to-end tests get their unprivileged user," >&2
  echo "         or set U7S_TEST_USER to a prepared user (see scripts/ci-setup.sh)." >&2
  exit 1
fi
export U7S_TEST_USER

cargo fmt --all --check
cargo build --workspace --all-targets --locked
results=$(mktemp)
trap 'rm -f "$results"' EXIT
cargo test --workspace --locked --no-fail-fast -- --include-ignored 2>&1 | tee "$results"
cargo clippy --workspace --all-targets --locked -- -D warnings
# One closing line over every test binary of the run. No test skips itself by returning early:
# a test that needs the machine prepared is #[ignore = "needs …"] and fails naming what is
# missing when run (u7s-testkit's prereq module). "skipped" counts the ignored tests that did not
# run; with --include-ignored above, every one runs, so anything but 0 means a test was skipped.
awk '/^test result:/ { p += $4; f += $6; s += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped (ignored, not run)\n", p, f, s }' "$results"
