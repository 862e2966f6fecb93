//! Two `flotilla serve` replicas on one store, on real testbed hosts:
//! - failover: a replica killed with SIGKILL -> each of its machines checked again by
//!   the other (the check's own time, from the store's health rows), per kill, over
//!   FLOTILLA_BENCH_RUNS kills (default 3), at a FLOTILLA_BENCH_INTERVAL_MS monitor
//!   interval (default 1000);
//! - monitor capacity with both replicas: the checks they make per interval of
//!   FLOTILLA_BENCH_HOSTS hosts (default 8) over FLOTILLA_BENCH_SECS (default 20), the
//!   CPU each replica process spends per check, and the machines one core would keep
//!   at the default 5 s interval by that measure (times two replicas).
//!
//!     cargo bench --bench replicas
//!
//! The hosts are made with the real `flotilla create` and removed at the end, also when
//! the bench fails.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flotilla::api::{now_ms, replica_for, Fleet, Health};
use flotilla::engine::Local;
use flotilla::paths::Paths;

const IMAGE: &str = "flotilla-host:bookworm-docker";

fn env_num(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

/// Removes every machine of the fleet when the bench ends, however it ends.
struct Cleanup {
    home: std::path::PathBuf,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args(["ls", "-q"])
            .env("FLOTILLA_HOME", &self.home)
            .output();
        let names = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for n in names.lines() {
            let _ = Command::new(env!("CARGO_BIN_EXE_flotilla"))
                .args(["rm", "-f", "-y", n])
                .env("FLOTILLA_HOME", &self.home)
                .output();
        }
    }
}

/// A `flotilla serve` on the shared home, named `name`.
struct Replica {
    child: Option<Child>,
    pid: u32,
}

impl Replica {
    fn start(home: &Path, name: &str, interval_ms: u64) -> Replica {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flotilla"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--unsafe-local-container-hosts",
                "--monitor-interval",
                &format!("{interval_ms}ms"),
                "--replica-name",
                name,
            ])
            .env("FLOTILLA_HOME", home)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start flotilla serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        for line in lines.by_ref() {
            if line.expect("serve output").starts_with("replica ") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Replica {
            pid: child.id(),
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// CPU seconds (user + system) the process has used.
    fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).unwrap_or_default();
        let Some((_, after)) = stat.rsplit_once(')') else {
            return 0.0;
        };
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
            + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        ticks / hz
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn rows(fleet: &Local) -> BTreeMap<String, Health> {
    fleet
        .health(&[], false)
        .await
        .expect("health")
        .into_iter()
        .map(|h| (h.machine.clone(), h))
        .collect()
}

/// Waits until every machine's latest check since `after_ms` is by its replica among
/// `live`.
async fn settled(fleet: &Local, names: &[String], live: &[String], after_ms: i64) {
    let t = Instant::now();
    loop {
        let h = rows(fleet).await;
        let ok = names.iter().all(|n| {
            h.get(n).is_some_and(|h| {
                h.checked_ms > after_ms && h.checked_by.as_deref() == replica_for(n, live)
            })
        });
        if ok {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(180),
            "the machines were not shared out as {live:?} within 3 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn main() {
    support::require_testbed(IMAGE);
    let hosts = env_num("FLOTILLA_BENCH_HOSTS", 8) as usize;
    let runs = support::runs(3);
    let interval_ms = env_num("FLOTILLA_BENCH_INTERVAL_MS", 1000);
    let secs = env_num("FLOTILLA_BENCH_SECS", 20);
    let home = tempfile::tempdir().expect("temp dir");
    let _cleanup = Cleanup {
        home: home.path().to_path_buf(),
    };
    let tag = std::process::id() % 0x10000;
    let names: Vec<String> = (0..hosts).map(|i| format!("brep-{tag:04x}-{i}")).collect();
    eprintln!("creating {hosts} hosts ...");
    for chunk in names.chunks(4) {
        let children: Vec<_> = chunk
            .iter()
            .map(|n| {
                Command::new(env!("CARGO_BIN_EXE_flotilla"))
                    .args(["create", "-d", "container", "--container-image", IMAGE, n])
                    .env("FLOTILLA_HOME", home.path())
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run flotilla create")
            })
            .collect();
        for c in children {
            let out = c.wait_with_output().expect("wait for create");
            assert!(
                out.status.success(),
                "create: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        // This process only reads the store: no monitor, no replica.
        let fleet = Local::open(Paths::at(home.path()), Default::default())
            .await
            .expect("open fleet");
        let ab = vec!["a".to_string(), "b".to_string()];
        let only_b = vec!["b".to_string()];
        let mut b = Replica::start(home.path(), "b", interval_ms);
        let mut failovers = Vec::new();
        let mut cap = None;
        for run in 0..runs {
            let mut a = Replica::start(home.path(), "a", interval_ms);
            settled(&fleet, &names, &ab, now_ms()).await;
            if run == 0 {
                cap = Some(capacity(&fleet, &names, &a, &b, secs, interval_ms).await);
            }
            let of_a: Vec<String> = names
                .iter()
                .filter(|n| replica_for(n, &ab) == Some("a"))
                .cloned()
                .collect();
            if of_a.is_empty() {
                eprintln!("run {run}: a checks none of the {hosts} machines; skipped");
                continue;
            }
            let killed = now_ms();
            a.kill();
            // Each of A's machines: the time of its first check by B after the kill.
            let mut taken: BTreeMap<String, i64> = BTreeMap::new();
            let t = Instant::now();
            while taken.len() < of_a.len() {
                let h = rows(&fleet).await;
                for n in &of_a {
                    if let Some(h) = h.get(n) {
                        if h.checked_ms > killed && h.checked_by.as_deref() == Some("b") {
                            taken.entry(n.clone()).or_insert(h.checked_ms - killed);
                        }
                    }
                }
                assert!(
                    t.elapsed() < Duration::from_secs(120),
                    "b did not take a's machines within 2 minutes: {taken:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let worst = taken.values().copied().max().unwrap_or(0);
            eprintln!(
                "run {run}: a checked {} machine(s); all checked again by b {worst} ms after the kill",
                of_a.len()
            );
            failovers.push(worst);
            settled(&fleet, &names, &only_b, killed).await;
        }
        b.kill();
        failovers.sort_unstable();
        if let Some(median) = failovers.get(failovers.len() / 2) {
            println!(
                "failover (SIGKILL -> every machine of the killed replica checked again), {} runs, interval {interval_ms} ms: median {median} ms ({:.2} intervals), worst {} ms; expiry {} ms",
                failovers.len(),
                *median as f64 / interval_ms as f64,
                failovers.last().copied().unwrap_or(0),
                flotilla::api::replica_ttl(interval_ms).as_millis()
            );
        }
        if let Some((per_interval, cpu_a, cpu_b)) = cap {
            let per_check = (cpu_a + cpu_b) / 2.0;
            println!(
                "capacity with 2 replicas: {per_interval:.1} checks per {interval_ms} ms interval observed for {hosts} machines; CPU per check: a {:.2} ms, b {:.2} ms; one core per replica keeps ~{:.0} machines at a 5 s interval, two replicas ~{:.0}",
                cpu_a * 1000.0,
                cpu_b * 1000.0,
                5.0 / per_check,
                2.0 * 5.0 / per_check
            );
        }
    });
}

/// Checks observed per interval across both replicas over `secs`, and each replica's
/// CPU seconds per check it made.
async fn capacity(
    fleet: &Local,
    names: &[String],
    a: &Replica,
    b: &Replica,
    secs: u64,
    interval_ms: u64,
) -> (f64, f64, f64) {
    let mut seen: BTreeSet<(String, i64, String)> = BTreeSet::new();
    let (cpu_a0, cpu_b0) = (a.cpu_secs(), b.cpu_secs());
    let start = now_ms();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        for (n, h) in rows(fleet).await {
            if h.checked_ms > start && names.contains(&n) {
                seen.insert((n, h.checked_ms, h.checked_by.unwrap_or_default()));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (cpu_a, cpu_b) = (a.cpu_secs() - cpu_a0, b.cpu_secs() - cpu_b0);
    let by = |r: &str| seen.iter().filter(|(_, _, by)| by == r).count().max(1) as f64;
    let intervals = (secs * 1000) as f64 / interval_ms as f64;
    (
        seen.len() as f64 / intervals,
        cpu_a / by("a"),
        cpu_b / by("b"),
    )
}
