//! Markdown sources written in MyST (the Incus `doc/` folder): includes, substitutions,
//! `(label)=` targets, roles, admonitions, tabs and configuration options are understood,
//! and every page keeps its canonical URL on the published site.

pub mod fence;
pub mod include;
pub mod render;
pub mod tree;

use std::collections::HashMap;
use std::path::PathBuf;

use crate::knowledge::document::PageMeta;
use render::{Catalog, Renderer, scan_labels};
pub use tree::DocTree;

/// Errors reading a markdown docs tree. Each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MystError {
    /// A file that cannot be read.
    #[error("{path}: {detail}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// An include whose target or markers are missing.
    #[error("{file}: broken include of {target}: {detail}")]
    BrokenInclude {
        /// The including page, `doc/`-relative.
        file: String,
        /// The include path as written.
        target: String,
        /// Why.
        detail: String,
    },
    /// A folder without any markdown page.
    #[error(
        "{dir}: no markdown pages found (point --source at an Incus doc/ folder or source tree)"
    )]
    NoPages {
        /// The folder.
        dir: PathBuf,
    },
    /// Front matter that is not valid YAML.
    #[error("{file}: bad front matter: {detail}")]
    FrontMatter {
        /// The page.
        file: String,
        /// Why.
        detail: String,
    },
}

/// One rendered page.
#[derive(Debug, Clone)]
pub struct RenderedPage {
    /// `doc/`-relative path, e.g. `howto/cluster_manage.md`.
    pub doc_path: String,
    /// The normalized page (front matter included).
    pub markdown: String,
}

/// Pages the published site leaves out (Sphinx `exclude_patterns` of the Incus docs).
const EXCLUDED: &[&str] = &["README.md", "config_options_cheat_sheet.md"];

/// Canonical URL of a page: `howto/x.md` → `<base>howto/x/`, `index.md` → `<base>`.
pub fn canonical_url(base: &str, doc_path: &str) -> String {
    let base = if base.ends_with('/') {
        base.to_string()
    } else {
        format!("{base}/")
    };
    let stem = doc_path.trim_end_matches(".md");
    let stem = stem.strip_suffix("index").unwrap_or(stem);
    if stem.is_empty() || stem.ends_with('/') {
        format!("{base}{stem}")
    } else {
        format!("{base}{stem}/")
    }
}

struct FrontMatter {
    skip: bool,
    substitutions: HashMap<String, String>,
}

fn front_matter(file: &str, text: &str) -> Result<(FrontMatter, String), MystError> {
    let mut fm = FrontMatter {
        skip: false,
        substitutions: HashMap::new(),
    };
    let Some(rest) = text.strip_prefix("---\n") else {
        return Ok((fm, text.to_string()));
    };
    let Some(end) = rest
        .find("\n---\n")
        .or_else(|| rest.starts_with("---\n").then_some(0))
    else {
        return Ok((fm, text.to_string()));
    };
    let yaml = &rest[..end];
    let body = rest[end..]
        .trim_start_matches('\n')
        .trim_start_matches("---\n")
        .to_string();
    let value: serde_norway::Value =
        serde_norway::from_str(yaml).map_err(|e| MystError::FrontMatter {
            file: file.to_string(),
            detail: e.to_string(),
        })?;
    fm.skip = value
        .get("nosearch")
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    if let Some(subs) = value
        .get("myst")
        .and_then(|m| m.get("substitutions"))
        .and_then(|s| s.as_mapping())
    {
        for (k, v) in subs {
            if let (Some(k), Some(v)) = (k.as_str(), v.as_str()) {
                fm.substitutions.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok((fm, body))
}

fn global_substitutions(tree: &DocTree) -> Result<HashMap<String, String>, MystError> {
    let path = tree.doc_root.join("substitutions.yaml");
    if !path.exists() && !tree.doc_root.join("substitutions.yaml.gz").exists() {
        return Ok(HashMap::new());
    }
    let text = tree.read(&path)?;
    serde_norway::from_str::<HashMap<String, String>>(&text).map_err(|e| MystError::Read {
        path,
        detail: format!("bad YAML: {e}"),
    })
}

/// Every published page of a tree, and the files left out of it (with the reason).
#[derive(Debug, Default)]
pub struct RenderedTree {
    /// The pages.
    pub pages: Vec<RenderedPage>,
    /// `path: reason` of files not read (links out of the tree, FIFOs).
    pub skipped: Vec<String>,
}

/// Renders every published page of the tree.
pub fn render_tree(tree: &DocTree, canonical_base: &str) -> Result<RenderedTree, MystError> {
    let globals = global_substitutions(tree)?;
    let mut expanded = Vec::new();
    let walk = tree.pages()?;
    for doc_path in walk.files {
        if EXCLUDED.contains(&doc_path.as_str()) {
            continue;
        }
        let raw = tree.read_doc(&doc_path)?;
        let (fm, body) = front_matter(&doc_path, &raw)?;
        if fm.skip {
            continue;
        }
        let body = include::expand(tree, &doc_path, &body)?;
        expanded.push((doc_path, fm.substitutions, body));
    }
    if expanded.is_empty() {
        return Err(MystError::NoPages {
            dir: tree.doc_root.clone(),
        });
    }
    let mut catalog = Catalog::default();
    for (doc_path, _, body) in &expanded {
        let (title, labels) = scan_labels(body);
        if let Some(t) = title {
            catalog
                .pages
                .insert(doc_path.trim_end_matches(".md").to_string(), t);
        }
        catalog.labels.extend(labels);
    }
    let mut out = Vec::with_capacity(expanded.len());
    for (doc_path, page_subs, body) in expanded {
        let mut subs = globals.clone();
        subs.extend(page_subs);
        let mut r = Renderer::new(&catalog, &doc_path, &subs);
        let rendered = r.render(&body);
        let meta = PageMeta {
            title: r.title.clone().unwrap_or_else(|| doc_path.clone()),
            url: canonical_url(canonical_base, &doc_path),
            doc_path: Some(doc_path.clone()),
        };
        out.push(RenderedPage {
            markdown: format!("{}{}", meta.front_matter(), rendered.trim_start()),
            doc_path,
        });
    }
    Ok(RenderedTree {
        pages: out,
        skipped: walk.skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::document::Page;

    #[test]
    fn canonical_urls_follow_the_dirhtml_layout() {
        let b = "https://linuxcontainers.org/incus/docs/main/";
        assert_eq!(canonical_url(b, "index.md"), b);
        assert_eq!(
            canonical_url(b, "howto/cluster_manage.md"),
            format!("{b}howto/cluster_manage/")
        );
        assert_eq!(
            canonical_url(b, "reference/manpages/index.md"),
            format!("{b}reference/manpages/")
        );
    }

    #[test]
    fn renders_a_tree_with_cross_page_refs_and_skips_unpublished_pages() {
        let d = tempfile::tempdir().unwrap();
        let doc = d.path().join("doc");
        std::fs::create_dir_all(doc.join("howto")).unwrap();
        std::fs::write(
            doc.join("index.md"),
            "# Incus\n\nSee {ref}`cluster-manage`.\n",
        )
        .unwrap();
        std::fs::write(doc.join("README.md"), "# Readme\n\nnot published\n").unwrap();
        std::fs::write(
            doc.join("cheat.md"),
            "---\norphan: true\nnosearch: true\n---\n# Cheat\n\nx\n",
        )
        .unwrap();
        std::fs::write(
            doc.join("howto/cluster_manage.md"),
            "---\nmyst:\n  substitutions:\n    thing: \"members\"\n---\n(cluster-manage)=\n# How to manage a cluster\n\nManage {{thing}} and {{global}}.\n",
        )
        .unwrap();
        std::fs::write(doc.join("substitutions.yaml"), "{global: \"the world\"}\n").unwrap();
        let pages = render_tree(&DocTree::locate(&doc), "https://h/docs/")
            .unwrap()
            .pages;
        let paths: Vec<&str> = pages.iter().map(|p| p.doc_path.as_str()).collect();
        assert_eq!(paths, vec!["howto/cluster_manage.md", "index.md"]);
        let index = Page::parse(&pages[1].markdown);
        assert_eq!(index.meta.url, "https://h/docs/");
        assert_eq!(index.sections[0].text, "See How to manage a cluster.");
        let manage = Page::parse(&pages[0].markdown);
        assert_eq!(manage.meta.title, "How to manage a cluster");
        assert_eq!(manage.sections[0].text, "Manage members and the world.");
    }
}
