//! End to end: the autoscaler on real swarms of testbed hosts. `flotilla autoscale run`
//! runs in the background (twice, to show that two processes act once; killed and
//! started again to show what survives a restart), or inside `flotilla serve` with the
//! policy set over HTTP; a policy is set with `swarm autoscale`, and the swarm is given
//! work through the docker CLI, or has hosts stopped under it. Every wait is bounded;
//! the figures (pending -> running on a new worker, a worker's or a manager's death ->
//! its replacement) are printed for the report.

mod common;
mod server_support;

use std::time::{Duration, Instant};

use common::*;
use server_support::Server;

/// How long making and joining one worker may take on a loaded testbed.
const NEW_WORKER: Duration = Duration::from_secs(420);

/// Why the tasks of `service` that wait for a node wait (docker's words).
fn pending_reasons(env: &[(String, String)], service: &str) -> Vec<String> {
    service_tasks(env, service)
        .unwrap_or_default()
        .into_iter()
        .filter(|(state, _)| state.starts_with("Pending"))
        .map(|(state, error)| format!("{state}|{error}"))
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

/// The next decision's reason (`swarm autoscale NAME -o json`), once an autoscaler looked.
fn next_reason(fleet: &Fleet, swarm: &str) -> Option<String> {
    let v: serde_json::Value =
        serde_json::from_str(&fleet.ok(&["swarm", "autoscale", swarm, "-o", "json"])).unwrap();
    v["next"]["reason"].as_str().map(str::to_string)
}

/// The seconds in `... down 17 s ...`.
fn down_secs(reason: &str) -> Option<u64> {
    let (_, rest) = reason.split_once(" down ")?;
    rest.split_whitespace().next()?.parse().ok()
}

fn reason_of(d: &serde_json::Value) -> &str {
    d["reason"].as_str().unwrap_or_default()
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
        node_hostnames(&env).is_some_and(|n| n.contains(&w2))
    });
    let joined = pending_at.elapsed();
    load_tiny(&fleet, &tar, std::slice::from_ref(&w2));
    wait_until(
        "both tasks of big running",
        Duration::from_secs(120),
        || running_tasks(&env, "big") == Some(2),
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
    assert_eq!(running_tasks(&env, "big"), Some(2));

    // No more work: after the scale-down window the extra worker is drained and goes.
    let out = docker_with(&env, &["service", "rm", "big"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_until("back to 1 worker", NEW_WORKER, || {
        machines_of(&fleet, &s).len() == 2 && node_hostnames(&env).is_some_and(|n| n.len() == 2)
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
    assert!(node_hostnames(&env).is_some_and(|n| n.contains(&w1)));

    fleet.ok(&["stop", &w1]);
    let died = Instant::now();
    wait_until("the replacement in docker node ls", NEW_WORKER, || {
        node_hostnames(&env).is_some_and(|n| n.contains(&w2))
    });
    let joined = died.elapsed();
    wait_until(
        "the dead worker gone from the fleet and docker node ls",
        NEW_WORKER,
        || {
            !machines_of(&fleet, &s).contains(&w1)
                && node_hostnames(&env).is_some_and(|n| !n.contains(&w1) && n.len() == 2)
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
    assert_gone(&fleet, &w1);

    // The only manager stops: without a quorum nothing can join, so nothing is
    // replaced, and a decision says why in words, still so past replace_after.
    let m1 = format!("{s}-m1");
    let kept = machines_of(&fleet, &s);
    fleet.ok(&["stop", &m1]);
    wait_until(
        "a decision not to act for want of a quorum",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s).iter().any(|d| {
                d["acted"] == false
                    && reason_of(d).starts_with(&format!("not acting: manager {m1} down "))
                    && reason_of(d).contains("only 0 of 1 managers answer, no quorum (it takes 1)")
            })
        },
    );
    wait_until(
        "the next decision, past replace_after, still not to act",
        Duration::from_secs(120),
        || {
            next_reason(&fleet, &s)
                .is_some_and(|r| r.contains("no quorum") && down_secs(&r).is_some_and(|d| d > 15))
        },
    );
    assert_eq!(machines_of(&fleet, &s), kept);
    assert_eq!(acted(&fleet, &s, "replace"), 1);
    fleet.ok(&["swarm", "rm", "-y", "-f", &s]);
}

#[test]
fn a_dead_manager_is_replaced_keeping_the_quorum_and_none_is_without_one() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let s = unique("am");
    let m = |i: u32| format!("{s}-m{i}");
    fleet.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--managers",
        "3",
        "--workers",
        "0",
    ]);
    fleet.ok(&[
        "swarm",
        "autoscale",
        &s,
        "--min",
        "0",
        "--max",
        "1",
        "--replace-after",
        "10s",
        "--cooldown",
        "0s",
        "--scale-down-after",
        "1d",
    ]);
    let _a = autoscaler(&fleet);
    let env = swarm_env(&fleet, &s);
    assert_eq!(node_hostnames(&env).map(|n| n.len()), Some(3));

    fleet.ok(&["stop", &m(2)]);
    let died = Instant::now();
    // Until replace_after passes: not acting yet, and why.
    wait_until(
        "a decision naming the manager that is down",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s).iter().any(|d| {
                reason_of(d).starts_with(&format!("not acting: manager {} down ", m(2)))
                    && reason_of(d).ends_with("it is replaced once down 10 s")
            })
        },
    );
    let reachable = |rows: &[(String, String, String)], host: &str| {
        rows.iter()
            .any(|r| r.0 == host && (r.2 == "Reachable" || r.2 == "Leader"))
    };
    wait_until("the new manager reachable", NEW_WORKER, || {
        node_rows(&env).is_some_and(|rows| reachable(&rows, &m(4)))
    });
    let joined = died.elapsed();
    wait_until(
        "the dead manager gone from the fleet and docker node ls",
        NEW_WORKER,
        || {
            !machines_of(&fleet, &s).contains(&m(2))
                && node_hostnames(&env).is_some_and(|n| !n.contains(&m(2)))
        },
    );
    eprintln!(
        "FIGURE manager death -> replacement reachable: {:.1} s; dead one gone after {:.1} s",
        joined.as_secs_f64(),
        died.elapsed().as_secs_f64()
    );
    let rows = node_rows(&env).expect("docker node ls");
    assert_eq!(rows.len(), 3, "{rows:?}");
    for host in [m(1), m(3), m(4)] {
        assert!(reachable(&rows, &host), "{host}: {rows:?}");
    }
    let ds = decisions(&fleet, &s);
    let r = ds
        .iter()
        .find(|d| d["action"] == "replace" && d["acted"] == true)
        .unwrap_or_else(|| panic!("an acted replace decision: {ds:?}"));
    assert!(
        reason_of(r).starts_with(&format!("replace manager {}, down ", m(2)))
            && reason_of(r).contains("2 of 3 managers answer: the quorum holds throughout"),
        "{r}"
    );
    assert_eq!(
        fleet
            .ok(&["swarm", "inspect", &s, "--format", "{{.Managers}}"])
            .trim(),
        "3/3"
    );
    assert_gone(&fleet, &m(2));

    // Two of the three stop: the one left is no quorum. Nothing is replaced, however
    // long they stay down, and the decision says why.
    let kept = machines_of(&fleet, &s);
    fleet.ok(&["stop", &m(1), &m(3)]);
    wait_until(
        "a decision not to act for want of a quorum",
        Duration::from_secs(120),
        || {
            decisions(&fleet, &s).iter().any(|d| {
                d["acted"] == false
                    && reason_of(d).contains("only 1 of 3 managers answer, no quorum (it takes 2)")
            })
        },
    );
    wait_until(
        "the next decision, past replace_after, still not to act",
        Duration::from_secs(120),
        || {
            next_reason(&fleet, &s)
                .is_some_and(|r| r.contains("no quorum") && down_secs(&r).is_some_and(|d| d > 15))
        },
    );
    assert_eq!(machines_of(&fleet, &s), kept);
    assert_eq!(acted(&fleet, &s, "replace"), 1);
    fleet.ok(&["swarm", "rm", "-y", "-f", &s]);
}

/// A tag of the test's own on the engine, removed (untagged) when the test ends.
struct Tag(String);

impl Drop for Tag {
    fn drop(&mut self) {
        let _ = docker(&["rmi", &self.0]);
    }
}

fn tag(image: &str, tag: &str) {
    let out = docker(&["tag", image, tag]);
    assert!(out.status.success(), "docker tag: {}", text(&out.stderr));
}

#[test]
fn a_failed_create_backs_off_leaves_nothing_and_the_budget_holds_across_a_restart() {
    if !testbed(IMAGE_DOCKER) || !testbed(IMAGE_BARE) {
        return;
    }
    let fleet = Fleet::new();
    let s = unique("ab");
    let image = Tag(format!("flotilla-host:{s}"));
    tag(IMAGE_DOCKER, &image.0);
    fleet.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        &image.0,
        "--engine-install",
        "none",
        "--managers",
        "1",
        "--workers",
        "0",
    ]);
    // From now on a new host has no Docker Engine and may not install one: its create
    // fails half-way, a container made and provisioning refused.
    tag(IMAGE_BARE, &image.0);
    let kept = machines_of(&fleet, &s);
    fleet.ok(&[
        "swarm",
        "autoscale",
        &s,
        "--min",
        "1",
        "--max",
        "2",
        "--cooldown",
        "0s",
        "--budget",
        "2/h",
    ]);
    let failed = |secs: u64| {
        move |d: &serde_json::Value| {
            reason_of(d).starts_with("workers 0 -> 1: below min 1 failed, next try in ")
                && reason_of(d).contains(&format!("in {secs} s at the earliest: "))
        }
    };
    {
        let _a = autoscaler(&fleet);
        wait_until("a failed scale-up", NEW_WORKER, || {
            decisions(&fleet, &s).iter().any(failed(30))
        });
        let ds = decisions(&fleet, &s);
        let d = ds.iter().find(|d| failed(30)(d)).unwrap();
        assert!(reason_of(d).contains("dockerd is not on the host"), "{d}");
        // Held back while the backoff lasts, and said so.
        wait_until(
            "a decision held back by the backoff",
            Duration::from_secs(60),
            || {
                decisions(&fleet, &s).iter().any(|d| {
                    reason_of(d).starts_with(
                        "not acting (workers 0 -> 1: below min 1): a failed action backs off for ",
                    )
                })
            },
        );
        // After it, a second try: it fails too, and the backoff doubles.
        wait_until("a second failed scale-up", NEW_WORKER, || {
            decisions(&fleet, &s).iter().any(failed(60))
        });
    }
    // Nothing half-made is left: no machine, no container.
    assert_eq!(machines_of(&fleet, &s), kept);
    assert!(containers_of(&format!("{s}-w1")).is_empty());
    assert_eq!(acted(&fleet, &s, "scale_up"), 2);

    // A new runner (the old one killed) counts the hosts created this hour from the
    // store: the budget of 2 holds, though a create would now succeed.
    tag(IMAGE_DOCKER, &image.0);
    let before = decisions(&fleet, &s).len();
    let _b = autoscaler(&fleet);
    wait_until(
        "a decision held back by the spent budget",
        Duration::from_secs(120),
        || {
            // Newest first: those recorded since the restart.
            let ds = decisions(&fleet, &s);
            ds.iter()
                .take(ds.len().saturating_sub(before))
                .any(|d| reason_of(d) == "not acting (below min 1): hourly budget of 2 hosts spent")
        },
    );
    assert_eq!(machines_of(&fleet, &s), kept);
    assert_eq!(acted(&fleet, &s, "scale_up"), 2);
    fleet.ok(&["swarm", "rm", "-y", "-f", &s]);
}

#[test]
fn a_server_autoscales_a_swarm_whose_policy_an_operator_sets_over_http() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let server = Server::start(&[]);
    let token = server.token("ops", "operator");
    let ops = server.client(&token);
    let s = unique("av");
    ops.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--managers",
        "1",
        "--workers",
        "0",
    ]);
    let (_events, rx) = follow_events(&ops, &["--filter", "type=autoscale_decided"]);
    let http = server.http();
    let path = format!("/v1/swarms/{s}/autoscale");
    let body = serde_json::json!({
        "policy": {"min_workers": 1, "max_workers": 2, "cooldown_secs": 0}
    });
    let a = http.json("PUT", &path, &token, &body);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["policy"]["max_workers"], 2, "{}", a.text);

    // The server's autoscaler acts (below min: a worker is made), and the decision
    // reaches a client through the server's event stream.
    let deadline = Instant::now() + Duration::from_secs(120);
    let ev = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ev = rx
            .recv_timeout(left)
            .expect("an autoscale_decided event through the server within 120 s");
        if ev["swarm"] == s.as_str() && ev["acted"] == true {
            break ev;
        }
    };
    assert_eq!(ev["action"], "scale_up", "{ev}");
    assert_eq!(ev["reason"], "workers 0 -> 1: below min 1", "{ev}");
    wait_until("the new worker ready", NEW_WORKER, || {
        ops.ok(&["swarm", "inspect", &s, "--format", "{{.Workers}}"])
            .trim()
            == "1/1"
    });
    // Over HTTP: the recorded decision with its operation, and the next one.
    let st = wait_for_value(
        "the next decision over HTTP",
        Duration::from_secs(60),
        || http.get(&path, &token).body,
        |b| {
            b["next"]["reason"]
                .as_str()
                .is_some_and(|r| r == "not acting: 1 worker fits the work")
        },
    );
    let up = st["decisions"]
        .as_array()
        .and_then(|ds| ds.iter().find(|d| d["acted"] == true))
        .unwrap_or_else(|| panic!("an acted decision: {st}"));
    assert!(up["operation_id"].as_str().is_some(), "{up}");
    // Audited as done by the autoscaler.
    let audit = server.admin_client().ok(&["audit"]);
    assert!(
        audit
            .lines()
            .any(|l| l.contains("autoscaler") && l.contains("swarm.scale") && l.contains(&s)),
        "{audit}"
    );
    // Off over HTTP: no policy, no next decision.
    let a = http.json("PUT", &path, &token, &serde_json::json!({ "policy": null }));
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        a.body["policy"].is_null() && a.body.get("next").is_none(),
        "{}",
        a.text
    );
    ops.ok(&["swarm", "rm", "-y", "-f", &s]);
}
