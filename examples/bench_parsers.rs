//! `make bench` (part 2): time and peak memory of each parser on the worst inputs a docs site
//! or a tarball can send: deep nesting, long repetition, include fan-out. Peak memory is the
//! high-water mark of live heap bytes during one parse, counted by this program's allocator.
//!
//! Usage: cargo run --release --example bench_parsers

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use incus_ai::knowledge::document::Page;
use incus_ai::knowledge::sources::myst::render::{Catalog, Renderer};
use incus_ai::knowledge::sources::myst::{DocTree, render_tree};
use incus_ai::knowledge::sources::site::extract::extract;

/// Counts live heap bytes and their high-water mark.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let grow = new_size - layout.size();
                let now = LIVE.fetch_add(grow, Ordering::Relaxed) + grow;
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f` and returns its time and the heap it needed above what was live before.
fn measure<T>(f: impl FnOnce() -> T) -> (Duration, usize, T) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    (took, PEAK.load(Ordering::Relaxed).saturating_sub(base), out)
}

fn report(name: &str, input: usize, took: Duration, peak: usize, outcome: &str) {
    println!(
        "  {name:<44} input {:>8.1} KiB  {:>9.1} ms  peak heap {:>8.1} MiB  {outcome}",
        input as f64 / 1024.0,
        took.as_secs_f64() * 1000.0,
        peak as f64 / (1024.0 * 1024.0)
    );
}

fn html_case(name: &str, html: &str) {
    let url = url::Url::parse("http://127.0.0.1/docs/p/").unwrap();
    let (took, peak, ex) = measure(|| {
        let ex = extract(html, &url);
        if let Some(md) = ex.as_ref().and_then(|e| e.markdown.as_ref()) {
            let _ = Page::parse(md);
        }
        ex
    });
    let outcome = match ex {
        None => "refused (nesting limit)".to_string(),
        Some(e) => format!(
            "{} KiB of markdown",
            e.markdown.map_or(0, |m| m.len()) / 1024
        ),
    };
    report(name, html.len(), took, peak, &outcome);
}

fn myst_case(name: &str, text: &str) {
    let catalog = Catalog::default();
    let subs = HashMap::new();
    let (took, peak, out) = measure(|| {
        let mut r = Renderer::new(&catalog, "x.md", &subs);
        let out = r.render(text);
        let _ = Page::parse(&out);
        out
    });
    report(
        name,
        text.len(),
        took,
        peak,
        &format!("{} KiB rendered", out.len() / 1024),
    );
}

fn article(body: &str) -> String {
    format!(
        "<html><body><article role=\"main\"><section id=\"a\"><h1>T</h1>{body}</section></article></body></html>"
    )
}

fn main() {
    println!("parsers, worst cases (time and peak heap of one parse, release build):");
    html_case(
        "HTML: 66 KB of nested divs",
        &article(&format!(
            "{}x{}",
            "<div>".repeat(13_000),
            "</div>".repeat(13_000)
        )),
    );
    html_case(
        "HTML: 8 MB of nested divs",
        &article(&format!(
            "{}x{}",
            "<div>".repeat(800_000),
            "</div>".repeat(800_000)
        )),
    );
    html_case(
        "HTML: 500 levels of nested lists",
        &article(&format!(
            "{}x{}",
            "<ul><li>".repeat(250),
            "</li></ul>".repeat(250)
        )),
    );
    html_case(
        "HTML: 20,000 repeated headings",
        &article(&"<section id=\"s\"><h2>Same</h2><p>x</p></section>".repeat(20_000)),
    );
    html_case(
        "HTML: 400 nested tables",
        &article(&format!(
            "{}x{}",
            "<table><tr><td>".repeat(400),
            "</td></tr></table>".repeat(400)
        )),
    );
    html_case(
        "HTML: 400 nested tab sets",
        &article(&"<div class=\"sphinx-tabs\"><div role=\"tabpanel\">".repeat(200)),
    );
    html_case(
        "HTML: 400 nested configuration options",
        &article(&"<div class=\"configoption\"><div class=\"details\"><div>".repeat(130)),
    );
    html_case(
        "HTML: 8 MB of unclosed formatting tags",
        &article(&"<b><i><u>".repeat(800_000)),
    );
    let mut nested = String::from("# Nested\n\n");
    for i in 0..740 {
        nested.push_str(&format!("{}{{note}}\n", "`".repeat(743 - i)));
    }
    nested.push_str("deep\n");
    myst_case("MyST: 280 KB of nested directives", &nested);
    myst_case(
        "MyST: 20,000 repeated headings",
        &format!("# H\n\n{}", "## Same\n\ntext\n\n".repeat(20_000)),
    );
    myst_case(
        "MyST: 8 MB of unclosed fences",
        &"```{note}\n".repeat(800_000),
    );
    // An include fan-out: 400 × 400 includes of 100 KB would be 16 GB.
    let d = tempfile::tempdir().unwrap();
    let doc = d.path().join("doc");
    std::fs::create_dir_all(&doc).unwrap();
    std::fs::write(doc.join("index.md"), "# I\n").unwrap();
    std::fs::write(doc.join("leaf.txt"), "x".repeat(100_000)).unwrap();
    let fan: String = (0..400).map(|_| "```{include} leaf.txt\n```\n").collect();
    std::fs::write(doc.join("fan.txt"), &fan).unwrap();
    let bomb: String = (0..400).map(|_| "```{include} fan.txt\n```\n").collect();
    std::fs::write(doc.join("bomb.md"), format!("# Bomb\n\n{bomb}")).unwrap();
    let tree = DocTree::locate(&doc);
    let (took, peak, r) = measure(|| render_tree(&tree, "https://h/"));
    report(
        "MyST: include fan-out (16 GB if expanded)",
        bomb.len() + fan.len() + 100_000,
        took,
        peak,
        if r.is_err() {
            "refused (expansion limit)"
        } else {
            "rendered"
        },
    );
}
