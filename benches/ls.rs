//! `flotilla ls` with 1000 machines in the store, each with the health a monitor
//! recorded: wall time of the whole process. Fills the store directly through the
//! library, then runs the real binary.
//!
//!     cargo bench --bench ls            (FLOTILLA_BENCH_MACHINES and _RUNS to change;
//!                                        FLOTILLA_BENCH_KEEP_HOME=DIR keeps the filled home)

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

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
    support::fill_fleet(home.path(), count);
    if let Ok(keep) = std::env::var("FLOTILLA_BENCH_KEEP_HOME") {
        // For a profiler: the filled home, kept where asked.
        let status = Command::new("cp")
            .args(["-a", &format!("{}/.", home.path().display()), &keep])
            .status()
            .expect("cp");
        assert!(status.success(), "cp to {keep}");
    }
    let bin = env!("CARGO_BIN_EXE_flotilla");
    // Not timed: the first process on a store made through the library finishes its
    // once-per-store step (a fleet made by flotilla did it at creation).
    support::timed_flotilla(home.path(), &[], &["ls", "-q"]);
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
