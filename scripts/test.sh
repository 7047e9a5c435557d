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
export U7S_TEST_USER U7S_TEST_USER2
# Go (the components are built from their pins): /usr/local/go when it is not on PATH already.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || export PATH="/usr/local/go/bin:$PATH"
command -v go >/dev/null 2>&1 || { echo "test.sh: no go on PATH (Go >= 1.26 builds the pinned components)" >&2; exit 1; }

cargo fmt --all --check
cargo build --workspace --all-targets --locked
# The components the end-to-end tests run, built from their pins (recipes/) on the host into the
# u7s-build cache; a warm cache (~/.cache/usernetes, Go's caches) makes this a no-op.
scripts/ci-components.sh --u7s-build target/debug/u7s-build
# kube-bench, the CIS benchmark runner of e2e/tests/cis.rs: a test tool, built from its pin
# (e2e/tools/kube-bench.toml, never in a release) into the same cache; its output folder
# (bin/kube-bench, cfg/) goes to the test.
kube_bench_dir=$(target/debug/u7s-build build --recipes e2e/tools --executor host --only kube-bench --json |
  sed -n 's/^ *"build_dir": "\(.*\)",\{0,1\}$/\1/p')
[ -f "$kube_bench_dir/out/bin/kube-bench" ] || { echo "test.sh: no kube-bench build in '$kube_bench_dir'" >&2; exit 1; }
export U7S_E2E_KUBE_BENCH="$kube_bench_dir/out"
# The release pipeline (.github/workflows/release.yml runs the same script) on the components a
# Kubernetes node runs (packed from the builds above plus containerd and Kubernetes, built here
# from their pins when not cached). The archive is then unpacked for the test user: the
# Kubernetes end-to-end tests (e2e/tests/kube.rs; kube_cris.rs: Docker + cri-dockerd, CRI-O +
# conmon; cluster.rs: three hosts with flannel; compose.rs: the release in Docker) run the
# binaries of this real release.
kube_release=$(mktemp -d)
results=$(mktemp)
trap 'rm -rf "$results" "$kube_release"' EXIT
# Signed with a throwaway key (minisign), the signature checked by the pipeline.
mkdir -m 0700 "$kube_release/keys"
minisign -G -W -p "$kube_release/keys/ci.pub" -s "$kube_release/keys/ci.key" >/dev/null
scripts/release.sh --u7s-build target/debug/u7s-build --executor host --out "$kube_release" \
  --sign-key "$kube_release/keys/ci.key" --sign-pub "$kube_release/keys/ci.pub" \
  --only rootlesskit,libslirp,slirp4netns,runc,etcd,cni-plugins,containerd,kubernetes,coredns,moby,docker-cli,tini,cri-dockerd,crio,conmon,flannel,u7s \
  --release-version 0.0.0-ci --json >"$kube_release/pipeline.json"
tar -xjf "$kube_release/usernetes-x86_64.tbz" -C "$kube_release"
chmod 0755 "$kube_release"
export U7S_E2E_KUBE_BIN="$kube_release/usernetes/bin"
# usernetes in Docker (e2e/tests/compose.rs): the image is built from this release (its u7s
# included) on a Debian base that debootstrap makes from the machine's mirror (no registry).
export U7S_E2E_RELEASE_DIR="$kube_release"
[ "$(id -u)" -ne 0 ] || scripts/compose-base.sh usernetes-base:bookworm
export U7S_E2E_COMPOSE_BASE=usernetes-base:bookworm
cargo test --workspace --locked --no-fail-fast -- --include-ignored 2>&1 | tee "$results"
cargo clippy --workspace --all-targets --locked -- -D warnings
# One closing line over every test binary of the run. No test skips itself by returning early:
# a test that needs the machine prepared is #[ignore = "needs …"] and fails naming what is
# missing when run (u7s-testkit's prereq module). "skipped" counts the ignored tests that did not
# run; with --include-ignored above, every one runs, so anything but 0 means a test was skipped.
awk '/^test result:/ { p += $4; f += $6; s += $8 }
     END { printf "tests: %d passed, %d failed, %d skipped (ignored, not run)\n", p, f, s }' "$results"
