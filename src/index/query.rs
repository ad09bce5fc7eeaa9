//! Turns an admin's question into a tantivy query.
//!
//! - every content word is searched in the heading, breadcrumb, title, prose and code, with
//!   field boosts;
//! - configuration keys (`cluster.offline_threshold`) match the keys a section defines exactly;
//! - adjacent words also match as phrases, and pasted error messages or quoted text as a
//!   whole phrase;
//! - domain synonyms add what the docs call the thing ("node" → "cluster member").

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};

use super::schema::{Fields, prose_terms};
use super::synonyms::SYNONYMS;

/// Retrieval features, each switchable so that `make eval` can measure it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// Field boosts (otherwise all fields weigh the same).
    pub boosts: bool,
    /// Domain synonyms.
    pub synonyms: bool,
    /// Phrase matching of adjacent words and pasted messages.
    pub phrases: bool,
    /// Exact matching of configuration keys.
    pub keys: bool,
}

impl Features {
    /// Everything on.
    pub const ALL: Features = Features {
        boosts: true,
        synonyms: true,
        phrases: true,
        keys: true,
    };
    /// Plain BM25 over all fields.
    pub const NONE: Features = Features {
        boosts: false,
        synonyms: false,
        phrases: false,
        keys: false,
    };
}

impl Default for Features {
    fn default() -> Self {
        Features::ALL
    }
}

/// Words that carry no meaning in a question.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "on", "for", "with", "how", "do", "doe",
    "does", "i", "my", "me", "we", "our", "you", "your", "can", "could", "should", "would", "what",
    "which", "is", "are", "be", "been", "it", "its", "this", "that", "these", "those", "there",
    "where", "when", "why", "from", "by", "as", "at", "into", "about", "so", "if", "any", "some",
    "all", "just", "now", "get", "got", "want", "need", "instead", "than", "then", "also", "way",
    "possibl", "possible", "there", "thing", "anymor", "any more", "after", "befor", "still",
    "again", "has", "have", "had", "was", "were", "will", "not", "no", "yes", "but", "them",
    "they", "it'", "s", "t", "let", "make",
];

static KEY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z][a-z0-9_-]*(?:\.[a-z0-9_*-]+)+\b").expect("static regex")
});
static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#""([^"]{3,})""#).expect("static regex"));

fn is_stop(t: &str) -> bool {
    STOP_WORDS.contains(&t)
}

/// Configuration keys named in a question, lowercased (`limits.memory`).
pub fn keys_in(question: &str) -> Vec<String> {
    KEY_RE
        .find_iter(question)
        .map(|m| m.as_str().to_ascii_lowercase())
        .filter(|k| k.chars().any(|c| c.is_ascii_alphabetic()) && !k.ends_with(".md"))
        .collect()
}

struct Weights {
    heading: f32,
    section: f32,
    title: f32,
    body: f32,
    code: f32,
}

impl Weights {
    fn of(f: Features) -> Weights {
        if f.boosts {
            Weights {
                heading: 2.5,
                section: 1.2,
                title: 1.5,
                body: 1.0,
                code: 0.6,
            }
        } else {
            Weights {
                heading: 1.0,
                section: 1.0,
                title: 1.0,
                body: 1.0,
                code: 1.0,
            }
        }
    }
}

fn term_in_fields(
    fields: &Fields,
    w: &Weights,
    term: &str,
    weight: f32,
) -> Vec<(Occur, Box<dyn Query>)> {
    let mut out: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, b) in [
        (fields.heading, w.heading),
        (fields.section, w.section),
        (fields.title, w.title),
        (fields.body, w.body),
        (fields.code, w.code),
    ] {
        let q = TermQuery::new(
            Term::from_field_text(field, term),
            IndexRecordOption::WithFreqs,
        );
        out.push((
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(q), b * weight)),
        ));
    }
    out
}

fn phrase(
    field: Field,
    terms: &[String],
    slop: u32,
    boost: f32,
) -> Option<(Occur, Box<dyn Query>)> {
    if terms.len() < 2 {
        return None;
    }
    let mut q = PhraseQuery::new(
        terms
            .iter()
            .map(|t| Term::from_field_text(field, t))
            .collect(),
    );
    q.set_slop(slop);
    Some((Occur::Should, Box::new(BoostQuery::new(Box::new(q), boost))))
}

/// Builds the query for `question`.
pub fn build(fields: &Fields, question: &str, features: Features) -> Box<dyn Query> {
    let w = Weights::of(features);
    let text = crate::sources::site::extract::normalize_quotes(question);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();

    // Configuration keys: exact match on the keys a section defines, and as a phrase in prose.
    let keys = keys_in(&text);
    if features.keys {
        for k in &keys {
            let q = TermQuery::new(
                Term::from_field_text(fields.keys, k),
                IndexRecordOption::Basic,
            );
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 6.0))));
            let kt = prose_terms(k);
            clauses.extend(phrase(fields.body, &kt, 0, 2.0));
            clauses.extend(phrase(fields.heading, &kt, 0, 3.0));
        }
    }

    // Content words.
    let all: Vec<String> = prose_terms(&text);
    let content: Vec<String> = all.iter().filter(|t| !is_stop(t)).cloned().collect();
    let mut seen = HashSet::new();
    for t in &content {
        if seen.insert(t.clone()) {
            clauses.extend(term_in_fields(fields, &w, t, 1.0));
        }
    }

    if features.phrases {
        // Adjacent content words, allowing one stop word between them.
        for pair in content.windows(2) {
            clauses.extend(phrase(fields.body, pair, 1, 0.8));
            clauses.extend(phrase(fields.heading, pair, 1, 1.5));
        }
        // Quoted text and pasted messages: the whole run of words.
        for c in QUOTED.captures_iter(&text) {
            clauses.extend(phrase(fields.body, &prose_terms(&c[1]), 0, 3.0));
        }
        if all.len() >= 6 && looks_pasted(&text) {
            clauses.extend(phrase(fields.body, &all, 2, 2.0));
        }
    }

    if features.synonyms {
        let lower = text.to_lowercase();
        let words: HashSet<&str> = lower
            .split(|c: char| !c.is_alphanumeric() && c != '-' && c != '.')
            .collect();
        for (said, written) in SYNONYMS {
            if !words.contains(said) {
                continue;
            }
            for alt in *written {
                let terms = prose_terms(alt);
                if alt.contains('.') && features.keys {
                    let q = TermQuery::new(
                        Term::from_field_text(fields.keys, alt),
                        IndexRecordOption::Basic,
                    );
                    clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 1.5))));
                } else if terms.len() == 1 {
                    if !seen.contains(&terms[0]) {
                        clauses.extend(term_in_fields(fields, &w, &terms[0], 0.4));
                    }
                } else {
                    clauses.extend(phrase(fields.body, &terms, 0, 0.6));
                    clauses.extend(phrase(fields.heading, &terms, 0, 1.0));
                }
            }
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

/// An error message or log line rather than a question.
fn looks_pasted(text: &str) -> bool {
    let t = text.trim();
    !t.ends_with('?') || t.contains("Error") || t.contains("error:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_but_not_versions_or_file_names() {
        assert_eq!(
            keys_in("set cluster.offline_threshold to 30"),
            vec!["cluster.offline_threshold"]
        );
        assert_eq!(
            keys_in("Limits.Memory and user.user-data"),
            vec!["limits.memory", "user.user-data"]
        );
        assert!(keys_in("upgrade to 6.0.4").is_empty());
        assert!(keys_in("see cluster_manage.md").is_empty());
    }
}
