//! The real three-member Incus cluster on loopback (tests/cluster/incus-cluster.sh): started
//! once, by the first live test, for every live test of the run; the live tests take turns
//! (each leaves every member running); torn down when the test binary exits, if this run
//! started it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::{Env, Run};

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static TURN: Mutex<()> = Mutex::new(());

/// One live test's turn on the shared cluster.
pub struct Live {
    _turn: MutexGuard<'static, ()>,
    cluster: &'static Cluster,
}

impl std::ops::Deref for Live {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        self.cluster
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // The next test starts with every member running and no failed operation still
        // listed (Incus keeps finished operations for a few seconds).
        let _ = sh(&["start", "m2"]);
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(20) {
            let o = self
                .cluster
                .incus(&["query", "/1.0/operations?all-projects=true"]);
            let failed = serde_json::from_slice::<serde_json::Value>(&o.stdout)
                .ok()
                .and_then(|v| v["failure"].as_array().map(Vec::len))
                .unwrap_or(0);
            if o.status.success() && failed == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
    }
}

extern "C" fn tear_down() {
    let _ = sh(&["down"]);
}

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
    /// The shared cluster, started when no test has yet; waits for this test's turn.
    pub fn up() -> Live {
        let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
        let cluster = CLUSTER.get_or_init(|| {
            let c = Cluster::start();
            if c.started {
                // SAFETY: registers a plain function to run at exit.
                unsafe { libc::atexit(tear_down) };
            }
            c
        });
        Live {
            _turn: turn,
            cluster,
        }
    }

    fn start() -> Cluster {
        let root = PathBuf::from("/var/lib/incus-ai-test");
        // In CI (`CI` set) the tests always make their own cluster: one that looks healthy
        // may still carry what a run stopped mid-test changed.
        let was_up = sh(&["status"]).status.success() && std::env::var_os("CI").is_none();
        if !was_up {
            // Whatever an earlier run left (members killed mid-test, warnings and failed
            // operations of its faults) is not the healthy cluster the tests start from.
            let out = sh(&["down"]);
            assert!(
                out.status.success(),
                "harness down failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
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
        self.incus_on(1, args)
    }

    /// `incus` against member `n`'s socket.
    pub fn incus_on(&self, n: u8, args: &[&str]) -> std::process::Output {
        Command::new("incus")
            .arg("--force-local")
            .args(args)
            .env("INCUS_DIR", self.var(&format!("ICL_M{n}_DIR")))
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

    /// Deletes an instance, waiting out a stop that races the delete: an
    /// instance whose start just failed can be stopping on its own while
    /// `delete --force` tries to stop it ("The instance is already stopped").
    pub fn delete_instance(&self, name: &str) {
        let mut last = String::new();
        for _ in 0..20 {
            let o = self.incus(&["delete", name, "--force"]);
            if o.status.success() {
                return;
            }
            last = String::from_utf8_lossy(&o.stderr).into_owned();
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        panic!("incus delete {name} --force: {last}");
    }

    pub fn doctor(&self, env: &Env, extra: &[&str]) -> Run {
        let mut args = vec!["doctor", "--json"];
        args.extend_from_slice(extra);
        let mut c = env.cmd(&args);
        c.env("INCUS_SOCKET", self.var("ICL_M1_SOCKET"));
        c.output().unwrap().into()
    }
}
