#!/usr/bin/env bash
# Stops usernetes and removes its runtime state and data (images, containers, etcd), including
# files owned by sub-UIDs, like the original cleanup.sh. Installed versions and the config stay
# (add --config to remove $XDG_CONFIG_HOME/usernetes too).
set -euo pipefail
"$(dirname "$(readlink -f "$0")")/bin/u7s" reset --yes "$@"
echo "You may also want to remove manually: ~/.config/docker ~/.docker ~/.kube"
