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
    /// Headings weigh more than prose (otherwise every word counts the same wherever it is).
    pub boosts: bool,
    /// A section's page as a whole also matching the question lifts the section.
    pub pages: bool,
    /// Page-type priors: the API changelog and generated man pages rarely answer admins.
    pub priors: bool,
    /// Domain synonyms.
    pub synonyms: bool,
    /// Phrase matching of adjacent words and pasted messages.
    pub phrases: bool,
    /// Exact matching of configuration keys.
    pub keys: bool,
    /// "How do I …" favours how-to guides, "which key …" favours configuration options.
    pub intent: bool,
    /// Sections containing more of the question's words rank higher.
    pub coverage: bool,
    /// Pages ranked by their whole text (the question's words scattered over a page's
    /// sections) as a third list of the fusion.
    pub page_text: bool,
    /// The BM25 ranking (off: dense alone, for measuring).
    pub lexical: bool,
    /// The dense ranking from the local embedding model, fused with BM25.
    pub dense: bool,
    /// The first places go to distinct pages: a page's other sections wait behind the other
    /// pages' best ones (off: two sections of a page before the other pages get their turn).
    pub distinct_pages: bool,
}

/// A question in LXD's words, in Incus's: `lxc` commands are `incus` commands, `lxd` is
/// `incus`, `lxdbr0` is `incusbr0`, `/var/snap/lxd/common/lxd` and `/var/lib/lxd` are
/// `/var/lib/incus`, the daemon's commands (`lxd init`, `lxd sql`, `lxd recover`) are
/// `incus admin` commands, `devlxd` is the guest API (`/dev/incus`, `security.guestapi`),
/// `lxd-agent` is `incus-agent` (and `lxd-p2c`, merged into it, `incus-migrate`), the snap's
/// `lxd.daemon` and `lxd.service`/`lxd.socket` are `incus.service`/`incus.socket`, `LXD_DIR`
/// and the other environment variables are `INCUS_*`, the client's `~/snap/lxd/common/config`
/// and `~/.config/lxc` are `~/.config/incus`. `lxd-to-incus`, `raw.lxc` and `lxc.*` keys stay
/// as they are.
pub fn modernize(question: &str) -> String {
    static RULES: std::sync::LazyLock<Vec<(regex::Regex, &'static str)>> =
        std::sync::LazyLock::new(|| {
            [
                (r"/var/snap/lxd/common/lxd|/var/lib/lxd", "/var/lib/incus"),
                // the client's configuration folder (the snap's and the deb's)
                (
                    r"(?i)\bsnap/lxd/common/config\b|\.config/lxc\b",
                    ".config/incus",
                ),
                // the daemon's units and its environment
                (r"(?i)\b(?:snap\.)?lxd\.daemon\b", "incus.service"),
                (r"(?i)\blxd\.(service|socket)\b", "incus.$1"),
                (r"(?i)\blxd_([a-z_]+)\b", "INCUS_$1"),
                // the daemon's own commands moved under `incus admin`
                (
                    r"(?i)\blxd (init|sql|recover|import|waitready|shutdown|cluster)\b",
                    "incus admin $1",
                ),
                // the guest API and its agent
                (r"(?i)\bsecurity\.devlxd\b", "security.guestapi"),
                (r"(?i)\bdevlxd\b|/dev/lxd\b", "/dev/incus"),
                (r"(?i)\blxd-p2c\b", "incus-migrate"),
                (r"(?i)\blxd-(agent|user|migrate|benchmark)\b", "incus-$1"),
                (r"(?i)\blxdbr(\d)", "incusbr$1"),
                (r#"(?i)(^|[\s`'"(\[$>])lxc(\s)"#, "${1}incus$2"),
                (r"(?i)(^|[^.\w/-])lxd([^\w.-]|$)", "${1}incus$2"),
            ]
            .into_iter()
            .map(|(p, r)| (regex::Regex::new(p).expect("static regex"), r))
            .collect()
        });
    let mut q = question.to_string();
    for (re, to) in RULES.iter() {
        // Twice: overlapping matches (`lxd lxd`) share the separator.
        for _ in 0..2 {
            q = re.replace_all(&q, *to).into_owned();
        }
    }
    q
}

#[cfg(test)]
#[test]
fn lxd_words_become_incus_words() {
    assert_eq!(
        modernize("lxc config set c1 limits.memory=2GB on lxd with lxdbr0"),
        "incus config set c1 limits.memory=2GB on incus with incusbr0"
    );
    assert_eq!(
        modernize("data in /var/snap/lxd/common/lxd/storage-pools, see `lxc info`"),
        "data in /var/lib/incus/storage-pools, see `incus info`"
    );
    assert_eq!(
        modernize("lxd-to-incus and raw.lxc and lxc.log"),
        "lxd-to-incus and raw.lxc and lxc.log"
    );
    assert_eq!(modernize("LXD LXD"), "incus incus");
    assert_eq!(
        modernize("sudo lxd init --auto, then lxd sql global and lxd cluster edit"),
        "sudo incus admin init --auto, then incus admin sql global and incus admin cluster edit"
    );
    assert_eq!(
        modernize("security.devlxd=false hides /dev/lxd; lxd-agent in the VM"),
        "security.guestapi=false hides /dev/incus; incus-agent in the VM"
    );
    assert_eq!(
        modernize("lxd.daemon[51361]: Error; systemctl restart snap.lxd.daemon lxd.socket"),
        "incus.service[51361]: Error; systemctl restart incus.service incus.socket"
    );
    assert_eq!(
        modernize("LXD_DIR=/srv/lxd lxd-p2c, certs in ~/snap/lxd/common/config or ~/.config/lxc"),
        "INCUS_DIR=/srv/lxd incus-migrate, certs in ~/.config/incus or ~/.config/incus"
    );
}

/// What a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Steps to do something.
    HowTo,
    /// A configuration key or option.
    ConfigKey,
    /// Anything else.
    Other,
}

/// Reads the intent from the wording of a question.
pub fn intent_of(question: &str) -> Intent {
    let q = question.to_lowercase();
    let has = |w: &[&str]| w.iter().any(|x| q.contains(x));
    if has(&[
        "which key",
        "which config",
        "which option",
        "which setting",
        "what key",
        "what option",
        "what setting",
        "configuration key",
        "config key",
        "option controls",
        "setting controls",
    ]) {
        Intent::ConfigKey
    } else if has(&[
        "how do i",
        "how can i",
        "how to ",
        "how should i",
        "how would i",
        "what steps",
        "is it possible to",
        "i want to",
        "i need to",
    ]) {
        Intent::HowTo
    } else {
        Intent::Other
    }
}

impl Features {
    /// Everything on.
    pub const ALL: Features = Features {
        boosts: true,
        pages: true,
        priors: true,
        synonyms: true,
        phrases: true,
        keys: true,
        intent: true,
        coverage: true,
        page_text: true,
        lexical: true,
        dense: true,
        distinct_pages: true,
    };
    /// Plain BM25 over all the text of a section.
    pub const NONE: Features = Features {
        boosts: false,
        pages: false,
        priors: false,
        synonyms: false,
        phrases: false,
        keys: false,
        intent: false,
        coverage: false,
        page_text: false,
        lexical: true,
        dense: false,
        distinct_pages: false,
    };
    /// Every lexical feature, no dense ranking.
    pub const BM25: Features = Features {
        dense: false,
        ..Features::ALL
    };
    /// Everything on, but two sections of a page may lead (for a model that reads the text).
    pub const PASSAGES: Features = Features {
        distinct_pages: false,
        ..Features::ALL
    };
    /// The dense ranking alone.
    pub const DENSE: Features = Features {
        lexical: false,
        ..Features::ALL
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
    "possibl", "possible", "thing", "anymor", "after", "befor", "still", "again", "has", "have",
    "had", "was", "were", "will", "not", "no", "yes", "but", "them", "they", "it'", "s", "t",
    "let", "make",
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

fn term(field: Field, term: &str, weight: f32) -> (Occur, Box<dyn Query>) {
    let q = TermQuery::new(
        Term::from_field_text(field, term),
        IndexRecordOption::WithFreqs,
    );
    (
        Occur::Should,
        Box::new(BoostQuery::new(Box::new(q), weight)),
    )
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

/// Weight of a word the question did not use but the docs do.
const SYNONYM_WEIGHT: f32 = 0.5;

/// What the docs say for one thing an admin says, analyzed once.
pub struct Alternative {
    /// The docs' words as the table writes them (a dotted one is a configuration key).
    pub written: &'static str,
    /// Those words as prose terms.
    pub terms: Vec<String>,
}

/// The synonym table with both sides analyzed: (what the admin says, what the docs say).
/// Analyzed once, not each time a query is built.
static ANALYZED: LazyLock<Vec<(Vec<String>, Vec<Alternative>)>> = LazyLock::new(|| {
    SYNONYMS
        .iter()
        .map(|(said, written)| {
            let alternatives = written
                .iter()
                .map(|w| Alternative {
                    written: w,
                    terms: prose_terms(w),
                })
                .collect();
            (prose_terms(said), alternatives)
        })
        .filter(|(said, _)| !said.is_empty())
        .collect()
});

/// What the docs call the things a question (as analyzed terms) talks about.
pub fn synonyms_for(terms: &[String]) -> Vec<&'static Alternative> {
    let mut out = Vec::new();
    for (said, alternatives) in ANALYZED.iter() {
        if terms.windows(said.len()).any(|w| w == said.as_slice()) {
            out.extend(alternatives);
        }
    }
    out
}

/// The distinct content words of a question, analyzed, each with the single words the docs
/// use for it: a section covers the word when it contains any of them.
pub fn content_terms(question: &str, synonyms: bool) -> Vec<Vec<String>> {
    let mut seen = HashSet::new();
    prose_terms(&crate::util::text::normalize_quotes(question))
        .into_iter()
        .filter(|t| !is_stop(t) && seen.insert(t.clone()))
        .map(|t| {
            let mut group = vec![t.clone()];
            if synonyms {
                for alt in synonyms_for(std::slice::from_ref(&t)) {
                    if let [only] = alt.terms.as_slice()
                        && !group.contains(only)
                    {
                        group.push(only.clone());
                    }
                }
            }
            group
        })
        .collect()
}

/// Builds the query for `question` over `field` (the weighted or the flat text field of
/// sections, or the text of whole pages).
pub fn build(fields: &Fields, field: Field, question: &str, features: Features) -> Box<dyn Query> {
    let text = crate::util::text::normalize_quotes(question);
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();

    // Configuration keys: exact match on the keys a section defines, and as a phrase in text.
    if features.keys {
        for k in keys_in(&text) {
            let q = TermQuery::new(
                Term::from_field_text(fields.keys, &k),
                IndexRecordOption::Basic,
            );
            clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 6.0))));
            clauses.extend(phrase(field, &prose_terms(&k), 0, 2.0));
        }
    }

    // Content words.
    let all: Vec<String> = prose_terms(&text);
    let content: Vec<String> = all.iter().filter(|t| !is_stop(t)).cloned().collect();
    let mut seen = HashSet::new();
    for t in &content {
        if seen.insert(t.clone()) {
            clauses.push(term(field, t, 1.0));
        }
    }

    if features.phrases {
        // Adjacent content words, allowing one stop word between them.
        for pair in content.windows(2) {
            clauses.extend(phrase(field, pair, 1, 0.5));
        }
        // Quoted text and pasted messages: the whole run of words.
        for c in QUOTED.captures_iter(&text) {
            clauses.extend(phrase(field, &prose_terms(&c[1]), 0, 3.0));
        }
        if all.len() >= 6 && looks_pasted(&text) {
            clauses.extend(phrase(field, &all, 2, 2.0));
        }
    }

    if features.synonyms {
        for alt in synonyms_for(&all) {
            let terms = &alt.terms;
            if alt.written.contains('.') && features.keys {
                let q = TermQuery::new(
                    Term::from_field_text(fields.keys, alt.written),
                    IndexRecordOption::Basic,
                );
                clauses.push((Occur::Should, Box::new(BoostQuery::new(Box::new(q), 1.5))));
            } else if terms.len() == 1 {
                if seen.insert(terms[0].clone()) {
                    clauses.push(term(field, &terms[0], SYNONYM_WEIGHT));
                }
            } else {
                clauses.extend(phrase(field, terms, 0, SYNONYM_WEIGHT * 1.5));
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

    /// The docs' words the table adds to `seen`.
    fn written(seen: &str) -> Vec<&'static str> {
        synonyms_for(&prose_terms(seen))
            .iter()
            .map(|a| a.written)
            .collect()
    }

    #[test]
    fn what_admins_see_finds_the_page_that_explains_it() {
        let cases = [
            ("ping: c1: Name or service not known", "dns"),
            (
                "lxc list shows an IPv6 address, but no IPv4 address",
                "network access",
            ),
            ("the container has no internet", "firewall"),
            ("failed to create dqlite connection", "quorum"),
            (
                "dmesg in a container shows the host's log",
                "kernel ring buffer",
            ),
            (
                "create session key: disk quota exceeded (keyring)",
                "maxkeys",
            ),
            ("Failed to run: forkstart", "troubleshoot"),
            ("the server is behind a proxy", "core.proxy_https"),
            ("/proc/meminfo shows the host's memory", "lxcfs"),
        ];
        for (seen, docs_say) in cases {
            let found = written(seen);
            assert!(found.contains(&docs_say), "{seen:?} gave {found:?}");
        }
        // An IP address that is there is no symptom.
        assert!(!written("set a static IP address").contains(&"firewall"));
    }
}
