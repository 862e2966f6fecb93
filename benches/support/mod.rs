//! What the benches on real testbed hosts share: the testbed check, the run count, and
//! a timed `flotilla` run in a fleet home.

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
