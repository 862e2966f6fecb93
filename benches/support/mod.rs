//! What the benches share: the testbed check, the run count, a timed `flotilla` run in
//! a fleet home, and the health the monitor would have recorded for a machine.

#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Exits with a clear message when the testbed image is not here.
pub fn require_testbed(image: &str) {
    let image_ok = Command::new("docker")
        .args(["image", "inspect", image])
        .output()
        .is_ok_and(|o| o.status.success());
    if !image_ok {
        eprintln!("no testbed ({image} missing): run scripts/testbed first");
        std::process::exit(1);
    }
}

/// FLOTILLA_BENCH_RUNS, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("FLOTILLA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs flotilla in `home` with `env`; fails the bench unless it succeeds; its wall time.
pub fn timed_flotilla(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .envs(env.iter().copied())
        .output()
        .expect("run flotilla");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "flotilla {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// What a monitor records for machine number `i`: a status out of a realistic mix
/// (mostly healthy), reasons for the sick ones, Docker's answer and the host's metrics.
pub fn sample_health(name: &str, i: usize, checked_ms: i64) -> flotilla::api::Health {
    use flotilla::api::{DiskUsage, DockerHealth, Health, HealthStatus, Metrics};
    let statuses = [
        HealthStatus::Healthy,
        HealthStatus::Healthy,
        HealthStatus::Healthy,
        HealthStatus::Degraded,
        HealthStatus::Unreachable,
        HealthStatus::Stopped,
    ];
    let mut h = Health::unknown(name, None);
    h.status = statuses[i % statuses.len()];
    h.observed = h.status;
    h.checked_ms = checked_ms;
    h.since_ms = checked_ms - 3_600_000;
    if h.status == HealthStatus::Degraded {
        h.reasons = vec![format!("disk {}% full", 90 + i % 10)];
    }
    h.ssh_rtt_ms = Some(1.5);
    h.docker = Some(DockerHealth {
        version: "20.10.24".into(),
        containers_running: (i % 12) as i64,
        api_ms: 3.2,
    });
    h.metrics = Some(Metrics {
        cpu_percent: Some((i * 37 % 100) as f64),
        cpus: Some(2),
        load: Some([(i % 7) as f64, 1.0, 1.0]),
        mem_used_bytes: Some((i as u64 * 7919) % (8 << 30)),
        mem_total_bytes: Some(8 << 30),
        disk_root: Some(DiskUsage {
            path: "/".into(),
            used_bytes: (i as u64 * 104_729) % (40 << 30),
            total_bytes: 40 << 30,
        }),
        disk_docker: None,
        uptime_secs: Some(1000),
    });
    h
}

/// Fills the store in `home` with `count` machines (`bench-00000`...; one in ten
/// stopped, each with engine labels, an address and driver data) and the health a
/// monitor recorded for each, through the library.
pub fn fill_fleet(home: &Path, count: usize) {
    use flotilla::api::{Machine, MachineSpec, MachineState};
    let now = flotilla::api::now_ms();
    let machine = |i: usize| {
        let name = format!("bench-{i:05}");
        let mut spec = MachineSpec::new(&name, "container");
        spec.engine.labels = vec!["team=bench".into(), format!("index={i}")];
        let ip = format!("172.17.{}.{}", i / 250, i % 250 + 2);
        Machine {
            state: if i % 10 == 0 {
                MachineState::Stopped
            } else {
                MachineState::Running
            },
            ip: Some(ip.clone()),
            url: Some(format!("tcp://{ip}:2376")),
            docker_version: Some("20.10.24+dfsg1".into()),
            driver_data: serde_json::json!({"container_id": format!("{i:064x}")}),
            ..Machine::planned(&spec, now)
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = flotilla::store::Store::open(home).await.expect("store");
        let mut health = Vec::with_capacity(count);
        for i in 0..count {
            let m = machine(i);
            health.push(sample_health(&m.name, i, now));
            store.insert_machine(&m).await.expect("insert");
        }
        store.put_health(&health).await.expect("health");
        // Closed before anyone copies or opens the file.
        store.close().await;
    });
}
