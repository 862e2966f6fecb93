//! `flotilla ls` with 1000 machines in the store: wall time of the whole process.
//! Fills the store directly through the library, then runs the real binary.
//!
//!     cargo bench --bench ls            (FLOTILLA_BENCH_MACHINES and _RUNS to change;
//!                                        FLOTILLA_BENCH_KEEP_HOME=DIR keeps the filled home)

use std::process::Command;
use std::time::{Duration, Instant};

use flotilla::api::{Machine, MachineSpec, MachineState};
use flotilla::store::Store;

fn machine(i: usize) -> Machine {
    let name = format!("bench-{i:05}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
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
}

fn env_usize(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let count = env_usize("FLOTILLA_BENCH_MACHINES", 1000);
    let runs = env_usize("FLOTILLA_BENCH_RUNS", 30);
    let home = tempfile::tempdir().expect("temp dir");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = Store::open(home.path()).await.expect("store");
        for i in 0..count {
            store.insert_machine(&machine(i)).await.expect("insert");
        }
    });
    if let Ok(keep) = std::env::var("FLOTILLA_BENCH_KEEP_HOME") {
        // For a profiler: the filled home, kept where asked.
        let status = Command::new("cp")
            .args(["-a", &format!("{}/.", home.path().display()), &keep])
            .status()
            .expect("cp");
        assert!(status.success(), "cp to {keep}");
    }
    let bin = env!("CARGO_BIN_EXE_flotilla");
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(bin)
            .arg("ls")
            .env("FLOTILLA_HOME", home.path())
            .output()
            .expect("run flotilla ls");
        times.push(t.elapsed());
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout.iter().filter(|b| **b == b'\n').count(),
            count + 1,
            "header + one line per machine"
        );
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "flotilla ls, {count} machines, {runs} runs: median {:.1} ms, p90 {:.1} ms, min {:.1} ms, max {:.1} ms (whole process)",
        ms(times[runs / 2]),
        ms(times[runs * 9 / 10]),
        ms(times[0]),
        ms(times[runs - 1])
    );
}
