//! Small text helpers shared across modules: one-line error chains and calendar dates.

/// An error and its sources on one line (`a: b: c`), each cause once.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s.replace('\n', " ")
}

/// Collapses runs of whitespace into single spaces.
pub fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

/// Typographic quotes from docutils' smart quotes, mapped back to ASCII.
pub fn normalize_quotes(s: &str) -> String {
    s.replace(['\u{2019}', '\u{2018}'], "'")
        .replace(['\u{201c}', '\u{201d}'], "\"")
}

/// Year, month and day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD` of a Unix time.
pub fn date(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM UTC` of a Unix time.
pub fn date_time(unix: i64) -> String {
    let rem = unix.rem_euclid(86400);
    format!(
        "{} {:02}:{:02} UTC",
        date(unix),
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Tags of AIChat's RAG template (and the agent's data fence) that text from the docs must not
/// open or close: a page saying `</context>` would end the context early and speak as the
/// prompt itself.
const PROMPT_TAGS: &[&str] = &["context", "rules", "user_query", "data", "system"];

/// `text` with every opening or closing prompt tag defused (`</context>` → `<\/context>`).
pub fn defuse_prompt_tags(text: &str) -> std::borrow::Cow<'_, str> {
    static TAG: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(&format!(r"(?i)<(\s*/?\s*)({})\b", PROMPT_TAGS.join("|")))
            .expect("static regex")
    });
    TAG.replace_all(text, "<\\$1$2")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_tags_are_defused_whatever_their_spelling() {
        assert_eq!(
            defuse_prompt_tags("a </context> b <RULES> c < / Context > <data tool=x> <contexts>"),
            "a <\\/context> b <\\RULES> c <\\ / Context > <\\data tool=x> <contexts>"
        );
        assert_eq!(defuse_prompt_tags("x < y and <b>"), "x < y and <b>");
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(date(0), "1970-01-01");
        assert_eq!(date_time(1_795_669_789), "2026-11-26 05:09 UTC");
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
