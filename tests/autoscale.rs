//! End to end: the autoscaler on real swarms of testbed hosts. `flotilla autoscale run`
//! runs in the background (twice, to show that two processes act once), a policy is
//! set with `swarm autoscale`, and the swarm is given work through the docker CLI.
//! Every wait is bounded; the figures (pending -> running on a new worker, a worker's
//! death -> its replacement) are printed for the report.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;

/// How long making and joining one worker may take on a loaded testbed.
const NEW_WORKER: Duration = Duration::from_secs(420);

fn machines_of(fleet: &Fleet, swarm: &str) -> BTreeSet<String> {
    fleet
        .ok(&["ls", "-q", "--filter", &format!("swarm={swarm}")])
        .lines()
        .map(str::to_string)
        .collect()
}

/// Hostnames in `docker node ls` (None when no manager answers).
fn node_names(env: &[(String, String)]) -> Option<BTreeSet<String>> {
    let out = docker_with(
        env,
        &["node", "ls", "--format", "{{.Hostname}}|{{.Status}}"],
    );
    if !out.status.success() {
        return None;
    }
    Some(
        text(&out.stdout)
            .lines()
            .filter_map(|l| l.split('|').next())
            .map(str::to_string)
            .collect(),
    )
}

fn running(env: &[(String, String)], service: &str) -> usize {
    let out = docker_with(
        env,
        &[
            "service",
            "ps",
            service,
            "--filter",
            "desired-state=running",
            "--format",
            "{{.CurrentState}}",
        ],
    );
    text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Running"))
        .count()
}

fn pending_reasons(env: &[(String, String)], service: &str) -> Vec<String> {
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
    text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("Pending"))
        .map(str::to_string)
        .collect()
}

fn decisions(fleet: &Fleet, swarm: &str) -> Vec<serde_json::Value> {
    let v: serde_json::Value =
        serde_json::from_str(&fleet.ok(&["swarm", "autoscale", swarm, "-o", "json"])).unwrap();
    v["decisions"].as_array().cloned().unwrap_or_default()
}

fn acted(fleet: &Fleet, swarm: &str, action: &str) -> usize {
    decisions(fleet, swarm)
        .iter()
        .filter(|d| d["acted"] == true && d["action"] == action)
        .count()
}

fn make_swarm(fleet: &Fleet, s: &str) {
    fleet.ok(&[
        "swarm",
        "create",
        s,
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--managers",
        "1",
        "--workers",
        "1",
    ]);
}

fn autoscaler(fleet: &Fleet) -> Bg {
    Bg(fleet
        .command(&["autoscale", "run"])
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("run flotilla autoscale run"))
}

/// A worker's memory as the scheduler counts it.
fn node_memory(env: &[(String, String)], node: &str) -> u64 {
    let out = docker_with(
        env,
        &[
            "node",
            "inspect",
            node,
            "--format",
            "{{.Description.Resources.MemoryBytes}}",
        ],
    );
    text(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("memory of {node}: {}", text(&out.stderr)))
}

/// Two replicas, each reserving 60% of a worker's memory, on workers only: one runs,
/// the other waits for a node with room.
fn create_big(env: &[(String, String)], reserve: u64) {
    let out = docker_with(
        env,
        &[
            "service",
            "create",
            "-d",
            "--no-resolve-image",
            "--name",
            "big",
            "--replicas",
            "2",
            "--constraint",
            "node.role==worker",
            "--reserve-memory",
            &reserve.to_string(),
            "--restart-delay",
            "1s",
            "--stop-grace-period",
            "2s",
            "tiny:1",
            "/bin/sh",
            "-c",
            "trap 'exit 0' TERM; while :; do /bin/busybox sleep 1; done",
        ],
    );
    assert!(
        out.status.success(),
        "service create: {}",
        text(&out.stderr)
    );
}

#[test]
fn pending_work_adds_a_worker_idle_removes_it_and_dry_run_acts_on_nothing() {
    let test = "pending_work_adds_a_worker_idle_removes_it_and_dry_run_acts_on_nothing";
    if !testbed(IMAGE_DOCKER) || !have_programs(test, &["tar", "/bin/busybox"]) {
        return;
    }
    let fleet = Fleet::new();
    let s = unique("as");
    let (m1, w1, w2) = (format!("{s}-m1"), format!("{s}-w1"), format!("{s}-w2"));
    let tmp = tempfile::tempdir().unwrap();
    let tar = tiny_tar(tmp.path());
    make_swarm(&fleet, &s);
    load_tiny(&fleet, &tar, &[m1.clone(), w1.clone()]);

    // Bounds are checked before anything is stored.
    let e = fleet.fails(&["swarm", "autoscale", &s, "--min", "4", "--max", "3"]);
    assert!(e.contains("--min (4) is above --max (3)"), "{e}");
    let e = fleet.fails(&["swarm", "autoscale", &s, "--max", "3", "--cooldown", "2d"]);
    assert!(e.contains("--cooldown must be between 0s and 1d"), "{e}");
    assert!(fleet
        .ok(&["swarm", "autoscale", &s])
        .starts_with("POLICY  off"));

    fleet.ok(&[
        "swarm",
        "autoscale",
        &s,
        "--min",
        "1",
        "--max",
        "3",
        "--pending-delay",
        "5s",
        "--scale-down-after",
        "20s",
        "--low-water",
        "100%",
        "--cooldown",
        "5s",
        "--replace-after",
        "10m",
    ]);
    let inspect: serde_json::Value =
        serde_json::from_str(&fleet.ok(&["swarm", "inspect", &s])).unwrap();
    assert_eq!(
        inspect["autoscale"]["policy"]["max_workers"], 3,
        "{inspect}"
    );
    // Two autoscalers on one fleet: one lease per swarm, so one acts.
    let _a = autoscaler(&fleet);
    let _b = autoscaler(&fleet);

    let env = swarm_env(&fleet, &s);
    let reserve = node_memory(&env, &w1) * 6 / 10;
    create_big(&env, reserve);
    let pending_at = Instant::now();
    wait_until(
        "a task of big pending for room",
        Duration::from_secs(60),
        || {
            pending_reasons(&env, "big")
                .iter()
                .any(|r| r.contains("insufficient"))
        },
    );
    let pending_seen = pending_at.elapsed();

    // A worker is added; the image is loaded into it (nested engines start empty).
    wait_until("a new worker in the fleet", NEW_WORKER, || {
        machines_of(&fleet, &s).contains(&w2)
    });
    wait_until("the new worker in docker node ls", NEW_WORKER, || {
        node_names(&env).is_some_and(|n| n.contains(&w2))
    });
    let joined = pending_at.elapsed();
    load_tiny(&fleet, &tar, std::slice::from_ref(&w2));
    wait_until(
        "both tasks of big running",
        Duration::from_secs(120),
        || running(&env, "big") == 2,
    );
    eprintln!(
        "FIGURE pending -> running on a new worker: {:.1} s (pending seen after {:.1} s, worker joined after {:.1} s)",
        pending_at.elapsed().as_secs_f64(),
        pending_seen.as_secs_f64(),
        joined.as_secs_f64()
    );
    let ups = decisions(&fleet, &s);
    let up = ups
        .iter()
        .find(|d| d["acted"] == true && d["action"] == "scale_up")
        .unwrap_or_else(|| panic!("an acted scale_up decision: {ups:?}"));
    let reason = up["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("workers 1 -> 2: ") && reason.contains("of big pending"),
        "{reason}"
    );
    assert_eq!(acted(&fleet, &s, "scale_up"), 1, "{ups:?}");
    assert_eq!(machines_of(&fleet, &s).len(), 3);

    // A policy change applies without a restart: at max, a pending task is a decision
    // not to act, with why.
    fleet.ok(&["swarm", "autoscale", &s, "--max", "2"]);
    let out = docker_with(&env, &["service", "scale", "-d", "big=3"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until(
        "a decision not to act at max 2",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s).iter().any(|d| {
                d["acted"] == false
                    && d["reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("of big pending") && r.ends_with("at max 2"))
            })
        },
    );
    // Idle again, but each worker holds a task that fits on no other: none is removed.
    let out = docker_with(&env, &["service", "scale", "-d", "big=2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until(
        "a scale-down held back by a task with nowhere to go",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s).iter().any(|d| {
                d["reason"].as_str().is_some_and(|r| {
                    r.contains("a task of big on") && r.ends_with("fits on no other worker")
                })
            })
        },
    );
    assert_eq!(machines_of(&fleet, &s).len(), 3);
    assert_eq!(running(&env, "big"), 2);

    // No more work: after the scale-down window the extra worker is drained and goes.
    let out = docker_with(&env, &["service", "rm", "big"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until("back to 1 worker", NEW_WORKER, || {
        machines_of(&fleet, &s).len() == 2 && node_names(&env).is_some_and(|n| n.len() == 2)
    });
    assert_eq!(acted(&fleet, &s, "scale_down"), 1);
    let down = decisions(&fleet, &s)
        .into_iter()
        .find(|d| d["acted"] == true && d["action"] == "scale_down")
        .unwrap();
    assert!(
        down["reason"]
            .as_str()
            .unwrap()
            .starts_with("workers 2 -> 1: workers idle"),
        "{down}"
    );

    // Dry run: the same trigger is recorded, nothing is made.
    fleet.ok(&["swarm", "autoscale", &s, "--dry-run"]);
    let env = swarm_env(&fleet, &s);
    let kept = machines_of(&fleet, &s);
    let before = decisions(&fleet, &s).len();
    create_big(&env, reserve);
    wait_until(
        "a dry-run scale_up decision",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s)
                .iter()
                .take(10)
                .any(|d| d["dry_run"] == true && d["action"] == "scale_up" && d["acted"] == false)
        },
    );
    assert!(decisions(&fleet, &s).len() > before);
    assert_eq!(machines_of(&fleet, &s), kept, "a dry run made a machine");
    assert_eq!(acted(&fleet, &s, "scale_up"), 1);
    fleet.ok(&["swarm", "autoscale", &s, "--off"]);
    assert!(fleet
        .ok(&["swarm", "autoscale", &s])
        .starts_with("POLICY  off"));
    fleet.ok(&["swarm", "rm", "-y", "-f", &s]);
}

#[test]
fn a_dead_worker_is_replaced_after_replace_after() {
    let test = "a_dead_worker_is_replaced_after_replace_after";
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let _ = test;
    let fleet = Fleet::new();
    let s = unique("ar");
    let (w1, w2) = (format!("{s}-w1"), format!("{s}-w2"));
    make_swarm(&fleet, &s);
    fleet.ok(&[
        "swarm",
        "autoscale",
        &s,
        "--min",
        "1",
        "--max",
        "2",
        "--replace-after",
        "10s",
        "--cooldown",
        "0s",
        "--scale-down-after",
        "1d",
    ]);
    let _a = autoscaler(&fleet);
    let env = swarm_env(&fleet, &s);
    assert!(node_names(&env).is_some_and(|n| n.contains(&w1)));

    fleet.ok(&["stop", &w1]);
    let died = Instant::now();
    wait_until("the replacement in docker node ls", NEW_WORKER, || {
        node_names(&env).is_some_and(|n| n.contains(&w2))
    });
    let joined = died.elapsed();
    wait_until(
        "the dead worker gone from the fleet and docker node ls",
        NEW_WORKER,
        || {
            !machines_of(&fleet, &s).contains(&w1)
                && node_names(&env).is_some_and(|n| !n.contains(&w1) && n.len() == 2)
        },
    );
    eprintln!(
        "FIGURE worker death -> replacement joined: {:.1} s; dead one gone after {:.1} s",
        joined.as_secs_f64(),
        died.elapsed().as_secs_f64()
    );
    let ds = decisions(&fleet, &s);
    let r = ds
        .iter()
        .find(|d| d["action"] == "replace" && d["acted"] == true)
        .unwrap_or_else(|| panic!("an acted replace decision: {ds:?}"));
    assert!(
        r["reason"]
            .as_str()
            .unwrap()
            .starts_with(&format!("replace {w1}, down ")),
        "{r}"
    );
    assert_eq!(
        fleet
            .ok(&["swarm", "inspect", &s, "--format", "{{.Workers}}"])
            .trim(),
        "1/1"
    );
    fleet.ok(&["swarm", "rm", "-y", "-f", &s]);
}
