//! The knowledge pipeline end to end: the real binary against a real HTTP server on loopback,
//! markdown trees on disk, and every fault the mirror must survive.

use crate::support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::http::{Request, Response, Server, StaticFiles};
use support::{Env, copy_dir, fixtures};

/// What the fixture site does besides serving files.
#[derive(Clone, Default)]
struct Faults {
    /// Path → answer to give instead of the file.
    overrides: Vec<(String, Response)>,
}

struct Site {
    server: Server,
    faults: Arc<Mutex<Faults>>,
    root: tempfile::TempDir,
}

impl Site {
    /// The fixture site, copied so tests may edit it, served under /docs/ with a robots.txt.
    async fn start() -> Site {
        let root = tempfile::tempdir().unwrap();
        copy_dir(&fixtures().join("site"), root.path());
        let faults = Arc::new(Mutex::new(Faults::default()));
        let files = StaticFiles {
            dir: root.path().to_path_buf(),
            prefix: "/docs/".into(),
        };
        let f2 = faults.clone();
        let server = Server::start(Arc::new(move |r: &Request| {
            if let Some((_, resp)) = f2
                .lock()
                .unwrap()
                .overrides
                .iter()
                .find(|(p, _)| *p == r.path)
            {
                return resp.clone();
            }
            if r.path == "/robots.txt" {
                return Response::new(200, "User-agent: *\nDisallow: /docs/private/\n")
                    .header("Content-Type", "text/plain");
            }
            files.answer(r)
        }))
        .await;
        Site {
            server,
            faults,
            root,
        }
    }

    fn url(&self) -> String {
        self.server.url("/docs/")
    }

    fn set(&self, path: &str, resp: Response) {
        self.faults
            .lock()
            .unwrap()
            .overrides
            .push((path.into(), resp));
    }

    fn clear(&self) {
        self.faults.lock().unwrap().overrides.clear();
    }
}

fn docs_report(v: &serde_json::Value) -> &serde_json::Value {
    v.as_array()
        .unwrap()
        .iter()
        .find(|r| r["collection"] == "docs")
        .unwrap()
}

fn current_generation(env: &Env, collection: &str) -> std::path::PathBuf {
    std::fs::canonicalize(env.data().join("mirror").join(collection).join("current")).unwrap()
}

#[tokio::test]
async fn site_is_mirrored_indexed_and_searched_with_anchors_and_doc_paths() {
    let site = Site::start().await;
    let env = Env::new();
    let r = env
        .run_async(&["mirror", "--json", "--source", &site.url()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs = docs_report(&r.json()).clone();
    let mut added: Vec<String> = docs["changes"]["added"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    added.sort();
    assert_eq!(
        added,
        vec![
            "howto/cluster_manage.md",
            "index.md",
            "reference/instance_options.md"
        ]
    );
    let paths = site.server.paths();
    assert!(paths.contains(&"/robots.txt".to_string()));
    assert!(
        !paths.iter().any(|p| p.contains("/private/")),
        "robots.txt disallows /docs/private/: {paths:?}"
    );
    assert!(
        !paths
            .iter()
            .any(|p| p.contains("_static") || p.contains("_sources")),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|p| p.contains("github.com")));

    let r = env.run_async(&["index", "--json"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["pages_added"], 3);

    let r = env
        .run_async(&["search", "--json", "how do I remove a dead cluster member?"])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let hits = r.json();
    let top = &hits[0];
    assert_eq!(top["rank"], 1);
    assert_eq!(top["collection"], "docs");
    assert_eq!(
        top["url"],
        "https://linuxcontainers.org/incus/docs/main/howto/cluster_manage/#deal-with-offline-cluster-members"
    );
    assert_eq!(top["doc_path"], "howto/cluster_manage.md");
    assert_eq!(top["title"], "How to manage a cluster");
    assert_eq!(
        top["section"],
        "How to manage a cluster > Deal with offline cluster members"
    );
    assert!(
        top["text"]
            .as_str()
            .unwrap()
            .contains("incus cluster remove --force")
    );
    assert!(top["score"].as_f64().unwrap() > 0.0);
    // The first places go to distinct pages; a page's other sections come after them.
    let pages: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["doc_path"].as_str().unwrap())
        .collect();
    let mut distinct: Vec<&str> = Vec::new();
    for p in &pages {
        if !distinct.contains(p) {
            distinct.push(p);
        }
    }
    assert!(
        distinct.len() >= 2 && pages.len() > distinct.len(),
        "{pages:?}"
    );
    assert_eq!(pages[..distinct.len()], distinct[..], "{pages:?}");

    // A config key matches its own definition exactly.
    let r = env
        .run_async(&["search", "--json", "-n", "3", "limits.memory"])
        .await;
    assert_eq!(
        r.json()[0]["url"],
        "https://linuxcontainers.org/incus/docs/main/reference/instance_options/#instance-resource-limits:limits.memory"
    );
    // Hidden tab panels are content too.
    let r = env
        .run_async(&[
            "search",
            "--json",
            "-n",
            "3",
            "curl POST cluster members state",
        ])
        .await;
    assert!(
        r.json()[0]["text"]
            .as_str()
            .unwrap()
            .contains("curl -X POST")
    );
    // Human output names the section and the URL.
    let r = env
        .run_async(&["search", "evacuate a member for maintenance"])
        .await;
    assert!(
        r.stdout.contains("Evacuate and restore cluster members"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("#cluster-evacuate"), "{}", r.stdout);
}

#[tokio::test]
async fn a_second_mirror_costs_304s_and_only_changed_pages_are_reindexed() {
    let site = Site::start().await;
    let env = Env::new();
    assert_eq!(
        env.run_async(&["mirror", "-q", "--source", &site.url()])
            .await
            .code,
        0
    );
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let first = current_generation(&env, "docs");

    let r = env
        .run_async(&["mirror", "--json", "--source", &site.url()])
        .await;
    let docs = docs_report(&r.json()).clone();
    assert_eq!(docs["not_modified"], 3, "{docs}");
    assert_eq!(docs["changes"]["unchanged"], 3);
    assert_eq!(
        current_generation(&env, "docs"),
        first,
        "nothing changed: no new generation"
    );
    let r = env.run_async(&["index", "--json"]).await;
    assert_eq!(r.json()["pages_updated"], 0);
    assert_eq!(r.json()["sections_written"], 0);

    // Edit one page on the server.
    let page = site
        .root
        .path()
        .join("reference/instance_options/index.html");
    let html = std::fs::read_to_string(&page)
        .unwrap()
        .replace("taken with", "created with");
    std::thread::sleep(Duration::from_millis(1100)); // a new mtime second, so a new ETag
    std::fs::write(&page, html).unwrap();
    let r = env
        .run_async(&["mirror", "--json", "--source", &site.url()])
        .await;
    let docs = docs_report(&r.json()).clone();
    assert_eq!(
        docs["changes"]["changed"],
        serde_json::json!(["reference/instance_options.md"])
    );
    assert_eq!(docs["not_modified"], 2);
    let r = env.run_async(&["index", "--json"]).await;
    let j = r.json();
    assert_eq!(
        (j["pages_updated"].as_u64(), j["pages_added"].as_u64()),
        (Some(1), Some(0)),
        "{j}"
    );
    // Searches pay per segment: the update leaves one, as the first build did.
    let index = incus_ai::knowledge::index::build::current_dir(&env.data().join("index")).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(index.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["segments"].as_array().unwrap().len(), 1, "{meta}");
    let r = env
        .run_async(&["search", "--json", "-n", "1", "snapshots created with"])
        .await;
    assert!(
        r.json()[0]["text"]
            .as_str()
            .unwrap()
            .contains("created with")
    );
}

#[tokio::test]
async fn markdown_sources_expand_includes_substitutions_and_keep_canonical_urls() {
    let env = Env::new();
    env.config("[docs]\ncanonical_base = \"https://linuxcontainers.org/incus/docs/stable-6.0/\"\n");
    let src = fixtures().join("incus-src");
    let r = env
        .run_async(&["mirror", "--json", "--source", src.to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs = docs_report(&r.json()).clone();
    assert_eq!(docs["pages"], 3, "README.md is not published: {docs}");
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);

    let r = env
        .run_async(&["search", "--json", "-n", "1", "boot.autostart"])
        .await;
    let top = &r.json()[0];
    assert_eq!(
        top["url"],
        "https://linuxcontainers.org/incus/docs/stable-6.0/reference/instance_options/#instance-resource-limits:boot.autostart"
    );
    assert_eq!(top["doc_path"], "reference/instance_options.md");
    let r = env
        .run_async(&["search", "--json", "-n", "1", "how are snapshots taken"])
        .await;
    assert!(
        r.json()[0]["text"]
            .as_str()
            .unwrap()
            .contains("incus snapshot create"),
        "substitution expanded"
    );
    let r = env
        .run_async(&[
            "search",
            "--json",
            "-n",
            "1",
            "modern secure powerful system container manager",
        ])
        .await;
    assert_eq!(
        r.json()[0]["doc_path"],
        "index.md",
        "include from the repository README"
    );
    let r = env
        .run_async(&["search", "--json", "-n", "1", "member will never come back"])
        .await;
    let top = &r.json()[0];
    assert!(
        top["url"]
            .as_str()
            .unwrap()
            .ends_with("#deal-with-offline-cluster-members")
    );
    let text = top["text"].as_str().unwrap();
    assert!(
        text.contains("Evacuate and restore cluster members"),
        "{{ref}} resolved to the title: {text}"
    );
    assert!(text.contains("`cluster.offline_threshold`"), "{text}");
}

#[tokio::test]
async fn local_notes_are_their_own_collection() {
    let env = Env::new();
    let notes = env.dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("backups.md"), "# Backups\n\n## Nightly exports\n\nWe export every instance to the NAS at 02:00 with `incus export`.\n").unwrap();
    let src = fixtures().join("incus-src");
    let r = env
        .run_async(&[
            "mirror",
            "-q",
            "--source",
            src.to_str().unwrap(),
            "--local",
            notes.to_str().unwrap(),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "", "-q prints nothing");
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let r = env
        .run_async(&[
            "search",
            "--json",
            "--collection",
            "local",
            "export instances",
        ])
        .await;
    let hits = r.json();
    assert!(!hits.as_array().unwrap().is_empty());
    for h in hits.as_array().unwrap() {
        assert_eq!(h["collection"], "local");
        assert!(h["url"].as_str().unwrap().starts_with("file:///"));
    }
    assert_eq!(hits[0]["section"], "Backups > Nightly exports");
    let r = env
        .run_async(&[
            "search",
            "--json",
            "--collection",
            "docs",
            "NAS nightly export",
        ])
        .await;
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["collection"] == "docs")
    );
}

/// Mirrors the fixture site once, then breaks it; the run must fail with one line naming the
/// URL and leave the last good mirror and index as they were.
async fn fails_and_keeps_the_last_good_mirror(
    site: &Site,
    env: &Env,
    extra: &[&str],
    expect: &str,
) {
    let good = current_generation(env, "docs");
    let mut args = vec!["mirror", "--source"];
    let url = site.url();
    args.push(&url);
    args.extend_from_slice(extra);
    let r = env.run_async(&args).await;
    assert_eq!(r.code, 2, "stdout {} stderr {}", r.stdout, r.stderr);
    let err_lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("incus-ai:"))
        .collect();
    assert_eq!(err_lines.len(), 1, "{}", r.stderr);
    assert!(
        err_lines[0].contains(expect),
        "expected {expect:?} in {}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"));
    assert_eq!(current_generation(env, "docs"), good);
    let r = env
        .run_async(&["search", "--json", "-n", "1", "limits.memory"])
        .await;
    assert_eq!(r.code, 0, "the index still answers: {}", r.stderr);
    site.clear();
}

#[tokio::test]
async fn every_fault_gives_one_line_a_failure_code_and_keeps_the_last_good_mirror() {
    let site = Site::start().await;
    let env = Env::new();
    env.config("[docs]\nfallback = \"\"\n[crawl]\ntimeout_secs = 1\nmax_page_bytes = 200000\n");
    assert_eq!(
        env.run_async(&["mirror", "-q", "--source", &site.url()])
            .await
            .code,
        0
    );
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let page = "/docs/howto/cluster_manage/";

    site.set("/docs/", Response::new(404, "gone"));
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "HTTP 404").await;

    site.set(page, Response::new(500, "boom"));
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "cluster_manage/: HTTP 500").await;

    site.set(
        page,
        Response::new(200, "<html>").delay(Duration::from_secs(3)),
    );
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "timed out").await;

    site.set(page, Response::redirect("http://127.0.0.2:9/elsewhere/"));
    fails_and_keeps_the_last_good_mirror(
        &site,
        &env,
        &[],
        "redirected off-site to http://127.0.0.2:9/elsewhere/",
    )
    .await;

    site.set(
        page,
        Response::new(200, vec![b'<', b'p', b'>', 0xff, 0xfe, b'x']),
    );
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "not UTF-8").await;

    site.set(
        page,
        Response::new(200, "<p>latin1</p>").header("Content-Type", "text/html; charset=iso-8859-1"),
    );
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "charset iso-8859-1").await;

    let huge = format!(
        "<html><body><article role=\"main\"><p>{}</p></article></body></html>",
        "x".repeat(300_000)
    );
    site.set(page, Response::new(200, huge));
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "larger than 200000 bytes").await;

    site.set(
        page,
        Response::new(200, "<html><body><div><p>no article <b>unclosed <i>tags"),
    );
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "no <article role=\"main\">").await;

    let mut cut = Response::new(200, "<html><body><article role=\"main\"><p>".repeat(100));
    cut.cut_after = Some(50);
    site.set(page, cut);
    fails_and_keeps_the_last_good_mirror(&site, &env, &[], "cluster_manage/").await;

    // Unreachable: nothing listens on the port any more.
    let dead = {
        let s = Server::start(Arc::new(|_: &Request| Response::new(200, ""))).await;
        s.url("/docs/")
    };
    let good = current_generation(&env, "docs");
    let r = env.run_async(&["mirror", "--source", &dead]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&dead) && r.stderr.contains("cannot connect"),
        "{}",
        r.stderr
    );
    assert_eq!(current_generation(&env, "docs"), good);

    // Back to normal: the next run works.
    let r = env
        .run_async(&["mirror", "--json", "--source", &site.url()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[tokio::test]
async fn broken_includes_malformed_markdown_and_missing_folders_fail_cleanly() {
    let env = Env::new();
    let src = tempfile::tempdir().unwrap();
    copy_dir(&fixtures().join("incus-src"), src.path());
    let r = env
        .run_async(&["mirror", "-q", "--source", src.path().to_str().unwrap()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let good = current_generation(&env, "docs");
    let page = src.path().join("doc/howto/cluster_manage.md");
    let text = std::fs::read_to_string(&page).unwrap();
    std::fs::write(
        &page,
        format!("{text}\n```{{include}} ../missing_options.txt\n```\n"),
    )
    .unwrap();
    let r = env
        .run_async(&["mirror", "--source", src.path().to_str().unwrap()])
        .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(
            "howto/cluster_manage.md: broken include of ../missing_options.txt: file not found"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(current_generation(&env, "docs"), good);

    let r = env
        .run_async(&["mirror", "--source", "/nonexistent/incus/doc"])
        .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("/nonexistent/incus/doc: no such folder"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn an_unreachable_site_falls_back_to_the_package_docs_and_says_so() {
    let env = Env::new();
    let doc = fixtures().join("incus-src/doc");
    env.config(&format!(
        "[docs]\nsources = [\"http://127.0.0.1:9/incus/docs/main/\"]\nfallback = \"{}\"\n",
        doc.display()
    ));
    let r = env.run_async(&["mirror"]).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("unreachable"), "{}", r.stdout);
    assert!(
        r.stdout.contains("using the installed package's docs"),
        "{}",
        r.stdout
    );
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let r = env
        .run_async(&["search", "--json", "-n", "1", "limits.memory"])
        .await;
    assert_eq!(r.json()[0]["doc_path"], "reference/instance_options.md");
}

#[tokio::test]
async fn the_docs_matching_the_local_servers_version_are_mirrored() {
    let site_dir = tempfile::tempdir().unwrap();
    copy_dir(
        &fixtures().join("site"),
        &site_dir.path().join("stable-6.0"),
    );
    let files = StaticFiles {
        dir: site_dir.path().to_path_buf(),
        prefix: "/incus/docs/".into(),
    };
    let site = Server::start(Arc::new(move |r: &Request| files.answer(r))).await;
    let env = Env::new();
    let socket = env.dir.path().join("incus.socket");
    let _incus = Server::start_unix(
        &socket,
        Arc::new(|r: &Request| {
            assert_eq!(r.method, "GET");
            Response::new(
                200,
                r#"{"type":"sync","status":"Success","status_code":200,"metadata":{"environment":{"server_version":"6.0.4"}}}"#,
            )
            .header("Content-Type", "application/json")
        }),
    )
    .await;
    env.config(&format!(
        "[docs]\nsources = [\"{}\"]\nfallback = \"/nonexistent\"\n",
        site.url("/incus/docs/main/")
    ));
    let mut cmd = tokio::process::Command::from(env.cmd(&["mirror", "--json"]));
    cmd.env("INCUS_SOCKET", &socket);
    let r: support::Run = cmd.output().await.unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let docs = docs_report(&r.json()).clone();
    assert_eq!(
        docs["sources"][0]["used"],
        site.url("/incus/docs/stable-6.0/")
    );
    assert!(
        docs["sources"][0]["note"]
            .as_str()
            .unwrap()
            .contains("Incus server is 6.0.4")
    );
    assert!(docs["pages"].as_u64().unwrap() >= 3, "{docs}");
    assert!(
        site.paths().iter().all(|p| !p.contains("/main/")),
        "{:?}",
        site.paths()
    );
}

#[tokio::test]
async fn a_source_tarball_is_downloaded_and_its_doc_folder_read() {
    let mut tar_gz = Vec::new();
    {
        let enc = flate2::write::GzEncoder::new(&mut tar_gz, flate2::Compression::fast());
        let mut t = tar::Builder::new(enc);
        t.append_dir_all("incus-6.0.4", fixtures().join("incus-src"))
            .unwrap();
        t.into_inner().unwrap().finish().unwrap();
    }
    let server = Server::start(Arc::new(move |r: &Request| {
        if r.path == "/incus-6.0.4.tar.gz" {
            Response::new(200, tar_gz.clone()).header("Content-Type", "application/gzip")
        } else {
            Response::new(404, "")
        }
    }))
    .await;
    let env = Env::new();
    let r = env
        .run_async(&[
            "mirror",
            "--json",
            "--source",
            &server.url("/incus-6.0.4.tar.gz"),
        ])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(docs_report(&r.json())["pages"], 3);

    let r = env
        .run_async(&["mirror", "--source", &server.url("/missing.tar.gz")])
        .await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("missing.tar.gz: HTTP 404"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn a_second_run_is_refused_while_one_holds_the_lock_and_a_killed_run_is_recovered() {
    let site = Site::start().await;
    let env = Env::new();
    env.config("[crawl]\nconcurrency = 1\n");
    assert_eq!(
        env.run_async(&["mirror", "-q", "--source", &site.url()])
            .await
            .code,
        0
    );
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    let good = current_generation(&env, "docs");

    // A slow site keeps the first run busy.
    let slow = Response::new(
        200,
        std::fs::read(site.root.path().join("index.html")).unwrap(),
    )
    .delay(Duration::from_secs(3));
    site.set("/docs/", slow);
    let mut first =
        tokio::process::Command::from(env.cmd(&["mirror", "-q", "--source", &site.url()]))
            .spawn()
            .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let second = env.run_async(&["index"]).await;
    assert_eq!(second.code, 75, "{}", second.stderr);
    assert!(
        second.stderr.contains("another incus-ai run"),
        "{}",
        second.stderr
    );

    // Kill the first one mid-way: the mirror and the index stay as they were.
    first.kill().await.unwrap();
    let _ = first.wait().await;
    assert_eq!(current_generation(&env, "docs"), good);
    // An interrupted commit leaves only temporary folders, which the next run clears.
    std::fs::create_dir_all(env.data().join("mirror/docs/gen-000099.tmp/pages")).unwrap();
    std::fs::create_dir_all(env.data().join("index/gen-000099.tmp")).unwrap();
    site.clear();
    let r = env
        .run_async(&["mirror", "--json", "--source", &site.url()])
        .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(env.run_async(&["index", "-q"]).await.code, 0);
    assert!(!env.data().join("mirror/docs/gen-000099.tmp").exists());
    let r = env
        .run_async(&["search", "--json", "-n", "1", "limits.memory"])
        .await;
    assert_eq!(r.code, 0);
}

#[tokio::test]
async fn bad_input_gives_one_line_and_exit_2() {
    let env = Env::new();
    let r = env.run_async(&["search", "anything"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no index") && r.stderr.contains("incus-ai mirror"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1);

    env.config("[docs\nsources = 1\n");
    let r = env.run_async(&["search", "anything"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("config.toml"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    std::fs::remove_file(env.config_path()).unwrap();
    let r = env.run_async(&["index"]).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("run `incus-ai mirror` first"),
        "{}",
        r.stderr
    );

    let r = env.run_async(&["mirror", "--source", "http://[::1"]).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad source"), "{}", r.stderr);
}
