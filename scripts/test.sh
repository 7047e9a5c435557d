#!/usr/bin/env bash
# The test command of the README: sets the machine up (as root: packages, test user, dockerd),
# builds the components the end-to-end tests run from their pins (scripts/ci-components.sh),
# runs the release pipeline on a small selection (scripts/release.sh), then formatting, the
# whole test suite (unit, integration, end-to-end as the unprivileged test user) and clippy,
# sharing one cargo build.
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
# The components the end-to-end tests run, built from their pins (recipes/) on the host into the
# u7s-build cache; a warm cache (~/.cache/usernetes, Go's caches) makes this a no-op.
scripts/ci-components.sh --u7s-build target/debug/u7s-build
# The release pipeline (.github/workflows/release.yml runs the same script) on a small
# selection, packed from the builds above (containerd is built here: the e2e tests still run
# Debian's, see e2e/recipes/host-containerd.toml).
release_out=$(mktemp -d)
scripts/release.sh --u7s-build target/debug/u7s-build --executor host --out "$release_out" \
  --only rootlesskit,runc,etcd,cni-plugins,containerd --release-version 0.0.0-ci --json >"$release_out/pipeline.json"
rm -rf "$release_out"
results=$(mktemp)
trap 'rm -f "$results"' EXIT
cargo test --workspace --locked --no-fail-fast -- --include-ignored 2>&1 | tee "$results"
cargo clippy --workspace --all-targets --locked -- -D warnings
# One closing line over every test binary of the run.
awk '/^test result:/ { p += $4; f += $6; s += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$results"
