//! One set of end-to-end scenarios, run twice: once against the embedded engine
//! (`engine::Local`) and once through a real `flotilla serve` on 127.0.0.1 with the
//! CLI as a remote client (`client::Remote`) holding an operator token. The CLI cannot
//! tell the two apart, so each scenario must pass unchanged on both: machines, health,
//! events and swarms, on real testbed hosts.

mod common;
mod server_support;

use std::collections::BTreeSet;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use server_support::Server;

/// How the CLI reaches the fleet in a scenario.
enum Backend {
    Local(Fleet),
    Remote { server: Box<Server>, client: Fleet },
}

/// A host that shares this machine's kernel sees its load: a loaded CI box must not
/// make every host "degraded" (the health tests say the same).
const LOAD_LIMIT: (&str, &str) = ("FLOTILLA_MAX_LOAD_PER_CPU", "1000");

impl Backend {
    fn local() -> Backend {
        Backend::Local(Fleet::new().with_env(LOAD_LIMIT.0, LOAD_LIMIT.1))
    }

    fn remote() -> Backend {
        let server = Server::start_with_env(&[], &[LOAD_LIMIT]);
        let token = server.token("scenario-operator", "operator");
        let client = server.client(&token);
        Backend::Remote {
            server: Box::new(server),
            client,
        }
    }

    /// The CLI, pointed at this backend.
    fn cli(&self) -> &Fleet {
        match self {
            Backend::Local(f) => f,
            Backend::Remote { client, .. } => client,
        }
    }

    /// Nothing of machine `name` is left: no record, no container, no volume.
    fn assert_gone(&self, name: &str) {
        match self {
            Backend::Local(f) => common::assert_gone(f, name),
            Backend::Remote { server, .. } => server_support::assert_gone(server, name),
        }
    }
}

/// Runs `scenario` against both backends as two tests.
macro_rules! on_both_backends {
    ($scenario:ident) => {
        mod $scenario {
            #[test]
            fn local() {
                if !super::testbed(super::IMAGE_DOCKER) {
                    return;
                }
                super::$scenario(&super::Backend::local());
            }
            #[test]
            fn remote() {
                if !super::testbed(super::IMAGE_DOCKER) {
                    return;
                }
                super::$scenario(&super::Backend::remote());
            }
        }
    };
}

on_both_backends!(machine_health_and_events);
on_both_backends!(swarm_create_scale_services_remove);

/// Polls `check` until it returns Ok, for at most `limit` (see `wait_for_value`); the
/// Err text is what was seen last.
fn wait_ok<T: std::fmt::Debug>(
    what: &str,
    limit: Duration,
    check: impl FnMut() -> Result<T, String>,
) -> T {
    match wait_for_value(what, limit, check, Result::is_ok) {
        Ok(v) => v,
        Err(last) => unreachable!("wait_for_value returns only what is done: {last}"),
    }
}

fn health_of(cli: &Fleet, name: &str) -> Value {
    let out = cli.ok(&["health", "--output", "json", name]);
    let list: Value = serde_json::from_str(&out).expect("health json");
    list[0].clone()
}

fn state_of(cli: &Fleet, name: &str) -> String {
    cli.machine_json(name)["state"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Events received until `pred` matches one (at most `within`).
fn wait_event(
    rx: &mpsc::Receiver<Value>,
    seen: &mut Vec<Value>,
    what: &str,
    within: Duration,
    pred: impl Fn(&Value) -> bool,
) {
    let deadline = Instant::now() + within;
    if seen.iter().any(&pred) {
        return;
    }
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(ev) => {
                let hit = pred(&ev);
                seen.push(ev);
                if hit {
                    return;
                }
            }
            Err(_) => panic!(
                "no event for {what} within {within:?}; saw:\n{}",
                seen.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
}

const WITHIN: Duration = Duration::from_secs(90);

/// A machine's life through the CLI: create, use (ssh, docker over TLS), health as
/// the host breaks and recovers, stop and start, remove; a follower sees it all, once.
fn machine_health_and_events(b: &Backend) {
    let cli = b.cli();
    let name = unique("scn");
    let (_follower, rx) = follow_events(cli, &[]);
    let mut seen = Vec::new();

    cli.create(&name, &[]);
    let ls = cli.ok(&["ls"]);
    let row = ls
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("{name} not in ls:\n{ls}"));
    assert!(row.contains("Running"), "{row}");

    // Used as a Docker host: a command over SSH, the docker CLI over TLS.
    let out = cli.ssh(&name, "echo scenario-$((6*7))");
    assert!(out.status.success(), "ssh: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "scenario-42");
    let version = cli.docker_on(&name, &["version", "--format", "{{.Server.Version}}"]);
    assert!(
        version.status.success(),
        "docker over TLS: {}",
        text(&version.stderr)
    );
    assert!(!text(&version.stdout).trim().is_empty());

    // Health: healthy; the engine stopped on the host -> not healthy, with the reason;
    // started again -> healthy.
    wait_ok("healthy after create", WITHIN, || {
        let h = health_of(cli, &name);
        (h["status"] == "healthy")
            .then_some(())
            .ok_or(h.to_string())
    });
    let stopped = host_exec(&name, "systemctl stop docker.socket docker.service");
    assert!(stopped.status.success(), "{}", text(&stopped.stderr));
    let sick = wait_ok("not healthy with docker stopped", WITHIN, || {
        let h = health_of(cli, &name);
        (h["status"] != "healthy" && h["status"] != "unknown")
            .then(|| h.clone())
            .ok_or(h.to_string())
    });
    let reasons = sick["reasons"].to_string();
    assert!(reasons.contains("docker"), "reasons name docker: {sick}");
    let started = host_exec(&name, "systemctl start docker.service");
    assert!(started.status.success(), "{}", text(&started.stderr));
    wait_ok("healthy again", WITHIN, || {
        let h = health_of(cli, &name);
        (h["status"] == "healthy")
            .then_some(())
            .ok_or(h.to_string())
    });

    // Power.
    cli.ok(&["stop", &name]);
    assert_eq!(state_of(cli, &name), "stopped");
    cli.ok(&["start", &name]);
    assert_eq!(state_of(cli, &name), "running");

    // Errors a script can rely on: a missing machine is exit 1 with the hint.
    let missing = cli.run(&["inspect", "no-such-machine-here"]);
    assert_eq!(missing.status.code(), Some(1));
    let err = text(&missing.stderr);
    assert!(err.contains("does not exist"), "{err}");
    assert!(err.contains("hint: flotilla ls"), "{err}");

    cli.ok(&["rm", "-y", &name]);
    b.assert_gone(&name);

    // The follower saw the whole life, each event once.
    wait_event(&rx, &mut seen, "machine_created", WITHIN, |e| {
        e["type"] == "machine_created" && e["machine"] == name.as_str()
    });
    wait_event(&rx, &mut seen, "create finished", WITHIN, |e| {
        e["type"] == "operation_finished"
            && e["operation"]["kind"] == "create"
            && e["operation"]["target"] == name.as_str()
    });
    wait_event(&rx, &mut seen, "state Stopped", WITHIN, |e| {
        e["type"] == "machine_state_changed"
            && e["machine"] == name.as_str()
            && e["to"] == "stopped"
    });
    wait_event(&rx, &mut seen, "machine_removed", WITHIN, |e| {
        e["type"] == "machine_removed" && e["machine"] == name.as_str()
    });
    let ids: Vec<u64> = seen.iter().filter_map(|e| e["seq"].as_u64()).collect();
    let unique: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        unique.len(),
        "an event was printed twice: {ids:?}"
    );
}

/// Ready nodes as `docker node ls` on a manager shows them.
fn ready_nodes(cli: &Fleet, swarm: &str) -> Result<usize, String> {
    let out = docker_swarm(cli, swarm, &["node", "ls", "--format", "{{.Status}}"]);
    if !out.status.success() {
        return Err(text(&out.stderr));
    }
    Ok(text(&out.stdout).lines().filter(|l| *l == "Ready").count())
}

/// A swarm as an object: create 1+1, run a service, see it in `swarm services`, scale
/// to 1+2 (the new worker joins), remove everything.
fn swarm_create_scale_services_remove(b: &Backend) {
    let cli = b.cli();
    let name = unique("scs");
    cli.ok(&[
        "swarm",
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--managers",
        "1",
        "--workers",
        "1",
        &name,
    ]);
    let ls = cli.ok(&["swarm", "ls"]);
    let row: Vec<&str> = ls
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))
        .unwrap_or_else(|| panic!("{name} not in swarm ls:\n{ls}"))
        .split_whitespace()
        .collect();
    assert_eq!(row.get(2..4), Some(&["1/1", "1/1"][..]), "{ls}");
    assert_eq!(
        wait_ok("2 nodes ready", WITHIN, || ready_nodes(cli, &name)
            .and_then(|n| (n == 2).then_some(n).ok_or(format!("{n} ready")))),
        2
    );

    let machines: Vec<String> = cli
        .ok(&["ls", "-q", "--filter", &format!("swarm={name}")])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(machines.len(), 2, "{machines:?}");
    let dir = tempfile::tempdir().expect("temp dir");
    load_tiny(cli, &tiny_tar(dir.path()), &machines);
    let created = docker_swarm(
        cli,
        &name,
        &[
            "service",
            "create",
            "--detach",
            "--name",
            "idle",
            "--replicas",
            "2",
            "tiny:1",
            // The tiny image holds busybox and sh only.
            "/bin/busybox",
            "sleep",
            "3600",
        ],
    );
    assert!(
        created.status.success(),
        "service create: {}",
        text(&created.stderr)
    );
    let services = wait_ok("idle runs 2/2", WITHIN, || {
        let out = cli.ok(&["swarm", "services", &name]);
        out.lines()
            .any(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                c.first() == Some(&"idle") && c.get(2) == Some(&"2/2")
            })
            .then(|| out.clone())
            .ok_or(out)
    });
    assert!(services.contains("replicated"), "{services}");
    assert!(services.contains("tiny:1"), "{services}");

    cli.ok(&["swarm", "scale", &name, "--workers", "2"]);
    wait_ok("3 nodes ready after scale", WITHIN, || {
        ready_nodes(cli, &name).and_then(|n| (n == 3).then_some(()).ok_or(format!("{n} ready")))
    });
    let inspect: Value =
        serde_json::from_str(&cli.ok(&["swarm", "inspect", &name])).expect("inspect json");
    assert_eq!(inspect["nodes"].as_array().map(Vec::len), Some(3));
    assert_eq!(inspect["spec"]["workers"], 2);

    let all: Vec<String> = cli
        .ok(&["ls", "-q", "--filter", &format!("swarm={name}")])
        .lines()
        .map(str::to_string)
        .collect();
    cli.ok(&["swarm", "rm", "-y", &name]);
    for m in &all {
        b.assert_gone(m);
    }
    assert!(!cli.ok(&["swarm", "ls", "-q"]).lines().any(|l| l == name));
}
