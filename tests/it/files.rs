//! Files an admin's bad day holds: a full disk gives back what a failed run wrote, AIChat's
//! configuration is edited where it really lives with its owner and mode (or not at all), a
//! read-only index is searched, and configuration files that are not files are refused.
//! The tests that mount a tmpfs need root (`make test` runs as root); without it they say so
//! and pass.

use crate::support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{Env, fixtures};

fn root() -> bool {
    // SAFETY: geteuid has no preconditions.
    let yes = unsafe { libc::geteuid() } == 0;
    if !yes {
        eprintln!("skipped: needs root to mount a tmpfs");
    }
    yes
}

/// A mounted tmpfs of `mib` MiB, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn new(mib: u32) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Bytes in use.
    fn used(&self) -> u64 {
        let out = Command::new("df")
            .args(["--output=used", "-B1"])
            .arg(self.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn read_only(&self) {
        let ok = Command::new("mount")
            .args(["-o", "remount,ro"])
            .arg(self.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount ro");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.path()).status();
    }
}

/// Names under `dir` that end in `.tmp` (what a run left half-written).
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.to_string_lossy().ends_with(".tmp") {
            out.push(p.clone());
        }
        if p.is_dir() && !p.is_symlink() {
            out.extend(leftovers(&p));
        }
    }
    out
}

/// A docs tree of `pages` pages of about `kib` KiB of distinct words each.
fn docs(dir: &Path, pages: usize, kib: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("index.md"), "# Index\n\nThe start page.\n").unwrap();
    for p in 0..pages {
        let mut text = format!("# Page {p}\n\n");
        let mut n = p * 7919;
        while text.len() < kib << 10 {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            text.push_str(&format!("w{:x} ", n >> 40));
            if text.len() % 900 < 8 {
                text.push_str("\n\n");
            }
        }
        std::fs::write(dir.join(format!("page{p}.md")), text).unwrap();
    }
}

#[test]
fn a_full_disk_fails_in_one_line_and_gives_back_what_the_run_wrote() {
    if !root() {
        return;
    }
    let fs = Tmpfs::new(24);
    let env = Env::new();
    let data = fs.path().join("data");
    let src = fixtures().join("incus-src");
    let run = |args: &[&str]| -> support::Run {
        env.cmd(args)
            .env("INCUS_AI_DATA_DIR", &data)
            .output()
            .unwrap()
            .into()
    };
    let r = run(&[
        "refresh",
        "-q",
        "--no-export",
        "--source",
        src.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let good = fs.used();

    // The mirror step runs out of space.
    let big = env.dir.path().join("big");
    docs(&big, 300, 96);
    let r = run(&[
        "refresh",
        "-q",
        "--no-export",
        "--source",
        big.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("No space left"), "{}", r.stderr);
    assert!(leftovers(&data).is_empty(), "{:?}", leftovers(&data));
    assert!(
        fs.used() < good + (1 << 20),
        "{} bytes in use, {good} before",
        fs.used()
    );
    let r = run(&["search", "--json", "cluster"]);
    assert_eq!(r.code, 0, "the last good index still answers: {}", r.stderr);

    // The index step runs out of space (the mirror fitted).
    let mid = env.dir.path().join("mid");
    docs(&mid, 40, 24);
    let r = run(&["mirror", "-q", "--source", mid.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let free = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(fs.path())
        .output()
        .unwrap();
    let avail: u64 = String::from_utf8_lossy(&free.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let filler = fs.path().join("filler");
    std::fs::write(&filler, vec![0u8; (avail - (300 << 10)) as usize]).unwrap();
    let before = fs.used();
    let r = run(&["index", "-q"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert!(leftovers(&data).is_empty(), "{:?}", leftovers(&data));
    assert!(
        fs.used() <= before + (64 << 10),
        "{} bytes in use, {before} before",
        fs.used()
    );
    std::fs::remove_file(&filler).unwrap();
    let r = run(&["search", "--json", "cluster"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn aichats_config_is_edited_where_it_lives_with_its_owner_and_mode_or_not_at_all() {
    use incus_ai::aichat::local_client::install;
    let d = tempfile::tempdir().unwrap();
    let dotfiles = d.path().join("dotfiles");
    let conf = d.path().join("aichat");
    std::fs::create_dir_all(&dotfiles).unwrap();
    std::fs::create_dir_all(&conf).unwrap();
    let original =
        "model: local:chat\nclients:\n- type: openai\n  api_key: sk-admins-own-key-0001\n";
    let real = dotfiles.join("config.yaml");
    std::fs::write(&real, original).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let owner = if root() {
        4321
    } else {
        unsafe { libc::geteuid() }
    };
    std::os::unix::fs::chown(&real, Some(owner), Some(owner)).unwrap();
    let link = conf.join("config.yaml");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let r = install(
        &link,
        "http://127.0.0.1:8765/v1",
        "all-MiniLM-L6-v2",
        64,
        true,
    )
    .unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let after = std::fs::read_to_string(&real).unwrap();
    assert!(after.contains("name: incus-ai") && after.contains("sk-admins-own-key-0001"));
    for f in [real.clone(), r.backup.clone().unwrap()] {
        let m = std::fs::metadata(&f).unwrap();
        assert_eq!(m.mode() & 0o777, 0o640, "{}", f.display());
        assert_eq!((m.uid(), m.gid()), (owner, owner), "{}", f.display());
    }
    assert_eq!(
        std::fs::read_to_string(r.backup.unwrap()).unwrap(),
        original
    );

    // A file that cannot be written: an error, and nothing left behind (no backup of the key).
    if !root() {
        return;
    }
    let ro = Tmpfs::new(1);
    let locked = ro.path().join("config.yaml");
    std::fs::write(&locked, original).unwrap();
    ro.read_only();
    let conf2 = d.path().join("aichat2");
    std::fs::create_dir_all(&conf2).unwrap();
    let link2 = conf2.join("config.yaml");
    std::os::unix::fs::symlink(&locked, &link2).unwrap();
    let e = install(
        &link2,
        "http://127.0.0.1:8765/v1",
        "all-MiniLM-L6-v2",
        64,
        true,
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot write"), "{e}");
    assert_eq!(
        std::fs::read_dir(&conf2).unwrap().count(),
        1,
        "only the link"
    );
    assert_eq!(std::fs::read_to_string(&locked).unwrap(), original);
}

#[test]
fn a_read_only_index_is_searched_without_a_lock() {
    if !root() {
        return;
    }
    let env = Env::new();
    let src = fixtures().join("incus-src");
    assert_eq!(
        env.run(&["mirror", "-q", "--source", src.to_str().unwrap()])
            .code,
        0
    );
    assert_eq!(env.run(&["index", "-q"]).code, 0);
    let ro = tempfile::tempdir().unwrap();
    let bind = |args: &[&str]| {
        assert!(
            Command::new("mount").args(args).status().unwrap().success(),
            "{args:?}"
        );
    };
    let (from, to) = (env.data(), ro.path().to_path_buf());
    bind(&["--bind", from.to_str().unwrap(), to.to_str().unwrap()]);
    bind(&["-o", "remount,bind,ro", to.to_str().unwrap()]);
    let run = |args: &[&str]| -> support::Run {
        env.cmd(args)
            .env("INCUS_AI_DATA_DIR", &to)
            .output()
            .unwrap()
            .into()
    };
    let r = run(&["search", "--json", "cluster member"]);
    let search = (r.code, r.stderr.clone(), r.stdout.contains("\"url\""));
    let r = run(&["tool", "search_docs", r#"{"query": "cluster member"}"#]);
    let tool = r.stdout.clone();
    let _ = Command::new("umount").arg(&to).status();
    assert_eq!((search.0, search.2), (0, true), "{}", search.1);
    assert!(tool.contains("\"url\""), "{tool}");
}

#[test]
fn config_files_that_are_not_files_and_a_missing_home_are_refused_in_one_line() {
    let env = Env::new();
    let fifo = env.dir.path().join("config.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid path string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for config in [fifo.to_str().unwrap(), "/dev/zero"] {
        let start = Instant::now();
        let r = env.run(&["--config", config, "search", "x"]);
        assert!(start.elapsed() < Duration::from_secs(10));
        assert_eq!(r.code, 2, "{config}: {}", r.stderr);
        assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
        assert!(r.stderr.contains("not a regular file"), "{}", r.stderr);
    }
    let r: support::Run = env
        .cmd(&["search", "x"])
        .env_remove("HOME")
        .env_remove("INCUS_AI_DATA_DIR")
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("HOME is not set"), "{}", r.stderr);
}
