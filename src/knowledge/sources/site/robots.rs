//! A small robots.txt reader: the group for our user agent (or `*`), `Allow`/`Disallow`
//! path prefixes with the longest match winning, and `Crawl-delay`.

/// One `User-agent` group: its agents, its (allow, path) rules, its crawl delay.
type Group = (Vec<String>, Vec<(bool, String)>, Option<f64>);

/// Rules that apply to incus-ai on one host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    rules: Vec<(bool, String)>,
    /// Seconds to wait between requests, when the site asks for it.
    pub crawl_delay: Option<f64>,
}

impl Robots {
    /// Rules that allow everything (no robots.txt, or a 4xx answer for it).
    pub fn allow_all() -> Self {
        Robots::default()
    }

    /// Parses robots.txt for the product token `agent` (e.g. `incus-ai`).
    pub fn parse(text: &str, agent: &str) -> Self {
        let agent = agent.to_ascii_lowercase();
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for raw in text.lines() {
            let line = raw.split('#').next().unwrap_or("").trim();
            let Some((k, v)) = line.split_once(':') else {
                continue;
            };
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
            match k.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push((Vec::new(), Vec::new(), None));
                    }
                    in_agents = true;
                    if let Some(g) = groups.last_mut() {
                        g.0.push(v.to_ascii_lowercase());
                    }
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut()
                        && !v.is_empty()
                    {
                        g.1.push((k == "allow", v.to_string()));
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut() {
                        g.2 = v.parse().ok();
                    }
                }
                _ => in_agents = false,
            }
        }
        let pick = |want: &dyn Fn(&str) -> bool| {
            let mut rules = Vec::new();
            let mut delay = None;
            let mut found = false;
            for (agents, r, d) in &groups {
                if agents.iter().any(|a| want(a)) {
                    found = true;
                    rules.extend(r.iter().cloned());
                    delay = delay.or(*d);
                }
            }
            found.then_some(Robots {
                rules,
                crawl_delay: delay,
            })
        };
        pick(&|a| a != "*" && agent.starts_with(a))
            .or_else(|| pick(&|a| a == "*"))
            .unwrap_or_default()
    }

    /// Whether a URL path may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        let mut best: Option<(usize, bool)> = None;
        for (allow, prefix) in &self.rules {
            if let Some(len) = match_len(prefix, path) {
                let better = match best {
                    None => true,
                    Some((l, a)) => len > l || (len == l && *allow && !a),
                };
                if better {
                    best = Some((len, *allow));
                }
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Length of the pattern when it matches the start of `path` (`*` wildcards, `$` end anchor).
fn match_len(pattern: &str, path: &str) -> Option<usize> {
    let anchored = pattern.ends_with('$');
    let pattern = pattern.trim_end_matches('$');
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !path.starts_with(part) {
                return None;
            }
            pos = part.len();
        } else {
            let found = path[pos..].find(part)?;
            pos += found + part.len();
        }
    }
    if anchored && pos != path.len() && !pattern.ends_with('*') {
        return None;
    }
    Some(pattern.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specific_agent_group_wins_over_star_and_longest_rule_wins() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /\n\nUser-agent: incus-ai\nDisallow: /docs/private/\nAllow: /docs/private/ok/\nCrawl-delay: 0.5\n",
            "incus-ai/0.1",
        );
        assert!(r.allowed("/docs/howto/"));
        assert!(!r.allowed("/docs/private/x/"));
        assert!(r.allowed("/docs/private/ok/x/"));
        assert_eq!(r.crawl_delay, Some(0.5));
    }

    #[test]
    fn star_group_applies_with_wildcards() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /*/search/\nDisallow: /*.txt$\n",
            "incus-ai",
        );
        assert!(!r.allowed("/incus/search/"));
        assert!(!r.allowed("/a/b.txt"));
        assert!(r.allowed("/a/b.txt.html"));
        assert!(r.allowed("/incus/docs/"));
    }

    #[test]
    fn empty_disallow_allows_everything() {
        let r = Robots::parse("User-agent: *\nDisallow:\n", "incus-ai");
        assert!(r.allowed("/anything"));
    }
}
