//! Helpers for the end-to-end tests: a fleet in its own FLOTILLA_HOME, driven through
//! the real `flotilla` binary against real testbed hosts (system containers).
//!
//! With FLOTILLA_E2E=1 a missing testbed fails the test; without it the test says why
//! it is skipped and passes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const IMAGE_DOCKER: &str = "flotilla-host:bookworm-docker";
pub const IMAGE_BARE: &str = "flotilla-host:bookworm";

/// The one reading of FLOTILLA_E2E: exactly "1" means the end-to-end tests are required
/// (scripts/test and CI set it), so a missing prerequisite is a failure. Anything else
/// (unset, empty, "0", "yes") means they may be skipped.
pub fn e2e_required() -> bool {
    std::env::var("FLOTILLA_E2E").is_ok_and(|v| v == "1")
}

/// What a host-needing test does when a prerequisite is missing: under FLOTILLA_E2E=1 it
/// fails with `why`; otherwise it says why it is skipped and the caller returns (passes).
/// Returns false so a test can write `if !prerequisite(...) { return; }`.
#[track_caller]
pub fn skip_or_fail(test: &str, why: &str) -> bool {
    if e2e_required() {
        panic!("{test}: FLOTILLA_E2E=1 but {why} (scripts/test installs and starts what the tests need)");
    }
    eprintln!("SKIPPED {test}: {why}; set FLOTILLA_E2E=1 to make this a failure");
    false
}

/// A program on PATH, or None.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// True when every program is on PATH (or is an existing absolute path); otherwise the
/// test is skipped, or fails under FLOTILLA_E2E=1, naming what is missing.
#[track_caller]
pub fn have_programs(test: &str, programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| {
            if p.starts_with('/') {
                !Path::new(p).exists()
            } else {
                which(p).is_none()
            }
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    skip_or_fail(test, &format!("{} not installed", missing.join(", ")))
}

/// Polls `observe` (every 50 ms at first, then up to every 500 ms) until `done` holds for
/// what it returned, for at most `bound`; returns that value. Panics naming `what`, the
/// bound and the last observed value when the bound passes: a wait on a condition, never
/// a fixed sleep that hopes the thing happened meanwhile.
#[track_caller]
/// A refusal as the CLI prints it: apart from progress and output lines, one
/// `error: ...` line, optionally followed by one `hint: <command>` line. Returns the
/// error line; fails the test on anything else (a backtrace, a second message).
pub fn error_line(err: &str) -> &str {
    // Progress ("NAME: [3/8] step") and a step's streamed output ("NAME: | line").
    let progress = |l: &str| {
        l.split_once(": [")
            .is_some_and(|(_, rest)| rest.split_once("] ").is_some())
            || l.split_once(": | ")
                .is_some_and(|(name, _)| !name.contains(' '))
    };
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !progress(l))
        .collect();
    match lines.as_slice() {
        [error] => error,
        [error, hint] if hint.starts_with("hint: ") && hint.len() > "hint: ".len() => error,
        _ => panic!("the error must be one line (and at most one hint), got:\n{err}"),
    }
}

pub fn wait_for_value<T: std::fmt::Debug>(
    what: &str,
    bound: std::time::Duration,
    mut observe: impl FnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let start = std::time::Instant::now();
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        let seen = observe();
        if done(&seen) {
            return seen;
        }
        if start.elapsed() >= bound {
            panic!("timed out after {bound:?} waiting for {what}; last observed: {seen:?}");
        }
        std::thread::sleep(pause.min(bound.saturating_sub(start.elapsed())));
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}

/// `wait_for_value` for a plain condition.
#[track_caller]
pub fn wait_until(what: &str, bound: std::time::Duration, mut condition: impl FnMut() -> bool) {
    wait_for_value(what, bound, &mut condition, |ok| *ok);
}

/// Whether the testbed (a Docker Engine and `image`) is here. Panics under FLOTILLA_E2E=1
/// when it is not, so CI cannot go green without running the e2e tests.
pub fn testbed(image: &str) -> bool {
    let required = e2e_required();
    let problem = if which("docker").is_none() {
        Some("the docker CLI is not installed (run scripts/deps)".to_string())
    } else if !docker(&["info", "--format", "{{.ServerVersion}}"])
        .status
        .success()
    {
        Some("no Docker Engine answers (run scripts/testbed)".to_string())
    } else if !docker(&["image", "inspect", image]).status.success() {
        Some(format!("image {image} is missing (run scripts/testbed)"))
    } else {
        None
    };
    match problem {
        None => true,
        Some(p) if required => panic!("FLOTILLA_E2E=1 but the testbed is not ready: {p}"),
        Some(p) => {
            eprintln!("SKIPPED: {p}; set FLOTILLA_E2E=1 to make this a failure");
            false
        }
    }
}

/// Runs the local `docker` CLI against the machine's engine (the one the container driver uses).
pub fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_CERT_PATH")
        .output()
        .expect("run docker")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A unique machine name for this test run.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:04x}", rand_u16())
}

fn rand_u16() -> u16 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (nanos ^ (std::process::id() << 8)) as u16
}

/// One fleet: a temp FLOTILLA_HOME; on drop it force-removes every machine it still
/// has, so a failing test leaves nothing behind on the engine.
pub struct Fleet {
    pub home: tempfile::TempDir,
    extra_env: Vec<(String, String)>,
    /// Remove every machine it lists on drop (off for clients of a shared server).
    cleanup: bool,
}

impl Fleet {
    pub fn new() -> Fleet {
        Fleet {
            home: tempfile::tempdir().expect("temp dir"),
            extra_env: Vec::new(),
            cleanup: true,
        }
    }

    /// A fleet that leaves machines alone on drop: a client of a shared server, whose
    /// machines the server's owner cleans up.
    pub fn without_cleanup(mut self) -> Fleet {
        self.cleanup = false;
        self
    }

    pub fn with_env(mut self, key: &str, value: &str) -> Fleet {
        self.extra_env.push((key.into(), value.into()));
        self
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(args)
            .env("FLOTILLA_HOME", self.home.path())
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .stdin(Stdio::null());
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs flotilla; returns its output whatever the exit status.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run flotilla")
    }

    /// Runs flotilla and fails the test, with its stderr, unless it succeeded.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "flotilla {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Runs flotilla expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "flotilla {} should have failed:\n{}",
            args.join(" "),
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    pub fn create(&self, name: &str, extra: &[&str]) {
        let mut args = vec![
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
        ];
        args.extend_from_slice(extra);
        args.push(name);
        self.ok(&args);
    }

    /// The fleet id, read from the store through `inspect`-independent means: the label
    /// on the machine's container.
    pub fn machine_json(&self, name: &str) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["inspect", name])).expect("inspect json")
    }

    /// `eval "$(flotilla env NAME)"` as environment variables for a child process.
    pub fn env_vars(&self, name: &str) -> Vec<(String, String)> {
        let out = self.ok(&["env", "--shell", "bash", name]);
        out.lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect()
    }

    /// The docker CLI pointed at a machine through `flotilla env`.
    pub fn docker_on(&self, name: &str, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker");
        cmd.args(args);
        for (k, v) in self.env_vars(name) {
            cmd.env(k, v);
        }
        cmd.output().expect("run docker")
    }

    pub fn ssh(&self, name: &str, command: &str) -> Output {
        self.run(&["ssh", name, "--", command])
    }

    pub fn machine_dir(&self, name: &str) -> PathBuf {
        self.home.path().join("machines").join(name)
    }

    pub fn names(&self) -> Vec<String> {
        self.ok(&["ls", "-q"]).lines().map(str::to_string).collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if !self.cleanup {
            return;
        }
        let names = self.run(&["ls", "-q"]);
        let names: Vec<String> = text(&names.stdout).lines().map(str::to_string).collect();
        for name in names {
            let _ = self.run(&["rm", "-f", "-y", &name]);
        }
    }
}

/// Containers on the engine carrying flotilla.machine=NAME.
pub fn containers_of(name: &str) -> Vec<String> {
    let out = docker(&[
        "ps",
        "-aq",
        "--filter",
        &format!("label=flotilla.machine={name}"),
    ]);
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// Volumes on the engine carrying flotilla.machine=NAME.
pub fn volumes_of(name: &str) -> Vec<String> {
    let out = docker(&[
        "volume",
        "ls",
        "-q",
        "--filter",
        &format!("label=flotilla.machine={name}"),
    ]);
    text(&out.stdout).lines().map(str::to_string).collect()
}

/// Asserts that nothing of machine `name` is left: no row, no container, no volume, no files.
pub fn assert_gone(fleet: &Fleet, name: &str) {
    assert!(
        !fleet.names().contains(&name.to_string()),
        "{name} still listed"
    );
    assert!(
        containers_of(name).is_empty(),
        "{name}: containers left: {:?}",
        containers_of(name)
    );
    assert!(
        volumes_of(name).is_empty(),
        "{name}: volumes left: {:?}",
        volumes_of(name)
    );
    assert!(
        !fleet.machine_dir(name).exists(),
        "{name}: files left in {}",
        fleet.machine_dir(name).display()
    );
}

/// Runs a command inside the host container directly (to break things on purpose).
pub fn host_exec(name: &str, script: &str) -> Output {
    docker(&["exec", name, "sh", "-c", script])
}

/// A one-binary image (static busybox, from scripts/test) as a tar for `docker import`:
/// nested engines start without images.
pub fn tiny_tar(dir: &Path) -> PathBuf {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static is part of the testbed (scripts/test installs it)");
    let root = dir.join("rootfs");
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::copy(busybox, root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    let tar = dir.join("tiny.tar");
    let status = Command::new("tar")
        .args([
            "-C",
            root.to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            ".",
        ])
        .status()
        .unwrap();
    assert!(status.success(), "tar of the tiny image");
    tar
}

/// A child process killed (and reaped) when the test ends, however it ends.
pub struct Bg(pub std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flotilla events -o json ARGS...` in the background, following from now: `--since`
/// this very millisecond, so whatever happens from here on is delivered however long the
/// process takes to start, and nothing from before; its events arrive on the channel.
pub fn follow_events(
    fleet: &Fleet,
    args: &[&str],
) -> (Bg, std::sync::mpsc::Receiver<serde_json::Value>) {
    let since = flotilla::api::format_utc(flotilla::api::now_ms());
    let mut all = vec!["events", "--output", "json", "--since", &since];
    all.extend_from_slice(args);
    let mut child = fleet
        .command(&all)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("run flotilla events");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { break };
            let ev: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("events printed a line that is not JSON ({e}): {line}"));
            if tx.send(ev).is_err() {
                break;
            }
        }
    });
    (Bg(child), rx)
}

/// `eval "$(flotilla env --swarm NAME)"` as environment variables.
pub fn swarm_env(fleet: &Fleet, swarm: &str) -> Vec<(String, String)> {
    let out = fleet.ok(&["env", "--shell", "bash", "--swarm", swarm]);
    out.lines()
        .filter_map(|l| l.strip_prefix("export "))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
        .collect()
}

/// Nested engines start without images: import the tiny one into each machine through
/// its Docker API over TLS.
pub fn load_tiny(fleet: &Fleet, tar: &Path, machines: &[String]) {
    for m in machines {
        let out = fleet.docker_on(m, &["import", tar.to_str().unwrap(), "tiny:1"]);
        assert!(
            out.status.success(),
            "docker import on {m}: {}",
            text(&out.stderr)
        );
    }
}

pub fn docker_with(env: &[(String, String)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("docker");
    cmd.args(args).stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run docker")
}

/// The docker CLI pointed at the swarm afresh (a manager that answers, the leader first).
pub fn docker_swarm(fleet: &Fleet, swarm: &str, args: &[&str]) -> std::process::Output {
    docker_with(&swarm_env(fleet, swarm), args)
}

// ----- swarms ------------------------------------------------------------------------

/// The swarm's machines as `flotilla ls --filter swarm=NAME` lists them.
pub fn machines_of(fleet: &Fleet, swarm: &str) -> std::collections::BTreeSet<String> {
    fleet
        .ok(&["ls", "-q", "--filter", &format!("swarm={swarm}")])
        .lines()
        .map(str::to_string)
        .collect()
}

/// `docker node ls` through `env` as (hostname, status, manager status) rows; None
/// when no manager answers.
pub fn node_rows(env: &[(String, String)]) -> Option<Vec<(String, String, String)>> {
    let out = docker_with(
        env,
        &[
            "node",
            "ls",
            "--format",
            "{{.Hostname}}|{{.Status}}|{{.ManagerStatus}}",
        ],
    );
    if !out.status.success() {
        return None;
    }
    Some(
        text(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut p = l.split('|');
                Some((
                    p.next()?.to_string(),
                    p.next()?.to_string(),
                    p.next().unwrap_or("").to_string(),
                ))
            })
            .collect(),
    )
}

/// The hostnames in `docker node ls` through `env`; None when no manager answers.
pub fn node_hostnames(env: &[(String, String)]) -> Option<std::collections::BTreeSet<String>> {
    node_rows(env).map(|rows| rows.into_iter().map(|r| r.0).collect())
}

/// The tasks of `service` meant to run, as `docker service ps` through `env` shows
/// them: (current state, error), untruncated. None when no manager answers.
pub fn service_tasks(env: &[(String, String)], service: &str) -> Option<Vec<(String, String)>> {
    let out = docker_with(
        env,
        &[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--no-trunc",
            "--format",
            "{{.CurrentState}}|{{.Error}}",
        ],
    );
    if !out.status.success() {
        return None;
    }
    Some(
        text(&out.stdout)
            .lines()
            .map(|l| {
                let (state, error) = l.split_once('|').unwrap_or((l, ""));
                (state.to_string(), error.to_string())
            })
            .collect(),
    )
}

/// How many tasks of `service` run now; None when no manager answers.
pub fn running_tasks(env: &[(String, String)], service: &str) -> Option<usize> {
    service_tasks(env, service).map(|t| t.iter().filter(|(s, _)| s.starts_with("Running")).count())
}
