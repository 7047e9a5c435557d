#!/usr/bin/env bash
# kubectl against the session (Kubernetes arrives with the next usernetes release).
exec "$(dirname "$(readlink -f "$0")")/bin/u7s" kubectl "$@"
