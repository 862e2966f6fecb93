//! Swarms on the testbed:
//! 1. wall time of `flotilla swarm create` with 1 manager + 4 workers, against creating
//!    the same 5 machines one after another with `flotilla create` (the ratio shows the
//!    parallelism);
//! 2. wall time of `flotilla swarm scale --workers 1` that drains and removes one
//!    worker carrying 3 tasks (they must run elsewhere before it goes).
//!
//!     cargo bench --bench swarm      (FLOTILLA_BENCH_RUNS to change the count, default 3)

#[path = "../tests/common/mod.rs"]
mod common;

mod support;

use common::tiny_tar;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGE: &str = "flotilla-host:bookworm-docker";

fn run(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_flotilla"))
        .args(args)
        .env("FLOTILLA_HOME", home)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("run flotilla")
}

fn flotilla(home: &Path, args: &[&str]) -> (Duration, String) {
    let t = Instant::now();
    let out = run(home, args);
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "flotilla {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Environment variables from `flotilla env --shell bash ARGS`.
fn env_of(home: &Path, args: &[&str]) -> Vec<(String, String)> {
    let mut all = vec!["env", "--shell", "bash"];
    all.extend_from_slice(args);
    flotilla(home, &all)
        .1
        .lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

fn docker(env: &[(String, String)], args: &[&str]) -> String {
    let mut cmd = Command::new("docker");
    cmd.args(args).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run docker");
    assert!(
        out.status.success(),
        "docker {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes what a run made, even when it fails half-way.
struct Cleanup<'a> {
    home: &'a Path,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let swarms = run(self.home, &["swarm", "ls", "-q"]);
        for s in String::from_utf8_lossy(&swarms.stdout).lines() {
            let _ = run(self.home, &["swarm", "rm", "-y", "-f", s]);
        }
        let names = run(self.home, &["ls", "-q"]);
        for n in String::from_utf8_lossy(&names.stdout).lines() {
            let _ = run(self.home, &["rm", "-y", "-f", n]);
        }
    }
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

fn secs(v: &[Duration]) -> Vec<String> {
    v.iter()
        .map(|d| format!("{:.1}", d.as_secs_f64()))
        .collect()
}

fn main() {
    support::require_testbed(IMAGE);
    let runs = support::runs(3);
    let home = tempfile::tempdir().expect("temp dir");
    let _cleanup = Cleanup { home: home.path() };
    let tag = std::process::id() % 10_000;
    let create = ["-d", "container", "--container-image", IMAGE];

    let mut swarm_creates = Vec::new();
    let mut sequential = Vec::new();
    for i in 0..runs {
        let name = format!("bs{tag}-{i}");
        let mut args = vec!["swarm", "create", &name];
        args.extend_from_slice(&create);
        args.extend_from_slice(&["--managers", "1", "--workers", "4"]);
        swarm_creates.push(flotilla(home.path(), &args).0);
        flotilla(home.path(), &["swarm", "rm", "-y", &name]);

        let names: Vec<String> = (1..=5).map(|k| format!("bq{tag}-{i}-{k}")).collect();
        let t = Instant::now();
        for n in &names {
            let mut args = vec!["create"];
            args.extend_from_slice(&create);
            args.push(n);
            flotilla(home.path(), &args);
        }
        sequential.push(t.elapsed());
        let mut rm = vec!["rm", "-y"];
        rm.extend(names.iter().map(String::as_str));
        flotilla(home.path(), &rm);
    }

    let tmp = tempfile::tempdir().expect("temp dir");
    let tar = tiny_tar(tmp.path());
    let mut drains = Vec::new();
    for i in 0..runs {
        let name = format!("bd{tag}-{i}");
        let mut args = vec!["swarm", "create", &name];
        args.extend_from_slice(&create);
        args.extend_from_slice(&["--managers", "1", "--workers", "2"]);
        flotilla(home.path(), &args);
        let (m1, w1, w2) = (
            format!("{name}-m1"),
            format!("{name}-w1"),
            format!("{name}-w2"),
        );
        for m in [&m1, &w1, &w2] {
            docker(
                &env_of(home.path(), &[m]),
                &["import", tar.to_str().unwrap(), "tiny:1"],
            );
        }
        // All 3 tasks on the newest worker (the one a scale-down removes first): the
        // other nodes take no tasks while the service starts, then take them again.
        let env = env_of(home.path(), &["--swarm", &name]);
        for n in [&m1, &w1] {
            docker(&env, &["node", "update", "--availability", "drain", n]);
        }
        docker(
            &env,
            &[
                "service",
                "create",
                "--detach=false",
                "--quiet",
                "--no-resolve-image",
                "--name",
                "web",
                "--replicas",
                "3",
                "--restart-delay",
                "1s",
                "tiny:1",
                "/bin/sh",
                "-c",
                "trap 'exit 0' TERM; while :; do /bin/busybox sleep 1; done",
            ],
        );
        let on_w2 = docker(
            &env,
            &[
                "service",
                "ps",
                "web",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}}",
            ],
        );
        assert_eq!(on_w2.lines().filter(|l| *l == w2).count(), 3, "{on_w2}");
        for n in [&m1, &w1] {
            docker(&env, &["node", "update", "--availability", "active", n]);
        }
        let (took, _) = flotilla(
            home.path(),
            &[
                "swarm",
                "scale",
                &name,
                "--workers",
                "1",
                "--drain-timeout",
                "60s",
            ],
        );
        let after = docker(
            &env,
            &[
                "service",
                "ps",
                "web",
                "--filter",
                "desired-state=running",
                "--format",
                "{{.Node}} {{.CurrentState}}",
            ],
        );
        assert!(
            after.lines().filter(|l| l.contains("Running")).count() == 3 && !after.contains(&w2),
            "the 3 tasks run elsewhere: {after}"
        );
        drains.push(took);
        flotilla(home.path(), &["swarm", "rm", "-y", &name]);
    }

    let (par, seq) = (median(swarm_creates.clone()), median(sequential.clone()));
    println!(
        "swarm create, 1 manager + 4 workers, {runs} runs: median {par:.1} s, all {:?}",
        secs(&swarm_creates)
    );
    println!(
        "5 x `flotilla create`, one after another, {runs} runs: median {seq:.1} s, all {:?}",
        secs(&sequential)
    );
    println!("ratio sequential / swarm create: {:.2}", seq / par);
    println!(
        "swarm scale --workers 1 draining and removing one worker carrying 3 tasks, {runs} runs: median {:.1} s, all {:?}",
        median(drains.clone()),
        secs(&drains)
    );
}
