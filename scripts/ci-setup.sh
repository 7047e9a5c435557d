#!/usr/bin/env bash
# Prepares a Debian/Ubuntu machine for the usernetes test suite. Needs root; idempotent.
#  - installs the packages the tests run for real (busybox, uidmap, iptables, bzip2 tools,
#    kubectl, a C toolchain, the rootful docker.io below) and the C libraries and tools the host
#    executor builds the pinned components with (scripts/ci-components.sh: RootlessKit,
#    slirp4netns, dockerd, containerd, runc, etcd, the CNI plugins and Kubernetes come from
#    their pins; Debian's docker.io and containerd serve only the rootful dockerd below);
#  - creates the unprivileged test user (default u7stest) with sub-UID/sub-GID ranges and a
#    runtime directory, lets it open /dev/net/tun, and adds it to the docker group; and a second
#    one (default u7stest2, its own ranges) for the test of two users' sessions on one host;
#  - adds the Rust target x86_64-unknown-linux-musl (the u7s recipe of CI's release);
#  - starts a rootful dockerd for the builder's container-executor test and usernetes in
#    Docker (compose/) when none answers.
# Prints `export` lines for the variables the tests read; scripts/test.sh evals them.
set -euo pipefail

user=${U7S_TEST_USER:-u7stest}
user2=${U7S_TEST_USER2:-u7stest2}
log() { echo "ci-setup: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
  echo "ci-setup: must run as root (it installs packages and creates the test user $user)" >&2
  exit 1
fi

packages=(
  uidmap docker.io containerd busybox-static iptables lbzip2 bzip2 fuse-overlayfs kmod iproute2 procps
  psmisc time git pkg-config libssl-dev openssl ca-certificates curl build-essential
  conntrack iputils-ping jq bc groff-base minisign
  # what the host executor needs to build the e2e components from their pins
  # (scripts/ci-components.sh; each recipe's needs.* names its own)
  libseccomp-dev libglib2.0-dev libcap-dev meson ninja-build autoconf automake libtool cmake
  musl-tools libfuse3-dev
  # usernetes in Docker (e2e/tests/compose.rs): the base image without a registry
  # (scripts/compose-base.sh) and the compose cluster
  debootstrap docker-compose
)
# A real kubectl reads the kubeconfigs the runtime writes: Debian's kubernetes-client, unless the
# machine already has a kubectl (another package owning /usr/bin/kubectl would conflict).
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The test users, their sub-ID ranges (not overlapping) and runtime directories.
make_user() { # NAME FIRST-SUB-ID
  if ! id "$1" >/dev/null 2>&1; then
    log "creating user $1"
    useradd --create-home --shell /bin/bash "$1"
  fi
  for f in /etc/subuid /etc/subgid; do
    grep -q "^$1:" "$f" 2>/dev/null || echo "$1:$2:65536" >>"$f"
  done
  install -d -o "$1" -g "$1" -m 0700 "/run/user/$(id -u "$1")"
}
make_user "$user" 100000
make_user "$user2" 165536

# /dev/net/tun: slirp4netns opens it inside the user namespace.
[ -e /dev/net/tun ] || { modprobe tun 2>/dev/null || true; }
if [ ! -e /dev/net/tun ]; then
  mkdir -p /dev/net && mknod /dev/net/tun c 10 200
fi
chmod 0666 /dev/net/tun

# Rootful dockerd for the container-executor test (the test user reaches it through the docker group).
getent group docker >/dev/null || groupadd docker
id -nG "$user" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$user"
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  (setsid dockerd --group docker >/var/log/u7s-ci-dockerd.log 2>&1 &)
  for _ in $(seq 1 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -20 /var/log/u7s-ci-dockerd.log >&2; log "dockerd did not start"; exit 1; }
fi

# The u7s recipe (this project's own binaries in the release, static) builds for musl.
if command -v rustup >/dev/null 2>&1 &&
  ! rustup target list --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  log "adding the Rust target x86_64-unknown-linux-musl"
  rustup target add x86_64-unknown-linux-musl >&2
fi

echo "export U7S_TEST_USER=$user"
echo "export U7S_TEST_USER2=$user2"
