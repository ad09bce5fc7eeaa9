//! The real three-member Incus clusters on loopback (tests/cluster/incus-cluster.sh), each
//! started once, by the first live test that asks for it, and torn down when the test binary
//! exits if this run started it. The doctor and administration tests take turns on the shared
//! cluster, filled with sample content (each leaves every member running); the watch test has
//! an empty cluster of its own on other addresses, so it runs beside them. libtest runs tests
//! in the order of their names: the live modules are named so that the two chains start at
//! once (`it::admin_live`, then `it::alerts_live`, then `it::doctor_live`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, Once, OnceLock};

use super::{Env, Run};

/// Where a cluster lives and what it holds.
struct Spec {
    /// Its `ICL_ROOT`.
    root: &'static str,
    /// Member N listens on 127.0.0.(offset + N).
    host_offset: &'static str,
    /// Sample content (image, pools, projects, instances): only one cluster may hold it, its
    /// running instances' names being the host's.
    sample: bool,
}

const SHARED: Spec = Spec {
    root: "/var/lib/incus-ai-test",
    host_offset: "20",
    sample: true,
};
const APART: Spec = Spec {
    root: "/var/lib/incus-ai-test-apart",
    host_offset: "30",
    sample: false,
};

static SHARED_CLUSTER: OnceLock<Cluster> = OnceLock::new();
static SHARED_TURN: Mutex<()> = Mutex::new(());
static APART_CLUSTER: OnceLock<Cluster> = OnceLock::new();
static APART_TURN: Mutex<()> = Mutex::new(());
static TEAR_DOWN: Once = Once::new();

/// One live test's turn on a cluster.
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
        let _ = self.cluster.sh(&["start", "m2"]);
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
    for c in [SHARED_CLUSTER.get(), APART_CLUSTER.get()]
        .into_iter()
        .flatten()
    {
        if c.started {
            let _ = c.sh(&["down"]);
        }
    }
}

/// A running test cluster.
pub struct Cluster {
    pub root: PathBuf,
    spec: &'static Spec,
    env: Vec<(String, String)>,
    started: bool,
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cluster/incus-cluster.sh")
}

/// The harness on the cluster of `spec`.
fn harness(spec: &Spec, args: &[&str]) -> std::process::Output {
    Command::new("bash")
        .arg(script())
        .args(args)
        .env("ICL_ROOT", spec.root)
        .env("ICL_HOST_OFFSET", spec.host_offset)
        .env("ICL_SAMPLE", if spec.sample { "1" } else { "0" })
        .output()
        .expect("run the harness")
}

impl Cluster {
    /// The shared cluster with sample content, started when no test has yet; waits for this
    /// test's turn.
    pub fn up() -> Live {
        Cluster::take(&SHARED, &SHARED_CLUSTER, &SHARED_TURN)
    }

    /// An empty cluster of its own, for a test that runs beside the shared cluster's.
    pub fn apart() -> Live {
        Cluster::take(&APART, &APART_CLUSTER, &APART_TURN)
    }

    fn take(
        spec: &'static Spec,
        slot: &'static OnceLock<Cluster>,
        turn: &'static Mutex<()>,
    ) -> Live {
        let turn = turn.lock().unwrap_or_else(|e| e.into_inner());
        let cluster = slot.get_or_init(|| {
            let c = Cluster::start(spec);
            if c.started {
                // SAFETY: registers a plain function to run at exit.
                TEAR_DOWN.call_once(|| unsafe {
                    libc::atexit(tear_down);
                });
            }
            c
        });
        Live {
            _turn: turn,
            cluster,
        }
    }

    fn start(spec: &'static Spec) -> Cluster {
        let root = PathBuf::from(spec.root);
        // In CI (`CI` set) the tests always make their own cluster: one that looks healthy
        // may still carry what a run stopped mid-test changed.
        let was_up =
            harness(spec, &["status"]).status.success() && std::env::var_os("CI").is_none();
        if !was_up {
            // Whatever an earlier run left (members killed mid-test, warnings and failed
            // operations of its faults) is not the healthy cluster the tests start from.
            let out = harness(spec, &["down"]);
            assert!(
                out.status.success(),
                "harness down failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let out = harness(spec, &["up"]);
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
            spec,
            env,
            started: !was_up,
        }
    }

    /// The harness on this cluster (`kill m2`, `start m2`, `wait m2 Online 60`, ...).
    pub fn sh(&self, args: &[&str]) -> std::process::Output {
        harness(self.spec, args)
    }

    pub fn var(&self, k: &str) -> String {
        self.env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k}"))
    }

    /// Waits (up to 60 s each) until `member` is Online and member 1 reaches it: a member
    /// that has just rejoined may still present its own certificate instead of the cluster's
    /// for a moment, and requests forwarded to it fail TLS verification meanwhile.
    pub fn wait_up(&self, member: &str) -> bool {
        if !self.sh(&["wait", member, "Online", "60"]).status.success() {
            return false;
        }
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_secs(60) {
            let target = format!("/1.0?target={member}");
            if self.incus(&["query", &target]).status.success() {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(500));
        }
        false
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
