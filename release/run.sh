#!/usr/bin/env bash
# Starts usernetes in the foreground (Ctrl-C stops it), like the original run.sh.
#   ./run.sh [default|default-crio|default-containerd|default-docker-nokube] [u7s up options]
# Modes with Kubernetes arrive with the Kubernetes components; until then they say so.
# Background start and status: bin/u7s up --no-kube --detach; bin/u7s status; bin/u7s down.
set -euo pipefail
u7s="$(dirname "$(readlink -f "$0")")/bin/u7s"
mode="${1:-default}"
[ $# -gt 0 ] && shift
case "$mode" in
default-docker-nokube)
	exec "$u7s" up --cri docker --no-kube "$@"
	;;
default | default-crio | default-containerd)
	cri=docker
	case "$mode" in default-crio) cri=crio ;; default-containerd) cri=containerd ;; esac
	echo "run.sh: mode $mode runs Kubernetes, whose components arrive with the next usernetes release." >&2
	echo "        Available now: ./run.sh default-docker-nokube, or $u7s up --cri $cri --no-kube [--etcd]" >&2
	exit 1
	;;
-h | --help | help)
	sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	echo "run.sh: unknown mode $mode (default, default-crio, default-containerd, default-docker-nokube)" >&2
	exit 2
	;;
esac
