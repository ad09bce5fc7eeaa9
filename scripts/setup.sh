#!/usr/bin/env bash
# Installs everything incus-ai's build, tests, eval and bench need on Debian 12 (or newer):
# Debian packages (Incus from bookworm-backports, busybox-static for the test image, tools),
# and the real AIChat 0.30.0 (cargo install, cached in ~/.cargo/bin).
#
# Usage: scripts/setup.sh [--no-aichat]        (idempotent; needs root for apt)
set -euo pipefail

log() { printf '[setup] %s\n' "$*" >&2; }
want_aichat=1
[ "${1:-}" = --no-aichat ] && want_aichat=0

need=()
[ -x /usr/libexec/incus/incusd ] || need+=(incus-base)
command -v incus >/dev/null || need+=(incus-client)
for tool in curl jq openssl python3; do command -v "$tool" >/dev/null || need+=("$tool"); done
[ -x /usr/bin/time ] || need+=(time)
command -v ip >/dev/null || need+=(iproute2)
command -v ss >/dev/null || need+=(iproute2)
command -v setsid >/dev/null || need+=(util-linux)
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then need+=(busybox-static); fi

if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "need root to install: ${need[*]}"; exit 1; }
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    pkgs=()
    if [ "$codename" = bookworm ]; then
        # Incus is not in Debian 12 main; the 6.0 LTS is in bookworm-backports. Pin only the
        # incus packages to backports (-t would drag systemd and others along).
        if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
            log "adding bookworm-backports to apt's sources"
            cat > /etc/apt/sources.list.d/bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
        fi
        for p in "${need[@]}"; do
            case "$p" in incus-*) pkgs+=("$p/bookworm-backports") ;; *) pkgs+=("$p") ;; esac
        done
    else
        pkgs=("${need[@]}")
    fi
    log "installing: ${pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi

if [ "$want_aichat" = 1 ]; then
    if ! command -v aichat >/dev/null || ! aichat --version 2>/dev/null | grep -q '^aichat 0\.30\.0$'; then
        log "building aichat 0.30.0 (about 5 minutes, once)"
        cargo install aichat --version 0.30.0 --locked -j "$(nproc)" >/dev/null
    fi
fi
log "ok: $(incus --version 2>/dev/null | sed 's/^/incus /') $(command -v aichat >/dev/null && aichat --version)"
