#!/usr/bin/env bash
# The release's docker CLI against the session (DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock).
#   ./dockercli.sh run --rm -p 8080:80 nginx
exec "$(dirname "$(readlink -f "$0")")/bin/u7s" docker "$@"
