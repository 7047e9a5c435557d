#!/usr/bin/env bash
# kubectl against the session, with the admin kubeconfig (like the original kubectl.sh).
exec "$(dirname "$(readlink -f "$0")")/bin/u7s" kubectl "$@"
