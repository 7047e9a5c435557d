#!/usr/bin/env bash
# Stops usernetes and removes its runtime state and data (images, containers, etcd), including
# files owned by sub-UIDs, like the original cleanup.sh. It lists what goes and asks first, as
# `u7s reset` does (--yes: do not ask; needed without a terminal). Installed versions and the
# config stay (add --config to remove $XDG_CONFIG_HOME/usernetes too).
#   ./cleanup.sh [--yes] [--config]
set -euo pipefail
"$(dirname "$(readlink -f "$0")")/bin/u7s" reset "$@"
echo "You may also want to remove manually: ~/.config/docker ~/.docker ~/.kube"
