//! A bounded fuzz run of the two parsers that read what a docs site or a tarball sends: the
//! HTML extractor and the MyST renderer (and the page parser behind both). The generated input
//! is biased towards what breaks parsers: deep nesting, long repetition, unclosed and
//! mismatched tags and fences. Properties: no panic, output bounded by the input.

use incus_ai::knowledge::document::Page;
use incus_ai::knowledge::sources::myst::render::{Catalog, Renderer};
use incus_ai::knowledge::sources::site::extract::extract;
use proptest::prelude::*;
use std::collections::HashMap;

/// HTML pieces that nest, repeat and misnest.
fn html_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("<div>".to_string()),
        Just("</div>".to_string()),
        Just("<section id=\"s\">".to_string()),
        Just("</section>".to_string()),
        Just("<h2>Title".to_string()),
        Just("</h2>".to_string()),
        Just("<ul><li>".to_string()),
        Just("<table><tr><td>".to_string()),
        Just("<b><i>".to_string()),
        Just("</b>".to_string()),
        Just("<pre>".to_string()),
        Just(
            "<div class=\"configoption\"><span class=\"key\">k</span><div class=\"details\">"
                .to_string()
        ),
        Just("<div class=\"sphinx-tabs\"><div role=\"tabpanel\">".to_string()),
        Just("<a href=\"../_sources/../x.md.txt\">".to_string()),
        Just("<!--".to_string()),
        Just("<script>".to_string()),
        "[a-z \\\\`*_<>|&;#\u{1b}]{0,12}",
    ]
}

fn html_doc() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((html_piece(), 1usize..400), 0..40),
        any::<bool>(),
    )
        .prop_map(|(parts, article)| {
            let mut body = String::new();
            for (p, n) in parts {
                for _ in 0..n {
                    body.push_str(&p);
                }
            }
            if article {
                format!("<html><body><article role=\"main\">{body}</article><div class=\"view-this-page\"><a href=\"_sources/x.md.txt\">v</a></div></body></html>")
            } else {
                body
            }
        })
}

/// MyST lines that nest, repeat and leave fences open.
fn myst_piece() -> impl Strategy<Value = String> {
    prop_oneof![
        (3usize..40).prop_map(|n| format!("{}{{note}}", "`".repeat(n))),
        (3usize..40).prop_map(|n| "`".repeat(n)),
        Just("```{tabs}".to_string()),
        Just("```{config:option} limits.memory instance".to_string()),
        Just(":shortdesc: x".to_string()),
        Just("## Same heading".to_string()),
        Just("(label)=".to_string()),
        Just("{ref}`label` and {doc}`../x`".to_string()),
        Just("{{ sub }}".to_string()),
        Just("<!--".to_string()),
        Just("-->".to_string()),
        Just("> > > quote".to_string()),
        Just("- - - list".to_string()),
        Just("| a | b |".to_string()),
        Just("".to_string()),
        "[a-z #`*_:{}<>\\[\\]()|-]{0,16}",
    ]
}

fn myst_doc() -> impl Strategy<Value = String> {
    prop::collection::vec((myst_piece(), 1usize..300), 0..30).prop_map(|parts| {
        let mut out = String::from("# Page\n");
        for (p, n) in parts {
            for _ in 0..n {
                out.push_str(&p);
                out.push('\n');
            }
        }
        out
    })
}

proptest! {
    // 48 cases in `make test`; INCUS_AI_FUZZ_CASES=5000 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("INCUS_AI_FUZZ_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_html_extractor_never_panics_and_stays_bounded(html in html_doc()) {
        let url = url::Url::parse("http://127.0.0.1/docs/page/").unwrap();
        if let Some(ex) = extract(&html, &url) {
            if let Some(md) = &ex.markdown {
                prop_assert!(md.len() <= 4 * html.len() + 4096, "{} from {}", md.len(), html.len());
                let page = Page::parse(md);
                let total: usize = page.sections.iter().map(|s| s.markdown.len()).sum();
                prop_assert!(total <= md.len() + 1024);
            }
            if let Some(p) = &ex.doc_path {
                prop_assert!(incus_ai::util::fsx::is_normal_relative(p), "{p}");
            }
        }
    }

    #[test]
    fn the_myst_renderer_never_panics_and_stays_bounded(text in myst_doc()) {
        let catalog = Catalog::default();
        let subs = HashMap::from([("sub".to_string(), "x".repeat(100))]);
        let mut r = Renderer::new(&catalog, "howto/x.md", &subs);
        let out = r.render(&text);
        prop_assert!(out.len() <= 200 * text.len() + 4096, "{} from {}", out.len(), text.len());
        let page = Page::parse(&out);
        prop_assert!(page.sections.len() <= text.lines().count() + 1);
    }
}
