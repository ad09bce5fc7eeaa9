//! `--anonymize`: member, instance, project and network names and IP addresses are replaced by
//! stable placeholders in everything sent to the LLM, and put back in its answer.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b(?:\d{1,3}\.){3}\d{1,3}\b").expect("static regex"));
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9a-fA-F:]*:[0-9a-fA-F:]*:[0-9a-fA-F:]+").expect("static regex")
});

/// A reversible mapping of real names to placeholders.
#[derive(Debug, Default, Clone)]
pub struct Anonymizer {
    forward: BTreeMap<String, String>,
    counters: BTreeMap<&'static str, usize>,
}

impl Anonymizer {
    /// Registers a name of a kind (`member`, `instance`, `project`, `network`).
    pub fn name(&mut self, kind: &'static str, real: &str) {
        if real.len() < 2 || self.forward.contains_key(real) || real == "default" {
            return;
        }
        let n = self.counters.entry(kind).or_insert(0);
        *n += 1;
        self.forward.insert(real.to_string(), format!("{kind}-{n}"));
    }

    fn address(&mut self, real: &str) -> String {
        if let Some(p) = self.forward.get(real) {
            return p.clone();
        }
        let n = self.counters.entry("address").or_insert(0);
        *n += 1;
        let p = format!("address-{n}");
        self.forward.insert(real.to_string(), p.clone());
        p
    }

    /// Replaces registered names (whole words, longest first) and every IP address.
    pub fn mask(&mut self, text: &str) -> String {
        let mut out = IPV4
            .replace_all(text, |c: &regex::Captures| {
                let ip = c[0].to_string();
                // Only the generic localhost says nothing about the site.
                if ip == "127.0.0.1" {
                    ip
                } else {
                    self.address(&ip)
                }
            })
            .into_owned();
        out = IPV6
            .replace_all(&out, |c: &regex::Captures| {
                // Times (05:09:46) look alike; only real IPv6 addresses are masked.
                let s = &c[0];
                let ip = s.parse::<std::net::Ipv6Addr>().is_ok()
                    && (s.contains("::") || s.matches(':').count() >= 4);
                if ip { self.address(s) } else { s.to_string() }
            })
            .into_owned();
        let mut names: Vec<(String, String)> = self
            .forward
            .iter()
            .filter(|(_, p)| !p.starts_with("address-"))
            .map(|(r, p)| (r.clone(), p.clone()))
            .collect();
        names.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
        for (real, placeholder) in names {
            let re =
                Regex::new(&format!(r"(?:^|\b){}\b", regex::escape(&real))).expect("escaped name");
            out = re.replace_all(&out, placeholder.as_str()).into_owned();
        }
        out
    }

    /// Puts the real names back.
    pub fn unmask(&self, text: &str) -> String {
        let mut pairs: Vec<(&String, &String)> = self.forward.iter().collect();
        // Longest placeholder first, so that member-12 is not read as member-1 + "2".
        pairs.sort_by_key(|(_, p)| std::cmp::Reverse(p.len()));
        let mut out = text.to_string();
        for (real, placeholder) in pairs {
            let re = Regex::new(&format!(r"\b{}\b", regex::escape(placeholder)))
                .expect("escaped placeholder");
            out = re.replace_all(&out, real.as_str()).into_owned();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_addresses_are_masked_and_restored() {
        let mut a = Anonymizer::default();
        a.name("member", "node2");
        a.name("member", "node12");
        a.name("instance", "web1");
        let masked = a
            .mask("node2 at 10.20.0.12 runs web1; node12 at fd42::1:2 is fine; web10 is not known");
        assert!(
            a.mask("No heartbeat (2026-11-26 05:09:46 UTC)")
                .contains("05:09:46")
        );
        assert!(
            !masked.contains("node2")
                && !masked.contains("10.20.0.12")
                && !masked.contains("web1;"),
            "{masked}"
        );
        assert!(masked.contains("web10"), "only whole names: {masked}");
        assert_eq!(
            a.unmask(&masked),
            "node2 at 10.20.0.12 runs web1; node12 at fd42::1:2 is fine; web10 is not known"
        );
    }
}
