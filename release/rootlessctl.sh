#!/usr/bin/env bash
# RootlessKit's control commands for the session, like the original rootlessctl.sh:
#   ./rootlessctl.sh add-ports 127.0.0.1:8080:80/tcp   (u7s ports add; 127.0.0.1 unless an IP is given)
#   ./rootlessctl.sh list-ports [--json]               (u7s ports ls)
#   ./rootlessctl.sh remove-ports ID...                (u7s ports rm)
# Anything else goes to the release's rootlessctl with the session's API socket.
set -euo pipefail
base="$(dirname "$(readlink -f "$0")")"
u7s="$base/bin/u7s"
cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
add-ports) exec "$u7s" ports add "$@" ;;
list-ports) exec "$u7s" ports ls "$@" ;;
remove-ports) exec "$u7s" ports rm "$@" ;;
*)
	rootlessctl="$base/bin/rootlessctl"
	[ -x "$rootlessctl" ] || rootlessctl=rootlessctl
	: "${XDG_RUNTIME_DIR:?XDG_RUNTIME_DIR must be set}"
	exec "$rootlessctl" --socket "$XDG_RUNTIME_DIR/usernetes/rootlesskit/api.sock" ${cmd:+"$cmd"} "$@"
	;;
esac
