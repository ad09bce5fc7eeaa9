#!/usr/bin/env bash
# The import rules of the layout (README, "Layout"): each stage imports only what comes before
# it in the data's path. Fails naming the first import that breaks a rule.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
rule() { # rule NAME DIR PATTERN [ALLOWED_FILE_REGEX]
    local name=$1 dir=$2 pattern=$3 allowed=${4:-^$}
    local hits
    hits=$(grep -rnE "$pattern" "$dir" --include='*.rs' | grep -vE "$allowed" || true)
    if [ -n "$hits" ]; then
        echo "layout: $name" >&2
        echo "$hits" >&2
        fail=1
    fi
}
rule "util imports nothing of the crate" src/util 'crate::(knowledge|diagnosis|aichat|agent|cli|config|refresh)\b'
rule "knowledge imports only util" src/knowledge 'crate::(diagnosis|aichat|agent|cli|config|refresh)\b'
rule "diagnosis imports util (and knowledge only in doctor.rs, snapshot.rs)" src/diagnosis 'crate::(admin|aichat|agent|cli|config|refresh)\b|crate::knowledge\b' '^src/diagnosis/(doctor|snapshot)\.rs:'
rule "admin imports diagnosis and util only" src/admin 'crate::(knowledge|aichat|agent|cli|config|refresh)\b'
rule "the diagnosis path sends nothing but GET (changes go through admin::writer)" src/diagnosis '\.(post|put|patch|delete)\('
rule "aichat never imports the agent or diagnosis" src/aichat 'crate::(agent|diagnosis|cli|config|refresh)\b'
rule "the agent imports aichat::config only, not the CLI" src/agent 'crate::(cli|config|refresh)\b|crate::aichat::(rag|chunk|embed)\b'
rule "nothing imports the CLI" src 'crate::cli\b' '^src/(cli/|main\.rs)'
rule "the application layer imports diagnosis, knowledge and util (never the agent, admin, watch or the CLI)" src/app 'crate::(aichat|agent|admin|cli|config|refresh|watch)\b'
rule "watch imports app, diagnosis and util only (never the agent, admin or the CLI)" src/watch 'crate::(knowledge|aichat|agent|admin|cli|config|refresh)\b'
rule "nothing but the CLI imports watch" src 'crate::watch\b' '^src/(cli/|watch/|main\.rs)'
rule "every HTTP client is built by util::http::builder (it installs the TLS provider reqwest is built without)" src 'reqwest::(Client::(builder|new)\(|get\()|ClientBuilder::new\(' '^src/util/http\.rs:'
# No file in src/ over 500 lines.
while read -r n f; do
    if [ "$f" != total ] && [ "$n" -gt 500 ]; then
        echo "layout: $f has $n lines (at most 500)" >&2
        fail=1
    fi
done < <(find src -name '*.rs' -print0 | xargs -0 wc -l)
exit $fail
