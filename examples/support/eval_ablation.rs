//! The ablation table of `make eval`: hybrid search with each stage turned off in turn, on every
//! set and both sources, so that a stage is kept only while it helps on sets it was not built
//! for.

use incus_ai::knowledge::index::{Features, Searcher};

/// One set of questions: its name and, per source, a scorer giving (recall@5, MRR@10).
pub struct Set<'a> {
    /// Short name (`dev`, `real`, `hard`).
    pub name: &'a str,
    /// Scores a configuration on this set with one searcher.
    pub score: &'a dyn Fn(&Searcher, Features) -> (f64, f64),
}

/// The stages, each as hybrid search without it.
fn stages() -> Vec<(&'static str, Features)> {
    let all = Features::ALL;
    vec![
        ("none (hybrid, all on)", all),
        (
            "heading weights",
            Features {
                boosts: false,
                ..all
            },
        ),
        (
            "page outline",
            Features {
                pages: false,
                ..all
            },
        ),
        (
            "page priors",
            Features {
                priors: false,
                ..all
            },
        ),
        ("key matching", Features { keys: false, ..all }),
        (
            "phrases",
            Features {
                phrases: false,
                ..all
            },
        ),
        (
            "synonyms",
            Features {
                synonyms: false,
                ..all
            },
        ),
        (
            "intent",
            Features {
                intent: false,
                ..all
            },
        ),
        (
            "coverage",
            Features {
                coverage: false,
                ..all
            },
        ),
        (
            "whole-page list",
            Features {
                page_text: false,
                ..all
            },
        ),
        (
            "dense half",
            Features {
                dense: false,
                ..all
            },
        ),
        (
            "BM25 half",
            Features {
                lexical: false,
                ..all
            },
        ),
        ("distinct pages", Features::PASSAGES),
    ]
}

/// Prints recall@5 / MRR@10 for every stage off, per set and source (`searchers`: name and
/// searcher, e.g. site and markdown).
pub fn print(sets: &[Set<'_>], searchers: &[(&str, &Searcher)]) {
    println!("\nablation: hybrid search with one stage off (recall@5 / MRR@10):");
    let mut head = format!("{:<22}", "stage off");
    for set in sets {
        for (source, _) in searchers {
            head.push_str(&format!(" {:>13}", format!("{} {source}", set.name)));
        }
    }
    println!("{head}");
    for (label, features) in stages() {
        let mut line = format!("{label:<22}");
        for set in sets {
            for (_, searcher) in searchers {
                let (r, m) = (set.score)(searcher, features);
                line.push_str(&format!(" {:>13}", format!("{r:.3}/{m:.3}")));
            }
        }
        println!("{line}");
    }
}
