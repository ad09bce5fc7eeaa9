//! Chunks for AIChat, made of the index's sections (the one retrieval unit): consecutive
//! heading sections of a page merged up to the chunk size, long sections split between
//! paragraphs (never inside a code block when it can be helped). Each chunk starts with what
//! the model needs to cite it, because AIChat shows it nothing else: the page title, the
//! section breadcrumb and the canonical URL; every section in it keeps its own `Source:` line,
//! which is also how `serve`'s reranker knows which sections a chunk holds.

use crate::knowledge::index::sections::StoredSection;

/// The line that names a section's canonical URL in a chunk.
pub const SOURCE: &str = "Source: ";

/// One chunk's text (AIChat's `page_content`) and where it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Header and text.
    pub text: String,
    /// Canonical URL of the first section in the chunk.
    pub url: String,
    /// Breadcrumb of the first section.
    pub section: String,
    /// The sections whose opening (heading and first words: what their vector was made of)
    /// this chunk holds; a later part of a long section holds none.
    pub openings: Vec<u64>,
}

fn header(s: &StoredSection) -> String {
    format!(
        "{}\nSection: {}\n{SOURCE}{}\n\n",
        s.title, s.breadcrumb, s.url
    )
}

fn body(s: &StoredSection) -> String {
    let hashes = "#".repeat(usize::from(s.level.clamp(1, 6)));
    format!("{hashes} {}\n\n{}\n", s.heading, s.markdown)
}

/// A section that joins a chunk after the first keeps its own URL, so it can be cited.
fn merged_body(s: &StoredSection) -> String {
    let hashes = "#".repeat(usize::from(s.level.clamp(1, 6)));
    format!(
        "{hashes} {}\n{SOURCE}{}\n\n{}\n",
        s.heading, s.url, s.markdown
    )
}

/// The canonical URLs of the sections a chunk holds (its `Source:` lines), first to last.
pub fn sources(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .filter_map(|l| l.strip_prefix(SOURCE))
        .map(str::trim)
}

/// Splits text into paragraphs (blank-line separated, code blocks kept whole).
fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut fence: Option<String> = None;
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(f) = &fence {
            // A closing fence: only fence characters, at least as many as the opening.
            let closes =
                t.starts_with(f.as_str()) && t.trim_end().chars().all(|c| f.starts_with(c));
            if closes {
                fence = None;
            }
        } else if t.starts_with("```") || t.starts_with("~~~") {
            let ch = t.chars().next().unwrap_or('`');
            fence = Some(t.chars().take_while(|c| *c == ch).collect());
        } else if t.is_empty() {
            if !cur.trim().is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Cuts one piece into parts of at most `budget` bytes, at line ends where possible.
fn hard_split(piece: &str, budget: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in piece.split_inclusive('\n') {
        if cur.len() + line.len() > budget && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        let mut rest = line;
        while rest.len() > budget {
            let mut cut = budget;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push(rest[..cut].to_string());
            rest = &rest[cut..];
        }
        cur.push_str(rest);
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parts of a long section, each at most `budget` bytes, overlapping by up to `overlap` bytes
/// (the previous part's last paragraph, when it is that short).
fn split_section(text: &str, budget: usize, overlap: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut last_para = String::new();
    for p in paragraphs(text) {
        let pieces = if p.len() > budget {
            hard_split(&p, budget)
        } else {
            vec![p]
        };
        for piece in pieces {
            if !cur.is_empty() && cur.len() + piece.len() + 1 > budget {
                parts.push(std::mem::take(&mut cur));
                if !last_para.is_empty()
                    && last_para.len() <= overlap
                    && last_para.len() + piece.len() < budget
                {
                    cur.push_str(&last_para);
                    cur.push('\n');
                }
            }
            cur.push_str(&piece);
            cur.push('\n');
            last_para = piece;
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts
}

/// The chunks of one page's sections (in order), each at most `chunk_size` bytes unless a
/// header alone is longer.
pub fn chunk_sections(sections: &[StoredSection], chunk_size: usize, overlap: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    // (first section of the chunk, accumulated body, sections whose opening it holds)
    let mut cur: Option<(&StoredSection, String, Vec<u64>)> = None;
    let flush = |cur: &mut Option<(&StoredSection, String, Vec<u64>)>, out: &mut Vec<Chunk>| {
        if let Some((s, text, openings)) = cur.take() {
            out.push(Chunk {
                text: format!("{}{}", header(s), text.trim_end()),
                url: s.url.clone(),
                section: s.breadcrumb.clone(),
                openings,
            });
        }
    };
    for s in sections {
        let h = header(s);
        let b = body(s);
        let budget = chunk_size.saturating_sub(h.len()).max(200);
        if b.len() > budget {
            flush(&mut cur, &mut out);
            for (i, part) in split_section(&b, budget, overlap).into_iter().enumerate() {
                out.push(Chunk {
                    text: format!("{h}{}", part.trim_end()),
                    url: s.url.clone(),
                    section: s.breadcrumb.clone(),
                    openings: if i == 0 {
                        vec![s.section_id]
                    } else {
                        Vec::new()
                    },
                });
            }
            continue;
        }
        let merged = merged_body(s);
        match &mut cur {
            Some((first, text, openings))
                if header(first).len() + text.len() + merged.len() < chunk_size =>
            {
                text.push('\n');
                text.push_str(&merged);
                openings.push(s.section_id);
            }
            _ => {
                flush(&mut cur, &mut out);
                cur = Some((s, b, vec![s.section_id]));
            }
        }
    }
    flush(&mut cur, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Vec<StoredSection> {
        let long: String = (0..40)
            .map(|i| format!("Paragraph {i} talks about storage pools at length.\n\n"))
            .collect();
        let section =
            |ordinal: u64, level: u8, anchor: &str, heading: &str, markdown: &str| StoredSection {
                collection: crate::knowledge::Collection::Docs,
                ordinal,
                section_id: 100 + ordinal,
                level,
                url: format!("https://h/docs/storage/{anchor}"),
                title: "Storage".into(),
                heading: heading.into(),
                breadcrumb: if level == 1 {
                    "Storage".into()
                } else {
                    format!("Storage > {heading}")
                },
                markdown: markdown.into(),
            };
        vec![
            section(0, 1, "", "Storage", "Intro.\n"),
            section(
                1,
                2,
                "#pools",
                "Pools",
                "A pool.\n\n```\nincus storage list\n\nincus storage info p\n```\n",
            ),
            section(2, 2, "#volumes", "Volumes", &long),
        ]
    }

    #[test]
    fn chunks_carry_title_breadcrumb_and_url_and_respect_the_size() {
        let chunks = chunk_sections(&page(), 600, 120);
        assert!(chunks.len() > 2);
        for c in &chunks {
            assert!(c.text.len() <= 600, "{} bytes: {}", c.text.len(), c.text);
            assert!(c.text.starts_with("Storage\nSection: "), "{}", c.text);
            assert!(c.text.contains("Source: https://h/docs/storage/"));
        }
        // Small sections are merged; code blocks stay whole.
        assert!(
            chunks[0].text.contains("Intro.")
                && chunks[0]
                    .text
                    .contains("## Pools\nSource: https://h/docs/storage/#pools")
        );
        assert!(
            chunks[0]
                .text
                .contains("incus storage list\n\nincus storage info p")
        );
        assert_eq!(chunks[0].url, "https://h/docs/storage/");
        assert_eq!(chunks[0].openings, vec![100, 101]);
        assert_eq!(
            sources(&chunks[0].text).collect::<Vec<_>>(),
            vec!["https://h/docs/storage/", "https://h/docs/storage/#pools"]
        );
        // A long section is split, each part under its own header.
        let volume_parts: Vec<&Chunk> = chunks
            .iter()
            .filter(|c| c.url.ends_with("#volumes"))
            .collect();
        assert!(volume_parts.len() >= 2);
        assert_eq!(volume_parts[0].openings, vec![102]);
        assert!(volume_parts[1..].iter().all(|c| c.openings.is_empty()));
        assert!(
            volume_parts
                .iter()
                .all(|c| c.text.contains("Section: Storage > Volumes"))
        );
        let all: String = chunks.iter().map(|c| c.text.as_str()).collect();
        for i in 0..40 {
            assert!(
                all.contains(&format!("Paragraph {i} talks")),
                "paragraph {i} lost"
            );
        }
    }

    #[test]
    fn huge_lines_are_cut_without_breaking_characters() {
        let parts = hard_split(&"é".repeat(1000), 101);
        assert!(parts.iter().all(|p| p.len() <= 101));
        assert_eq!(parts.concat(), "é".repeat(1000));
    }
}
