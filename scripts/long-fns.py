#!/usr/bin/env python3
"""Lists functions in src/ longer than N lines (default 80): a line starting a `fn` and the
first line after it that closes the brace at the same indentation."""
import re, sys, pathlib
limit = int(sys.argv[1]) if len(sys.argv) > 1 else 80
out = []
for p in pathlib.Path("src").rglob("*.rs"):
    lines = p.read_text().split("\n")
    in_test = False
    for i, l in enumerate(lines):
        if l.startswith("#[cfg(test)]"):
            break
        m = re.match(r"^(\s*)(pub(\([a-z]+\))? )?(async )?fn \w+", l)
        if not m:
            continue
        ind = m.group(1)
        for j in range(i + 1, len(lines)):
            if lines[j] == ind + "}":
                if j - i > limit:
                    out.append((j - i, f"{p}:{i+1} {l.strip()[:60]}"))
                break
for n, w in sorted(out, reverse=True):
    print(n, w)
