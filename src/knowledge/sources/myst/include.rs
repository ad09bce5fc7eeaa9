//! Expansion of ```` ```{include} ```` (with `:start-after:` / `:end-before:`) and
//! ```` ```{literalinclude} ````, before anything else is rendered.

use super::MystError;
use super::fence::{FenceTracker, LineKind};
use super::tree::DocTree;

const MAX_DEPTH: usize = 8;
/// Largest page once its includes are expanded (an include fan-out cannot blow up memory).
pub const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// Directive options (`:start-after: <!-- x -->`) at the start of a directive body.
pub fn split_options<S: AsRef<str>>(body: &[S]) -> (Vec<(String, String)>, usize) {
    let mut opts = Vec::new();
    let mut i = 0;
    if body.first().is_some_and(|l| l.as_ref().trim() == "---") {
        // YAML-style options block.
        let end = body[1..].iter().position(|l| l.as_ref().trim() == "---");
        if let Some(end) = end {
            for l in &body[1..=end] {
                if let Some((k, v)) = l.as_ref().split_once(':') {
                    opts.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            return (opts, end + 2);
        }
    }
    while i < body.len() {
        let t = body[i].as_ref().trim();
        let Some(rest) = t.strip_prefix(':') else {
            break;
        };
        let Some(end) = rest.find(':') else { break };
        let key = &rest[..end];
        if key.is_empty() || key.contains(' ') {
            break;
        }
        opts.push((key.to_string(), rest[end + 1..].trim().to_string()));
        i += 1;
    }
    (opts, i)
}

fn option<'a>(opts: &'a [(String, String)], key: &str) -> Option<&'a str> {
    opts.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Expands the includes of `text`, which is the content of the `doc/`-relative file `file`.
pub fn expand(tree: &DocTree, file: &str, text: &str) -> Result<String, MystError> {
    expand_at(tree, file, text, 0)
}

fn expand_at(tree: &DocTree, file: &str, text: &str, depth: usize) -> Result<String, MystError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = String::with_capacity(text.len());
    let mut fences = FenceTracker::default();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let kind = fences.feed(line);
        let wanted = match &kind {
            LineKind::DirectiveOpen(f) => match f.directive() {
                Some((name @ ("include" | "literalinclude"), target)) => {
                    Some((f.clone(), name.to_string(), target.to_string()))
                }
                _ => None,
            },
            _ => None,
        };
        let Some((f, name, target)) = wanted else {
            // Text, code (includes shown inside it are examples) and other directives,
            // whose bodies are MyST and may hold includes themselves.
            out.push_str(line);
            out.push('\n');
            i += 1;
            continue;
        };
        let close = f.find_close(&lines, i);
        let body = &lines[i + 1..close.min(lines.len())];
        let (opts, _) = split_options(body);
        let included = include(tree, file, &name, &target, &opts, depth)?;
        let pad = " ".repeat(f.indent);
        for l in included.lines() {
            if !l.is_empty() {
                out.push_str(&pad);
            }
            out.push_str(l);
            out.push('\n');
        }
        if out.len() > MAX_EXPANDED_BYTES {
            return Err(MystError::BrokenInclude {
                file: file.to_string(),
                target: target.to_string(),
                detail: format!("the page expands to more than {MAX_EXPANDED_BYTES} bytes"),
            });
        }
        // The include's own closing fence is consumed here, not by the tracker.
        fences.leave_directive();
        i = close + 1;
    }
    Ok(out)
}

fn include(
    tree: &DocTree,
    file: &str,
    name: &str,
    target: &str,
    opts: &[(String, String)],
    depth: usize,
) -> Result<String, MystError> {
    let broken = |detail: String| MystError::BrokenInclude {
        file: file.to_string(),
        target: target.to_string(),
        detail,
    };
    if depth >= MAX_DEPTH {
        return Err(broken(format!(
            "includes nested deeper than {MAX_DEPTH} (a cycle?)"
        )));
    }
    let Some(path) = tree.resolve(file, target) else {
        if tree.repo_root.is_none() && tree.leaves_doc(file, target) {
            // Only doc/ is here (as in Debian's package docs): such includes cannot resolve.
            tracing::debug!("{file}: skipping include of {target} outside doc/");
            return Ok(String::new());
        }
        return Err(broken("file not found".into()));
    };
    let content = tree.read(&path).map_err(|e| broken(e.to_string()))?;
    let mut part = content.as_str();
    if let Some(start) = option(opts, "start-after") {
        let at = part
            .find(start)
            .ok_or_else(|| broken(format!("start-after marker {start:?} not found")))?;
        part = &part[at + start.len()..];
    }
    if let Some(end) = option(opts, "end-before") {
        let at = part
            .find(end)
            .ok_or_else(|| broken(format!("end-before marker {end:?} not found")))?;
        part = &part[..at];
    }
    if name == "literalinclude" {
        let lang = option(opts, "language").unwrap_or("");
        return Ok(format!("````{lang}\n{}\n````\n", part.trim_end()));
    }
    // The included text is MyST of its own file; its includes resolve relative to it.
    let included_rel = path
        .strip_prefix(&tree.doc_root)
        .map(|p| p.to_string_lossy().trim_end_matches(".gz").to_string())
        .unwrap_or_else(|_| file.to_string());
    expand_at(tree, &included_rel, part.trim_matches('\n'), depth + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> (tempfile::TempDir, DocTree) {
        let d = tempfile::tempdir().unwrap();
        let doc = d.path().join("doc");
        std::fs::create_dir_all(doc.join("reference")).unwrap();
        std::fs::write(doc.join("index.md"), "# I\n").unwrap();
        std::fs::write(
            doc.join("config_options.txt"),
            "<!-- config group a start -->\n```{config:option} limits.memory a\n:type: \"string\"\nMemory.\n```\n<!-- config group a end -->\n<!-- config group b start -->\nB\n<!-- config group b end -->\n",
        )
        .unwrap();
        std::fs::write(d.path().join("README.md"), "Repo readme.\n").unwrap();
        let t = DocTree::locate(d.path());
        (d, t)
    }

    #[test]
    fn includes_a_marked_part_with_the_directive_indentation() {
        let (_d, t) = tree();
        let src = "# R\n\n- item\n  ```{include} ../config_options.txt\n      :start-after: <!-- config group a start -->\n      :end-before: <!-- config group a end -->\n  ```\nafter\n";
        let out = expand(&t, "reference/r.md", src).unwrap();
        assert!(
            out.contains("  ```{config:option} limits.memory a\n  :type: \"string\"\n  Memory.\n"),
            "{out}"
        );
        assert!(!out.contains("group b"));
        assert!(out.ends_with("after\n"));
    }

    #[test]
    fn includes_outside_doc_come_from_the_repository_root() {
        let (_d, t) = tree();
        let out = expand(&t, "index.md", "```{include} ../README.md\n```\n").unwrap();
        assert_eq!(out, "Repo readme.\n");
    }

    #[test]
    fn includes_after_a_closed_directive_are_expanded() {
        let (_d, t) = tree();
        let src = "```{note}\nx\n```\n```{include} ../README.md\n```\n````\n```{include} nope.md\n```\n````\n";
        let out = expand(&t, "index.md", src).unwrap();
        assert!(
            out.starts_with("```{note}\nx\n```\nRepo readme.\n````\n```{include} nope.md"),
            "{out}"
        );
    }

    #[test]
    fn includes_inside_code_blocks_are_left_alone() {
        let (_d, t) = tree();
        let src = "````md\n```{include} missing.md\n```\n````\n";
        assert_eq!(expand(&t, "index.md", src).unwrap(), src);
    }

    #[test]
    fn broken_includes_name_the_file_and_the_cause() {
        let (_d, t) = tree();
        let e = expand(&t, "howto/x.md", "```{include} ../nope.md\n```\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("howto/x.md") && e.contains("../nope.md") && e.contains("not found"),
            "{e}"
        );
        let e = expand(
            &t,
            "index.md",
            "```{include} config_options.txt\n:start-after: <!-- zzz -->\n```\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("zzz"), "{e}");
    }

    #[test]
    fn includes_outside_doc_are_skipped_when_only_doc_is_present() {
        let (d, _) = tree();
        let only_doc = DocTree::locate(&d.path().join("doc"));
        std::fs::remove_file(d.path().join("README.md")).unwrap();
        let only_doc = DocTree {
            repo_root: None,
            ..only_doc
        };
        assert_eq!(
            expand(
                &only_doc,
                "index.md",
                "a\n```{include} ../README.md\n```\nb\n"
            )
            .unwrap(),
            "a\nb\n"
        );
        assert!(expand(&only_doc, "index.md", "```{include} missing.md\n```\n").is_err());
    }

    #[test]
    fn include_cycles_are_stopped() {
        let (d, t) = tree();
        std::fs::write(d.path().join("doc/loop.md"), "```{include} loop.md\n```\n").unwrap();
        let e = expand(&t, "loop.md", "```{include} loop.md\n```\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cycle"), "{e}");
    }
}
