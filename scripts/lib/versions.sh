# shellcheck shell=bash
# Which binaries each component ships and how each one says its version: the check that every
# binary of a release reports its component's pinned version (scripts/release.sh, step 4).
# One home for that table; a component missing here ships no binary that can say a version
# (libslirp is linked into slirp4netns; pinns has no version flag).

# versions_binaries COMPONENT: the binaries (paths under usernetes/bin/) it ships.
versions_binaries() {
  case "$1" in
    rootlesskit) echo "rootlesskit rootlessctl" ;;
    slirp4netns) echo slirp4netns ;;
    moby) echo "dockerd docker-proxy" ;;
    docker-cli) echo docker ;;
    tini) echo docker-init ;;
    containerd) echo "containerd ctr containerd-shim-runc-v2" ;;
    runc) echo runc ;;
    etcd) echo "etcd etcdctl" ;;
    cni-plugins) echo "cni/bridge cni/host-local cni/loopback cni/portmap" ;;
    flannel) echo flanneld ;;
    cri-dockerd) echo cri-dockerd ;;
    crio) echo crio ;;
    conmon) echo conmon ;;
    socat) echo socat ;;
    fuse-overlayfs) echo fuse-overlayfs ;;
    kubernetes) echo "kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl pause" ;;
    u7s) echo u7s ;;
    *) ;;
  esac
}

# version_check PATH BIN VERSION: runs the binary's version command, prints its output, and
# succeeds when VERSION (a leading "v" dropped) appears in it as a whole version number.
version_check() {
  local path=$1 bin=$2 want=${3#v} out
  case "$bin" in
    etcdctl) out=$("$path" version 2>&1) ;;
    kubectl) out=$("$path" version --client 2>&1) ;;
    containerd-shim-runc-v2 | pause) out=$("$path" -v 2>&1) ;;
    socat) out=$("$path" -V 2>&1) ;;
    cni/*) out=$("$path" --version 2>&1 </dev/null) ;;
    *) out=$("$path" --version 2>&1) ;;
  esac
  echo "$out" | head -3 | tr '\n' ' '
  local re
  re="(^|[^0-9.])$(printf '%s' "$want" | sed 's/[.+]/\\&/g')([^0-9]|$)"
  grep -Eq "$re" <<<"$out"
}
