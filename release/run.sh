#!/usr/bin/env bash
# Starts usernetes in the foreground (Ctrl-C stops it), like the original run.sh.
#   ./run.sh [default|default-crio|default-containerd|default-docker-nokube] [u7s up options]
# default (alias default-docker): Kubernetes on rootless Docker (through cri-dockerd);
# default-crio and default-containerd: Kubernetes on CRI-O or containerd;
# default-docker-nokube: Docker alone. Options alone (./run.sh --publish ...) mean the default.
# Then: ./kubectl.sh get nodes, ./dockercli.sh info. Background: bin/u7s up --detach; bin/u7s down.
set -euo pipefail
u7s="$(dirname "$(readlink -f "$0")")/bin/u7s"
mode="${1:-default}"
case "$mode" in
-h | --help) ;;
-*) mode=default ;;
*) if [ $# -gt 0 ]; then shift; fi ;;
esac
case "$mode" in
default | default-docker) exec "$u7s" up --cri docker "$@" ;;
default-crio) exec "$u7s" up --cri crio "$@" ;;
default-containerd) exec "$u7s" up --cri containerd "$@" ;;
default-docker-nokube) exec "$u7s" up --cri docker --no-kube "$@" ;;
-h | --help | help)
	sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
	;;
*)
	echo "run.sh: unknown mode $mode (default, default-docker, default-crio, default-containerd, default-docker-nokube)" >&2
	exit 2
	;;
esac
