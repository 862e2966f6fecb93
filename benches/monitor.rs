//! The monitor's cost and speed on real testbed hosts:
//! - CPU time of this process per machine-check and its resident memory, with
//!   FLOTILLA_BENCH_HOSTS (default 20) hosts checked every second for
//!   FLOTILLA_BENCH_SECS (default 30) seconds, and the largest fleet one core could keep
//!   at the default 5 s interval by that measure;
//! - the time from `systemctl stop docker` on a host to its health_changed event, at a
//!   1 s and at the default 5 s interval (hysteresis 2).
//!
//!     cargo bench --bench monitor
//!
//! The hosts are made with the real `flotilla create` (a few at a time) and removed at
//! the end, also when the bench fails.

mod support;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flotilla::api::{EventKind, Fleet, HealthStatus, MonitorSettings};
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

fn flotilla(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .env_remove("DOCKER_HOST")
        .output()
        .expect("run flotilla")
}

/// Removes every machine of the fleet when the bench ends, however it ends.
struct Cleanup {
    home: std::path::PathBuf,
    names: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let children: Vec<_> = self
            .names
            .iter()
            .filter_map(|n| {
                Command::new(env!("CARGO_BIN_EXE_flotilla"))
                    .args(["rm", "-f", "-y", n])
                    .env("FLOTILLA_HOME", &self.home)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .ok()
            })
            .collect();
        for mut c in children {
            let _ = c.wait();
        }
    }
}

/// CPU seconds (user + system) this process has used.
fn cpu_secs() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own; RUSAGE_SELF is always valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    assert_eq!(rc, 0, "getrusage");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// VmRSS and VmHWM of this process, in MiB.
fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(0.0, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU seconds the local Docker daemon has used (the driver's state inspections land
/// there). Its pid comes from its pid file: the hosts' own dockerds are visible too.
fn dockerd_cpu_secs() -> Option<f64> {
    let pid = std::fs::read_to_string("/var/run/docker.pid").ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Some(ticks / hz)
}

fn main() {
    support::require_testbed(IMAGE);
    let hosts = env_num("FLOTILLA_BENCH_HOSTS", 20) as usize;
    // Each host's systemd takes several inotify instances; the kernel's default cap
    // (128 per user, shared by every root process) stops the 17th host or so from booting.
    let inotify: usize = std::fs::read_to_string("/proc/sys/fs/inotify/max_user_instances")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if inotify < hosts * 10 + 128 {
        eprintln!(
            "fs.inotify.max_user_instances is {inotify}: too low for {hosts} system-container hosts; \
             raise it first: sysctl -w fs.inotify.max_user_instances=1024"
        );
        std::process::exit(1);
    }
    let secs = env_num("FLOTILLA_BENCH_SECS", 30);
    let home = tempfile::tempdir().expect("temp dir");
    let tag = std::process::id() % 0x10000;
    let names: Vec<String> = (0..hosts).map(|i| format!("bmon-{tag:04x}-{i}")).collect();
    let _cleanup = Cleanup {
        home: home.path().to_path_buf(),
        names: names.clone(),
    };

    eprintln!("creating {hosts} hosts ...");
    let t = Instant::now();
    for chunk in names.chunks(4) {
        let children: Vec<_> = chunk
            .iter()
            .map(|n| {
                Command::new(env!("CARGO_BIN_EXE_flotilla"))
                    .args(["create", "-d", "container", "--container-image", IMAGE, n])
                    .env("FLOTILLA_HOME", home.path())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
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
    eprintln!("created {hosts} hosts in {:.0?}", t.elapsed());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let local = Local::open(Paths::at(home.path()), Default::default())
            .await
            .expect("open fleet");
        let fleet: Arc<dyn Fleet> = Arc::new(local);
        cost(&fleet, hosts, secs).await;
        latency(&fleet, home.path(), &names[0]).await;
    });
}

async fn cost(fleet: &Arc<dyn Fleet>, hosts: usize, secs: u64) {
    let (rss_before, _) = rss_mib();
    fleet
        .start_monitor(MonitorSettings {
            interval_ms: 1_000,
            ..MonitorSettings::default()
        })
        .await
        .expect("start the monitor");
    // Warm up: every host checked a few times, so connections are made and kept.
    let warm = Instant::now();
    loop {
        let h = fleet.health(&[], false).await.expect("health");
        let healthy = h
            .iter()
            .filter(|h| h.status == HealthStatus::Healthy)
            .count();
        if healthy == hosts {
            break;
        }
        assert!(
            warm.elapsed() < Duration::from_secs(120),
            "only {healthy} of {hosts} hosts healthy after 2 minutes: {:#?}",
            h.iter()
                .filter(|h| h.status != HealthStatus::Healthy)
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;

    let names: Vec<String> = fleet
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .collect();
    let count = |from_ms: i64, to_ms: i64| {
        let fleet = fleet.clone();
        let names = names.clone();
        async move {
            let mut n = 0;
            for name in &names {
                n += fleet
                    .health_history(name)
                    .await
                    .expect("history")
                    .iter()
                    .filter(|s| s.time_ms >= from_ms && s.time_ms < to_ms)
                    .count();
            }
            n
        }
    };
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    };
    let (cpu0, d0, t0, ms0) = (cpu_secs(), dockerd_cpu_secs(), Instant::now(), now_ms());
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let (cpu1, d1, wall, ms1) = (cpu_secs(), dockerd_cpu_secs(), t0.elapsed(), now_ms());
    let checks = count(ms0, ms1).await;
    let (rss, hwm) = rss_mib();
    let cpu = cpu1 - cpu0;
    let per_check = cpu / checks.max(1) as f64;
    println!(
        "monitor cost: {hosts} hosts at a 1 s interval for {:.1} s",
        wall.as_secs_f64()
    );
    println!(
        "  checks: {checks} ({:.1}/s)",
        checks as f64 / wall.as_secs_f64()
    );
    println!(
        "  CPU of this process: {cpu:.3} s = {:.1}% of one core; {:.3} ms per machine-check",
        cpu * 100.0 / wall.as_secs_f64(),
        per_check * 1000.0
    );
    if let (Some(a), Some(b)) = (d0, d1) {
        println!(
            "  CPU of the local dockerd (driver state inspections): {:.3} ms per check",
            (b - a) * 1000.0 / checks.max(1) as f64
        );
    }
    println!("  resident memory: {rss:.1} MiB (peak {hwm:.1} MiB; {rss_before:.1} MiB before the monitor started)");
    println!(
        "  one core at a 5 s interval keeps about {:.0} machines (5 s / {:.3} ms)",
        5.0 / per_check,
        per_check * 1000.0
    );
}

/// Stops docker on `name` and times the health_changed event; then starts it again and
/// waits until it is healthy. Returns the time to the degraded event.
async fn one_stop(fleet: &Arc<dyn Fleet>, name: &str, timeout: Duration) -> Duration {
    let mut rx = fleet.subscribe();
    let out = Command::new("docker")
        .args(["exec", name, "systemctl", "stop", "docker"])
        .output()
        .expect("docker exec");
    let t = Instant::now();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let took = loop {
        let left = timeout.saturating_sub(t.elapsed());
        let ev = tokio::time::timeout(left, rx.recv())
            .await
            .expect("no health_changed event in time");
        if let Ok(ev) = ev {
            if let EventKind::HealthChanged { machine, to, .. } = &ev.kind {
                if machine == name && *to == HealthStatus::Degraded {
                    break t.elapsed();
                }
            }
        }
    };
    // reset-failed: systemd refuses a fourth start within a minute otherwise.
    let out = Command::new("docker")
        .args([
            "exec",
            name,
            "sh",
            "-c",
            "systemctl reset-failed docker; systemctl start docker",
        ])
        .output()
        .expect("docker exec");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back = Instant::now();
    loop {
        let h = fleet
            .health(&[name.to_string()], false)
            .await
            .expect("health");
        if h[0].status == HealthStatus::Healthy {
            break;
        }
        assert!(back.elapsed() < timeout, "{name} not healthy again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    took
}

async fn latency(fleet: &Arc<dyn Fleet>, home: &std::path::Path, name: &str) {
    // Only one host from here: the others would only add noise.
    let others: Vec<String> = fleet
        .list()
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.name)
        .filter(|n| n != name)
        .collect();
    for n in &others {
        let out = flotilla(home, &["rm", "-f", "-y", n]);
        assert!(out.status.success(), "rm {n}");
    }
    for interval_ms in [1_000u64, 5_000] {
        fleet
            .start_monitor(MonitorSettings {
                interval_ms,
                // On the testbed every host reports the machine's load, which the 20
                // hosts just raised: only docker's absence should change the status here.
                load_per_cpu_max: 1_000.0,
                ..MonitorSettings::default()
            })
            .await
            .expect("reconfigure");
        // Let a round pass at the new interval.
        tokio::time::sleep(Duration::from_millis(interval_ms * 2)).await;
        let ready = Instant::now();
        while fleet
            .health(&[name.to_string()], false)
            .await
            .expect("health")[0]
            .status
            != HealthStatus::Healthy
        {
            assert!(
                ready.elapsed() < Duration::from_secs(60),
                "{name} not healthy"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let runs = if interval_ms <= 1_000 { 5 } else { 3 };
        let mut times = Vec::new();
        for _ in 0..runs {
            let took = one_stop(fleet, name, Duration::from_secs(60)).await;
            eprintln!("  interval {interval_ms} ms: {took:.2?}");
            times.push(took);
        }
        times.sort();
        println!(
            "systemctl stop docker -> health_changed, interval {} s, hysteresis 2: median {:.2} s (min {:.2}, max {:.2}, {runs} runs)",
            interval_ms / 1000,
            times[times.len() / 2].as_secs_f64(),
            times[0].as_secs_f64(),
            times[times.len() - 1].as_secs_f64()
        );
    }
}
