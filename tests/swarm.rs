//! End to end: swarms on real testbed hosts, driven through the CLI and the docker CLI
//! pointed at them by `flotilla env` / `flotilla env --swarm`.

mod common;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// The longest a service may run fewer replicas than it wants while a drained node's
/// tasks start elsewhere (one reschedule: stop, restart delay, start).
const RESCHEDULE: Duration = Duration::from_secs(30);

fn ok_text(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// `docker node ls` of the swarm, through a manager `env --swarm` picks now.
fn nodes(fleet: &Fleet, swarm: &str) -> Vec<(String, String, String)> {
    node_rows(&swarm_env(fleet, swarm)).expect("docker node ls: no manager answers")
}

fn hostnames(fleet: &Fleet, swarm: &str) -> BTreeSet<String> {
    nodes(fleet, swarm).into_iter().map(|n| n.0).collect()
}

/// The swarm's row in `flotilla swarm ls`, by column.
fn swarm_row(fleet: &Fleet, swarm: &str) -> Vec<String> {
    let ls = fleet.ok(&["swarm", "ls"]);
    ls.lines()
        .find(|l| l.split_whitespace().next() == Some(swarm))
        .unwrap_or_else(|| panic!("{swarm} in swarm ls:\n{ls}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn set(names: &[String]) -> BTreeSet<String> {
    names.iter().cloned().collect()
}

/// Samples something in the background until stopped.
struct Poller<T: Send + 'static> {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<(Instant, T)>>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Poller<T> {
    fn start(mut sample: impl FnMut() -> T + Send + 'static) -> Poller<T> {
        let stop = Arc::new(AtomicBool::new(false));
        let samples = Arc::new(Mutex::new(Vec::new()));
        let (s, out) = (stop.clone(), samples.clone());
        let handle = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let v = sample();
                out.lock().unwrap().push((Instant::now(), v));
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        Poller {
            stop,
            samples,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> Vec<(Instant, T)> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            h.join().unwrap();
        }
        std::mem::take(&mut *self.samples.lock().unwrap())
    }
}

/// The longest stretch of samples that failed `ok`.
fn longest_gap<T>(samples: &[(Instant, T)], ok: impl Fn(&T) -> bool) -> Duration {
    let mut longest = Duration::ZERO;
    let mut since: Option<Instant> = None;
    for (at, v) in samples {
        if ok(v) {
            if let Some(s) = since.take() {
                longest = longest.max(*at - s);
            }
        } else if since.is_none() {
            since = Some(*at);
        }
    }
    if let (Some(s), Some((last, _))) = (since, samples.last()) {
        longest = longest.max(*last - s);
    }
    longest
}

/// The recorded swarm node events of `swarm` (replayed up to now: `--until 0s`):
/// (type, machine, node_id, forced).
fn swarm_node_events(fleet: &Fleet, swarm: &str) -> Vec<(String, String, String, bool)> {
    let out = fleet.ok(&[
        "events", "--since", "1h", "--until", "0s", "--output", "json",
    ]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["swarm"] == swarm)
        .filter_map(|e| {
            let kind = e["type"].as_str()?.to_string();
            kind.starts_with("swarm_node_").then(|| {
                (
                    kind,
                    e["machine"].as_str().unwrap_or_default().to_string(),
                    e["node_id"].as_str().unwrap_or_default().to_string(),
                    e["forced"].as_bool().unwrap_or(false),
                )
            })
        })
        .collect()
}

fn machines_with(events: &[(String, String, String, bool)], kind: &str) -> BTreeSet<String> {
    events
        .iter()
        .filter(|e| e.0 == kind && !e.2.is_empty())
        .map(|e| e.1.clone())
        .collect()
}

/// What `flotilla health` (checking now) says of a member's swarm node.
fn swarm_health(fleet: &Fleet, machine: &str) -> serde_json::Value {
    let out = fleet.ok(&["health", "--output", "json", machine]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("health json");
    list[0]["swarm"].clone()
}

fn stderr_of(out: &Output) -> String {
    text(&out.stderr)
}

#[test]
fn a_swarm_scales_workers_and_managers_keeping_its_service_running() {
    let test = "a_swarm_scales_workers_and_managers_keeping_its_service_running";
    if !testbed(IMAGE_DOCKER) || !have_programs(test, &["tar", "/bin/busybox"]) {
        return;
    }
    let fleet = Fleet::new();
    let s = unique("sw");
    let m1 = format!("{s}-m1");
    let tmp = tempfile::tempdir().unwrap();
    let tar = tiny_tar(tmp.path());

    // create: 1 manager + 2 workers, with an engine option from `create`'s flags.
    fleet.ok(&[
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
        "2",
        "--engine-label",
        "team=blue",
    ]);
    let made: Vec<String> = [&m1, &format!("{s}-w1"), &format!("{s}-w2")]
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(machines_of(&fleet, &s), set(&made));
    let ls = fleet.ok(&["swarm", "ls"]);
    assert_eq!(
        ls.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["NAME", "DRIVER", "MANAGERS", "WORKERS", "STATE", "LEADER"]
    );
    assert_eq!(
        swarm_row(&fleet, &s),
        [s.as_str(), "container", "1/1", "2/2", "Ready", &m1]
    );
    let mls = fleet.ok(&["ls"]);
    for (name, role) in [(&made[0], "manager"), (&made[1], "worker")] {
        let line = mls.lines().find(|l| l.starts_with(name.as_str())).unwrap();
        assert!(line.contains(&format!("{s} ({role})")), "{line}");
    }
    let labels = ok_text(
        fleet.docker_on(&made[1], &["info", "--format", "{{json .Labels}}"]),
        "docker info",
    );
    assert!(
        labels.contains("team=blue")
            && labels.contains(&format!("flotilla.swarm={s}"))
            && labels.contains("flotilla.swarm.role=worker"),
        "{labels}"
    );
    assert_eq!(hostnames(&fleet, &s), set(&made));
    // Every node's join is in the event log: init for the first manager, then joins.
    let events = swarm_node_events(&fleet, &s);
    assert_eq!(
        machines_with(&events, "swarm_node_joined"),
        set(&made),
        "{events:?}"
    );
    assert!(
        machines_with(&events, "swarm_node_left").is_empty(),
        "{events:?}"
    );
    // Health asks a manager how it sees the members.
    let node = swarm_health(&fleet, &m1);
    assert_eq!(node["swarm"], s.as_str(), "{node}");
    assert_eq!(node["role"], "manager", "{node}");
    assert_eq!(node["status"], "ready", "{node}");
    assert_eq!(node["availability"], "active", "{node}");
    assert_eq!(node["manager_reachability"], "reachable", "{node}");
    assert_eq!(node["leader"], true, "{node}");
    let node = swarm_health(&fleet, &made[1]);
    assert_eq!(node["role"], "worker", "{node}");
    assert_eq!(node["status"], "ready", "{node}");
    assert_eq!(node["availability"], "active", "{node}");
    assert!(node.get("manager_reachability").is_none(), "{node}");
    let inspect: serde_json::Value =
        serde_json::from_str(&fleet.ok(&["swarm", "inspect", &s])).unwrap();
    assert_eq!(inspect["leader"], m1.as_str());
    assert_eq!(inspect["nodes"].as_array().unwrap().len(), 3);
    assert_eq!(
        fleet
            .ok(&[
                "swarm",
                "inspect",
                &s,
                "--format",
                "{{.Managers}} {{.Workers}}"
            ])
            .trim(),
        "1/1 2/2"
    );
    // create again converges: same shape, nothing new.
    fleet.ok(&[
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
        "2",
    ]);
    assert_eq!(hostnames(&fleet, &s), set(&made));

    // A service with 6 replicas; its tasks stop on SIGTERM at once.
    load_tiny(&fleet, &tar, &made);
    let env = swarm_env(&fleet, &s);
    assert!(env
        .iter()
        .any(|(k, v)| k == "DOCKER_MACHINE_NAME" && *v == m1));
    ok_text(
        docker_with(
            &env,
            &[
                "service",
                "create",
                "-d",
                "--no-resolve-image",
                "--name",
                "web",
                "--replicas",
                "6",
                "--restart-delay",
                "1s",
                "--stop-grace-period",
                "5s",
                "tiny:1",
                "/bin/sh",
                "-c",
                "trap 'exit 0' TERM; while :; do /bin/busybox sleep 1; done",
            ],
        ),
        "docker service create",
    );
    wait_until("6 replicas running", Duration::from_secs(90), || {
        running_tasks(&env, "web") == Some(6)
    });

    // Scale up to 4 workers: the new machines join.
    fleet.ok(&["swarm", "scale", &s, "--workers", "4"]);
    let new: Vec<String> = vec![format!("{s}-w3"), format!("{s}-w4")];
    let mut all = made.clone();
    all.extend(new.iter().cloned());
    assert_eq!(machines_of(&fleet, &s), set(&all));
    let ns = nodes(&fleet, &s);
    assert_eq!(ns.len(), 5, "{ns:?}");
    assert!(ns.iter().all(|n| n.1 == "Ready"), "{ns:?}");
    load_tiny(&fleet, &tar, &new);

    // Scale down to 1 worker while watching the service.
    let watch_env = env.clone();
    let poller = Poller::start(move || running_tasks(&watch_env, "web"));
    let out = fleet.run(&[
        "swarm",
        "scale",
        &s,
        "--workers",
        "1",
        "--drain-timeout",
        "90s",
    ]);
    let samples = poller.finish();
    assert!(out.status.success(), "scale down: {}", stderr_of(&out));
    assert!(
        samples.len() >= 5,
        "the service was checked along the way ({} samples)",
        samples.len()
    );
    let gap = longest_gap(&samples, |v| *v == Some(6));
    eprintln!(
        "running replicas during the scale-down: {:?} (longest below 6: {gap:?})",
        samples.iter().map(|s| s.1).collect::<Vec<_>>()
    );
    assert!(
        gap <= RESCHEDULE,
        "the service ran fewer than 6 replicas for {gap:?}: {:?}",
        samples.iter().map(|s| s.1).collect::<Vec<_>>()
    );
    wait_until(
        "6 replicas running after the scale-down",
        RESCHEDULE,
        || running_tasks(&env, "web") == Some(6),
    );
    let kept = machines_of(&fleet, &s);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(kept.contains(&m1));
    assert_eq!(
        hostnames(&fleet, &s),
        kept,
        "removed nodes left docker node ls"
    );
    for gone in all.iter().filter(|m| !kept.contains(*m)) {
        assert_gone(&fleet, gone);
    }
    // The new workers' joins and every removed node's removal are in the event log.
    let events = swarm_node_events(&fleet, &s);
    assert_eq!(
        machines_with(&events, "swarm_node_joined"),
        set(&all),
        "{events:?}"
    );
    let removed: BTreeSet<String> = all.iter().filter(|m| !kept.contains(*m)).cloned().collect();
    assert_eq!(
        machines_with(&events, "swarm_node_left"),
        removed,
        "{events:?}"
    );
    assert!(
        events.iter().all(|e| !e.3),
        "nodes that left were not forced out: {events:?}"
    );
    for member in &kept {
        let node = swarm_health(&fleet, member);
        assert_eq!(node["status"], "ready", "{member}: {node}");
        assert_eq!(node["availability"], "active", "{member}: {node}");
    }
    assert_eq!(swarm_row(&fleet, &s)[2..5], ["1/1", "1/1", "Ready"]);

    // Managers 1 -> 3, the cluster answering throughout.
    let answers = |fleet_home: PathBuf, swarm: String| {
        let bin = env!("CARGO_BIN_EXE_flotilla").to_string();
        move || {
            let env = Command::new(&bin)
                .args(["env", "--shell", "bash", "--swarm", &swarm])
                .env("FLOTILLA_HOME", &fleet_home)
                .stdin(Stdio::null())
                .output();
            let Ok(env) = env else { return false };
            if !env.status.success() {
                return false;
            }
            let vars: Vec<(String, String)> = text(&env.stdout)
                .lines()
                .filter_map(|l| l.strip_prefix("export "))
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect();
            docker_with(&vars, &["node", "ls", "-q"]).status.success()
        }
    };
    let poller = Poller::start(answers(fleet.home().to_path_buf(), s.clone()));
    let out = fleet.run(&["swarm", "scale", &s, "--managers", "3"]);
    let samples = poller.finish();
    assert!(out.status.success(), "managers 1 -> 3: {}", stderr_of(&out));
    assert!(
        samples.iter().all(|(_, ok)| *ok),
        "the cluster did not answer at {} of {} checks",
        samples.iter().filter(|(_, ok)| !*ok).count(),
        samples.len()
    );
    let ns = nodes(&fleet, &s);
    let managers: Vec<_> = ns.iter().filter(|n| !n.2.is_empty()).collect();
    assert_eq!(managers.len(), 3, "{ns:?}");
    assert!(managers
        .iter()
        .all(|n| n.2 == "Leader" || n.2 == "Reachable"));

    // Two managers unreachable: no quorum, so no manager is removed.
    let (m2, m3) = (format!("{s}-m2"), format!("{s}-m3"));
    for m in [&m2, &m3] {
        let out = fleet.ssh(m, "systemctl stop docker.socket docker");
        assert!(
            out.status.success(),
            "stop docker on {m}: {}",
            stderr_of(&out)
        );
    }
    let err = fleet.fails(&["swarm", "scale", &s, "--managers", "1"]);
    // Progress lines come first; the error is one line.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(errors[0].contains("quorum"), "{err}");
    let still: BTreeSet<String> = machines_of(&fleet, &s);
    assert!(still.contains(&m2) && still.contains(&m3), "{still:?}");
    for m in [&m2, &m3] {
        let out = fleet.ssh(m, "systemctl start docker");
        assert!(
            out.status.success(),
            "start docker on {m}: {}",
            stderr_of(&out)
        );
    }
    wait_until(
        "3 reachable managers again",
        Duration::from_secs(90),
        || {
            let out = docker_swarm(
                &fleet,
                &s,
                &["node", "ls", "--format", "{{.ManagerStatus}}"],
            );
            out.status.success()
                && text(&out.stdout)
                    .lines()
                    .filter(|l| *l == "Leader" || *l == "Reachable")
                    .count()
                    == 3
        },
    );

    // Managers 3 -> 1, the cluster answering throughout.
    let poller = Poller::start(answers(fleet.home().to_path_buf(), s.clone()));
    let out = fleet.run(&["swarm", "scale", &s, "--managers", "1"]);
    let samples = poller.finish();
    assert!(out.status.success(), "managers 3 -> 1: {}", stderr_of(&out));
    assert!(
        samples.iter().all(|(_, ok)| *ok),
        "the cluster did not answer at {} of {} checks",
        samples.iter().filter(|(_, ok)| !*ok).count(),
        samples.len()
    );
    let ns = nodes(&fleet, &s);
    assert_eq!(ns.iter().filter(|n| !n.2.is_empty()).count(), 1, "{ns:?}");
    assert_eq!(ns.len(), 2, "{ns:?}");
    assert_gone(&fleet, &m2);
    assert_gone(&fleet, &m3);
    wait_until("6 replicas running at the end", RESCHEDULE, || {
        running_tasks(&env, "web") == Some(6)
    });

    // rm leaves nothing.
    let err = fleet.fails(&["swarm", "rm", &s]);
    assert!(err.contains("-y"), "rm asks first: {err}");
    fleet.ok(&["swarm", "rm", "-y", &s]);
    for m in kept.iter().chain(all.iter()) {
        assert_gone(&fleet, m);
    }
    assert_eq!(fleet.ok(&["swarm", "ls", "-q"]), "");
    assert!(!fleet.home().join("swarms").join(&s).exists());
}

#[test]
fn an_interrupted_scale_converges_and_faults_are_handled() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let s = unique("sf");
    fleet.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--workers",
        "1",
    ]);

    // Ctrl-C while the new machines are being made, then the same command again.
    let child = fleet
        .command(&["swarm", "scale", &s, "--workers", "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let w3 = format!("{s}-w3");
    wait_until("a new machine being made", Duration::from_secs(60), || {
        fleet.names().contains(&w3)
    });
    // Another process cannot remove a machine the scale holds meanwhile.
    let w1 = format!("{s}-w1");
    let err = fleet.fails(&["rm", "-y", &w1]);
    assert!(err.contains(&format!("{w1} is busy")), "{err}");
    assert!(fleet.names().contains(&w1));
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "the scale was interrupted: {}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains(&format!("flotilla swarm scale {s} --workers 3")),
        "the message says what to run: {}",
        stderr_of(&out)
    );
    // With no count, a scale brings the swarm to the shape on record: the 3 workers
    // the interrupted scale had recorded.
    fleet.ok(&["swarm", "scale", &s]);
    let want: Vec<String> = ["m1", "w1", "w2", "w3"]
        .iter()
        .map(|r| format!("{s}-{r}"))
        .collect();
    assert_eq!(machines_of(&fleet, &s), set(&want));
    let ns = nodes(&fleet, &s);
    assert_eq!(ns.len(), 4, "no duplicate node: {ns:?}");
    assert!(ns.iter().all(|n| n.1 == "Ready"), "{ns:?}");
    assert_eq!(hostnames(&fleet, &s), set(&want));

    // A worker host dies; scaling down removes it first, its node with force after
    // the timeout, and the report says so.
    let dead = format!("{s}-w1");
    let out = docker(&["kill", &dead]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = fleet.run(&[
        "swarm",
        "scale",
        &s,
        "--workers",
        "2",
        "--drain-timeout",
        "20s",
    ]);
    assert!(out.status.success(), "scale down: {}", stderr_of(&out));
    let report = stderr_of(&out);
    assert!(
        report.contains(&dead) && report.contains("--force"),
        "the report says the node was removed with force: {report}"
    );
    assert_gone(&fleet, &dead);
    let events = swarm_node_events(&fleet, &s);
    assert!(
        events
            .iter()
            .any(|e| e.0 == "swarm_node_left" && e.1 == dead && e.3),
        "the dead node's removal is a forced swarm_node_left: {events:?}"
    );
    let ns = nodes(&fleet, &s);
    assert_eq!(ns.len(), 3, "{ns:?}");
    assert!(!ns.iter().any(|n| n.0 == dead), "{ns:?}");

    // A swarm name that clashes with a machine prefix in use is refused.
    let web = format!("{s}x-web");
    fleet.create(&web, &[]);
    let err = fleet.fails(&["swarm", "create", &format!("{s}x"), "-d", "container"]);
    assert!(err.contains("clashes with machine"), "{err}");
    error_line(&err);

    // Rotated tokens: the old ones stop working, and a later join uses the new ones.
    let token = |fleet: &Fleet| {
        ok_text(
            docker_swarm(fleet, &s, &["swarm", "join-token", "-q", "worker"]),
            "join-token",
        )
    };
    let before = token(&fleet);
    fleet.ok(&["swarm", "rotate-tokens", &s]);
    assert_ne!(before, token(&fleet));

    // Adopt an existing machine.
    fleet.ok(&["swarm", "join", &s, &web, "--role", "worker"]);
    assert!(hostnames(&fleet, &s).contains(&web));
    let line = fleet
        .ok(&["ls"])
        .lines()
        .find(|l| l.starts_with(&web))
        .unwrap()
        .to_string();
    assert!(line.contains(&format!("{s} (worker)")), "{line}");
    assert_eq!(swarm_row(&fleet, &s)[2..5], ["1/1", "3/3", "Ready"]);

    // rm: every machine of the swarm, the adopted one too.
    let members = machines_of(&fleet, &s);
    assert!(members.contains(&web));
    fleet.ok(&["swarm", "rm", "-y", &s]);
    for m in &members {
        assert_gone(&fleet, m);
    }
    assert_eq!(fleet.ok(&["swarm", "ls", "-q"]), "");
}

#[test]
fn bad_swarm_input_is_refused_in_one_line() {
    let fleet = Fleet::new();
    let one_line = |err: &str| {
        error_line(err);
    };

    let err = fleet.fails(&["swarm", "create", "prod", "--managers", "0"]);
    assert!(err.contains("at least 1 manager"), "{err}");
    one_line(&err);
    let err = fleet.fails(&["swarm", "create", "prod", "--managers", "2"]);
    assert!(
        err.contains("odd number") && err.contains("--force"),
        "{err}"
    );
    one_line(&err);
    let err = fleet.fails(&["swarm", "create", "Prod"]);
    assert!(err.contains("invalid swarm name"), "{err}");
    one_line(&err);

    for args in [
        vec!["swarm", "scale", "nope", "--workers", "2"],
        vec!["swarm", "scale", "nope"],
        vec!["swarm", "join", "nope", "web1", "--role", "worker"],
        vec!["swarm", "inspect", "nope"],
        vec!["swarm", "rotate-tokens", "nope"],
        vec!["swarm", "rm", "-y", "nope"],
        vec!["env", "--swarm", "nope"],
        vec!["config", "--swarm", "nope"],
    ] {
        let err = fleet.fails(&args);
        assert!(
            err.contains("no swarm named \"nope\""),
            "{}: {err}",
            args.join(" ")
        );
        one_line(&err);
    }
    assert_eq!(fleet.ok(&["swarm", "ls", "-q"]), "");
}
