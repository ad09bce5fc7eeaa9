//! Code fences and MyST directive fences (```` ```{note} ````), which nest by fence length.

/// An opening or closing fence line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// Leading spaces.
    pub indent: usize,
    /// `` ` `` or `~`.
    pub ch: char,
    /// Number of fence characters.
    pub count: usize,
    /// The info string after the fence (`bash`, `{note}`, `{include} ../x.md`).
    pub info: String,
}

impl Fence {
    /// Parses a fence line.
    pub fn parse(line: &str) -> Option<Fence> {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let ch = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let count = trimmed.chars().take_while(|c| *c == ch).count();
        if count < 3 {
            return None;
        }
        let info = trimmed[count..].trim().to_string();
        if ch == '`' && info.contains('`') {
            return None;
        }
        Some(Fence {
            indent,
            ch,
            count,
            info,
        })
    }

    /// The directive name and argument when this is a MyST directive fence.
    pub fn directive(&self) -> Option<(&str, &str)> {
        let rest = self.info.strip_prefix('{')?;
        let end = rest.find('}')?;
        Some((&rest[..end], rest[end + 1..].trim()))
    }

    /// Whether `line` closes this fence.
    pub fn closed_by(&self, line: &str) -> bool {
        Fence::parse(line)
            .is_some_and(|f| f.info.is_empty() && f.ch == self.ch && f.count >= self.count)
    }

    /// Index of the closing line for this fence opened at `open`, or `lines.len()`.
    pub fn find_close<S: AsRef<str>>(&self, lines: &[S], open: usize) -> usize {
        (open + 1..lines.len())
            .find(|&i| self.closed_by(lines[i].as_ref()))
            .unwrap_or(lines.len())
    }
}

/// What a line is, seen in document order by a [`FenceTracker`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Prose (possibly inside a directive, whose body is MyST).
    Text,
    /// Opens a directive.
    DirectiveOpen(Fence),
    /// Closes the innermost open directive.
    DirectiveClose,
    /// Opens a code block.
    CodeOpen(Fence),
    /// Inside a code block, or its closing fence.
    Code,
}

/// Follows nesting of directive and code fences line by line, so that a directive's closing
/// fence is never mistaken for the start of a code block.
#[derive(Debug, Default)]
pub struct FenceTracker {
    directives: Vec<Fence>,
    code: Option<Fence>,
}

impl FenceTracker {
    /// Classifies the next line.
    pub fn feed(&mut self, line: &str) -> LineKind {
        if let Some(c) = &self.code {
            if c.closed_by(line) {
                self.code = None;
            }
            return LineKind::Code;
        }
        if self.directives.last().is_some_and(|d| d.closed_by(line)) {
            self.directives.pop();
            return LineKind::DirectiveClose;
        }
        match Fence::parse(line) {
            Some(f) if f.directive().is_some() => {
                self.directives.push(f.clone());
                LineKind::DirectiveOpen(f)
            }
            Some(f) => {
                self.code = Some(f.clone());
                LineKind::CodeOpen(f)
            }
            None => LineKind::Text,
        }
    }

    /// Forgets the innermost directive, whose body and closing fence the caller consumed.
    pub fn leave_directive(&mut self) {
        self.directives.pop();
    }
}

/// Removes up to `n` leading spaces from each line.
pub fn dedent<S: AsRef<str>>(lines: &[S], n: usize) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let l = l.as_ref();
            let spaces = l.len() - l.trim_start_matches(' ').len();
            l[spaces.min(n)..].to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_directives_close_at_the_matching_length() {
        let lines = [
            "`````{tabs}",
            "````{group-tab} A",
            "```bash",
            "x",
            "```",
            "````",
            "`````",
        ];
        let outer = Fence::parse(lines[0]).unwrap();
        assert_eq!(outer.directive(), Some(("tabs", "")));
        assert_eq!(outer.find_close(&lines, 0), 6);
        let inner = Fence::parse(lines[1]).unwrap();
        assert_eq!(inner.directive(), Some(("group-tab", "A")));
        assert_eq!(inner.find_close(&lines, 1), 5);
        assert_eq!(Fence::parse(lines[2]).unwrap().find_close(&lines, 2), 4);
    }

    #[test]
    fn the_tracker_tells_directive_closers_from_code_openers() {
        let mut t = FenceTracker::default();
        let kinds: Vec<LineKind> = ["```{note}", "x", "```", "```", "code", "```", "y"]
            .iter()
            .map(|l| t.feed(l))
            .collect();
        assert!(matches!(kinds[0], LineKind::DirectiveOpen(_)));
        assert_eq!(kinds[1], LineKind::Text);
        assert_eq!(kinds[2], LineKind::DirectiveClose);
        assert!(matches!(kinds[3], LineKind::CodeOpen(_)));
        assert_eq!(kinds[4..6], [LineKind::Code, LineKind::Code]);
        assert_eq!(kinds[6], LineKind::Text);
    }

    #[test]
    fn inline_code_with_backticks_is_not_a_fence() {
        assert!(Fence::parse("```foo``` bar").is_none());
        assert!(Fence::parse("``not``").is_none());
    }
}
