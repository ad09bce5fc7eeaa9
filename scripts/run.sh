#!/usr/bin/env bash
# The main job (`make run`): mirror the docs and the site's notes, update the index, export
# the AIChat knowledge bases with the local embedding model, then make sure `incus-ai serve`
# answers, so `aichat --rag incus` and `aichat --rag incus-local` work right away.
#
# Usage: scripts/run.sh [BIN] [NOTES]     (defaults: target/release/incus-ai, no notes folder:
# the local collection then holds the installation snapshot and incus-ai's own notes folder)
# Serve is started as the systemd user unit when a user manager runs, else in the background
# (log and pid under $XDG_STATE_HOME/incus-ai/).
set -euo pipefail

BIN=${1:-target/release/incus-ai}
NOTES=${2:-}
log() { printf '[run] %s\n' "$*" >&2; }

local_args=()
[ -n "$NOTES" ] && local_args=(--local "$NOTES")
"$BIN" refresh "${local_args[@]}" --use-local-model

# AIChat also needs a chat model (the LLM is the admin's: Ollama, llama.cpp, OpenAI, ...).
aichat_config=${AICHAT_CONFIG_DIR:-${XDG_CONFIG_HOME:-$HOME/.config}/aichat}/config.yaml
if ! grep -q '^model:' "$aichat_config" 2>/dev/null; then
    log "AIChat has no chat model yet: add one to $aichat_config (model: CLIENT:MODEL, and its client)"
fi

if "$BIN" serve --check >/dev/null 2>&1; then
    log "$("$BIN" serve --check)"
    exit 0
fi

if systemctl --user show-environment >/dev/null 2>&1; then
    unit_dir=${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user
    mkdir -p "$unit_dir"
    sed "s|%h/.cargo/bin/incus-ai|$(realpath "$BIN")|" contrib/incus-ai-serve.service \
        > "$unit_dir/incus-ai-serve.service"
    systemctl --user daemon-reload
    systemctl --user enable --now incus-ai-serve.service
    log "started incus-ai-serve.service (systemd user unit)"
else
    state=${XDG_STATE_HOME:-$HOME/.local/state}/incus-ai
    mkdir -p "$state"
    setsid nohup "$BIN" serve >"$state/serve.log" 2>&1 < /dev/null &
    echo $! > "$state/serve.pid"
    log "started incus-ai serve in the background (pid $(cat "$state/serve.pid"), log $state/serve.log)"
fi

for _ in $(seq 1 50); do
    if "$BIN" serve --check >/dev/null 2>&1; then
        log "$("$BIN" serve --check); try: aichat --rag incus"
        exit 0
    fi
    sleep 0.2
done
log "incus-ai serve did not answer; see its log (or: journalctl --user -u incus-ai-serve)"
"$BIN" serve --check
