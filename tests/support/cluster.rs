//! The real three-member Incus cluster on loopback (tests/cluster/incus-cluster.sh): started
//! by the first test that needs it, torn down by the one that started it.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Env, Run};

/// A running test cluster.
pub struct Cluster {
    pub root: PathBuf,
    env: Vec<(String, String)>,
    started: bool,
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/incus-cluster.sh")
}

pub fn sh(args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("run the harness")
}

impl Cluster {
    pub fn up() -> Cluster {
        let root = PathBuf::from("/var/lib/incus-ai-test");
        let was_up = sh(&["status"]).status.success();
        let out = sh(&["up"]);
        assert!(
            out.status.success(),
            "harness up failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = std::fs::read_to_string(root.join("env")).unwrap();
        let env = text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| {
                let v = v.split("   #").next().unwrap().trim().trim_matches('\'');
                (k.to_string(), v.to_string())
            })
            .collect();
        Cluster {
            root,
            env,
            started: !was_up,
        }
    }

    pub fn var(&self, k: &str) -> String {
        self.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k}"))
    }

    /// `incus` against member 1's socket.
    pub fn incus(&self, args: &[&str]) -> std::process::Output {
        Command::new("incus")
            .arg("--force-local")
            .args(args)
            .env("INCUS_DIR", self.var("ICL_M1_DIR"))
            .env("INCUS_CONF", self.root.join("client-conf"))
            .output()
            .expect("run incus")
    }

    pub fn ok(&self, args: &[&str]) {
        let o = self.incus(args);
        assert!(
            o.status.success(),
            "incus {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    pub fn doctor(&self, env: &Env, extra: &[&str]) -> Run {
        let mut args = vec!["doctor", "--json"];
        args.extend_from_slice(extra);
        let mut c = env.cmd(&args);
        c.env("INCUS_SOCKET", self.var("ICL_M1_SOCKET"));
        c.output().unwrap().into()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Tear down only a cluster this test started.
        if self.started {
            let _ = sh(&["down"]);
        } else {
            let _ = sh(&["start", "m2"]);
        }
    }
}
