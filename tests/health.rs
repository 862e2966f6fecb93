//! End to end: the health monitor and the event stream against a real testbed host.
//! A `flotilla health --watch` process monitors; a `flotilla events` process follows the
//! fleet's event log; the test breaks the host on purpose (docker stopped, the host
//! stopped, the host paused) and waits, with deadlines, for each change to arrive.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Unpauses the host container when the test ends, so its removal cannot hang on it.
struct Unpause(String);

impl Drop for Unpause {
    fn drop(&mut self) {
        let _ = docker(&["unpause", &self.0]);
    }
}

/// Events seen so far, and a way to wait for the next one that matches.
struct Stream {
    rx: mpsc::Receiver<Value>,
    seen: Vec<Value>,
}

impl Stream {
    /// Waits (at most `within`) for an event matching `pred`; returns it and when it came.
    fn wait_for(&mut self, what: &str, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => {
                    self.seen.push(ev.clone());
                    if pred(&ev) {
                        return ev;
                    }
                }
                Err(_) => panic!(
                    "no event for {what} within {within:?}; saw:\n{}",
                    self.seen
                        .iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }
}

fn health_to(to: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == "health_changed" && e["to"] == to
}

fn health_json(fleet: &Fleet, name: &str, extra: &[&str]) -> Value {
    let mut args = vec!["health", "--output", "json"];
    args.extend_from_slice(extra);
    args.push(name);
    let list: Value = serde_json::from_str(&fleet.ok(&args)).expect("health json");
    list[0].clone()
}

/// The interval the watcher checks at, and how long a change may take to show: two
/// agreeing results (hysteresis 2), each up to an interval plus a probe timeout away,
/// with room for a loaded 2-core machine. A bound, not a measurement.
const INTERVAL: &str = "1s";
const TIMEOUT: &str = "2s";
const WITHIN: Duration = Duration::from_secs(30);

#[test]
fn health_follows_what_happens_to_a_host_and_every_change_is_an_event() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    // The hosts share this machine's kernel, so they see its load: a busy CI machine
    // must not make them degraded. The load rule itself is unit-tested.
    let fleet = Fleet::new().with_env("FLOTILLA_MAX_LOAD_PER_CPU", "1000");
    let name = unique("hl");
    fleet.create(&name, &[]);
    let _unpause = Unpause(name.clone());

    // A round now, without a monitor: a healthy host with plausible figures.
    let h = health_json(&fleet, &name, &[]);
    assert_eq!(h["machine"], name.as_str());
    assert_eq!(h["status"], "healthy", "{h:#}");
    assert_eq!(h["reasons"], serde_json::json!([]), "{h:#}");
    let m = &h["metrics"];
    let cpu = m["cpu_percent"].as_f64().expect("cpu %");
    assert!((0.0..=100.0).contains(&cpu), "{m}");
    assert!(m["cpus"].as_u64().unwrap_or(0) >= 1, "{m}");
    let (used, total) = (
        m["mem_used_bytes"].as_u64().unwrap(),
        m["mem_total_bytes"].as_u64().unwrap(),
    );
    assert!(total > 64 << 20 && used > 0 && used <= total, "{m}");
    let root = &m["disk_root"];
    assert_eq!(root["path"], "/");
    let (dused, dtotal) = (
        root["used_bytes"].as_u64().unwrap(),
        root["total_bytes"].as_u64().unwrap(),
    );
    assert!(dtotal > 0 && dused > 0 && dused < dtotal, "{root}");
    assert_eq!(m["load"].as_array().map(|l| l.len()), Some(3), "{m}");
    assert!(m["uptime_secs"].as_u64().unwrap() > 0, "{m}");
    let rtt = h["ssh_rtt_ms"].as_f64().expect("ssh rtt");
    assert!(rtt > 0.0 && rtt < 5_000.0, "{rtt}");
    let docker_version = fleet.machine_json(&name)["docker_version"].clone();
    assert_eq!(h["docker"]["version"], docker_version, "{h:#}");
    assert_eq!(h["docker"]["containers_running"], 0);
    assert_eq!(h["driver_state"], "running");

    // The table, and the recorded sample with its age, without asking the host.
    let table = fleet.ok(&["health", &name]);
    let header = table.lines().next().unwrap_or("");
    for col in [
        "NAME", "STATUS", "CPU", "MEM", "DISK", "LOAD", "SSH-RTT", "DOCKER", "REASONS",
    ] {
        assert!(header.contains(col), "{table}");
    }
    assert!(
        table.lines().nth(1).unwrap_or("").contains("healthy"),
        "{table}"
    );
    let cached = health_json(&fleet, &name, &["--cached"]);
    assert_eq!(cached["status"], "healthy");
    let inspect = fleet.machine_json(&name);
    assert_eq!(inspect["health"]["status"], "healthy", "{inspect:#}");
    assert!(
        inspect["health"]["age_ms"].as_i64().is_some(),
        "{inspect:#}"
    );

    // A monitor at 1 s in one process; the event log followed from another.
    let (_events, rx) = follow_events(&fleet, &["--filter", &format!("machine={name}")]);
    let mut stream = Stream {
        rx,
        seen: Vec::new(),
    };
    let mut watcher = fleet
        .command(&[
            "health",
            "--watch",
            "--output",
            "json",
            "--interval",
            INTERVAL,
            "--timeout",
            TIMEOUT,
            &name,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run flotilla health --watch");
    // One JSON document per round; read them all, so the watcher never blocks on a full pipe.
    let rounds = watcher.stdout.take().expect("stdout");
    let _watch = Bg(watcher);
    let (round_tx, round_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(rounds).lines() {
            let Ok(line) = line else { break };
            if round_tx.send(line).is_err() {
                break;
            }
        }
    });
    // The watcher's first round is printed once its monitor runs and it has looked at the
    // host (healthy, so no event): only then break the host.
    let first = round_rx
        .recv_timeout(WITHIN)
        .unwrap_or_else(|e| panic!("health --watch printed no round within {WITHIN:?}: {e}"));
    let first: Value = serde_json::from_str(&first).expect("a round is JSON");
    assert_eq!(first[0]["status"], "healthy", "first round: {first:#}");

    // Docker down: degraded, with that reason.
    let out = host_exec(&name, "systemctl stop docker");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stopped_at = Instant::now();
    let ev = stream.wait_for("degraded", WITHIN, health_to("degraded"));
    eprintln!(
        "systemctl stop docker -> health_changed event: {:?}",
        stopped_at.elapsed()
    );
    assert_eq!(ev["from"], "healthy", "{ev}");
    let reasons = ev["reasons"].to_string();
    assert!(
        reasons.contains("docker daemon not answering on :2376"),
        "{ev}"
    );
    // `ls` shows why, from the store, in ERRORS.
    let ls = fleet.ok(&["ls"]);
    assert!(ls.contains("docker daemon not answering on :2376"), "{ls}");
    assert_eq!(fleet.machine_json(&name)["health"]["status"], "degraded");

    // Docker back: healthy.
    let out = host_exec(&name, "systemctl start docker");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ev = stream.wait_for("healthy again", WITHIN, health_to("healthy"));
    assert_eq!(ev["from"], "degraded", "{ev}");

    // The host stopped under flotilla's feet: the state follows, and health says stopped.
    assert!(docker(&["stop", &name]).status.success());
    stream.wait_for("state Stopped", WITHIN, |e| {
        e["type"] == "machine_state_changed" && e["to"] == "stopped"
    });
    let ev = stream.wait_for("stopped", WITHIN, health_to("stopped"));
    assert_eq!(ev["from"], "healthy", "{ev}");

    // Started again through flotilla (another process): healthy.
    fleet.ok(&["start", &name]);
    stream.wait_for("healthy after start", WITHIN, health_to("healthy"));

    // Paused: the driver says it runs, nothing answers: unreachable.
    assert!(docker(&["pause", &name]).status.success());
    let ev = stream.wait_for("unreachable", WITHIN, health_to("unreachable"));
    let reasons = ev["reasons"].to_string();
    assert!(
        reasons.contains("ssh not answering") && reasons.contains("docker daemon not answering"),
        "{ev}"
    );
    assert!(docker(&["unpause", &name]).status.success());
    stream.wait_for("healthy after unpause", WITHIN, health_to("healthy"));

    // Every change arrived, in order, each once.
    let seqs: Vec<u64> = stream
        .seen
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "events out of order: {seqs:?}"
    );
    let changes: Vec<(String, String)> = stream
        .seen
        .iter()
        .filter(|e| e["type"] == "health_changed")
        .map(|e| {
            (
                e["from"].as_str().unwrap_or("").to_string(),
                e["to"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = changes
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            ("healthy", "degraded"),
            ("degraded", "healthy"),
            ("healthy", "stopped"),
            ("stopped", "healthy"),
            ("healthy", "unreachable"),
            ("unreachable", "healthy"),
        ],
        "health changes, in order"
    );
}

#[test]
fn events_from_other_processes_are_followed_replayed_and_filtered() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    // The hosts share this machine's kernel, so they see its load: a busy CI machine
    // must not make them degraded. The load rule itself is unit-tested.
    let fleet = Fleet::new().with_env("FLOTILLA_MAX_LOAD_PER_CPU", "1000");
    let name = unique("ev");
    // Following before anything happens: what `create` and `stop` in other processes do
    // arrives here through the fleet's event log.
    let (_follower, rx) = follow_events(&fleet, &[]);
    let mut stream = Stream {
        rx,
        seen: Vec::new(),
    };
    fleet.create(&name, &[]);
    let created = stream.wait_for("machine_created", WITHIN, |e| {
        e["type"] == "machine_created" && e["machine"] == name.as_str()
    });
    let finished = stream.wait_for("create finished", WITHIN, |e| {
        e["type"] == "operation_finished" && e["operation"]["kind"] == "create"
    });
    assert_eq!(finished["operation"]["outcome"]["result"], "succeeded");
    fleet.ok(&["stop", &name]);
    stream.wait_for("stopped", WITHIN, |e| {
        e["type"] == "machine_state_changed" && e["from"] == "running" && e["to"] == "stopped"
    });

    // Replay from the log: everything from the creation on, in order, and it stops
    // at --until.
    let since = created["seq"].as_u64().unwrap() - 1;
    let replay = fleet.ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        "0s",
        "-o",
        "json",
    ]);
    let replayed: Vec<Value> = replay
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(replayed.first(), Some(&created), "{replay}");
    let types: Vec<&str> = replayed
        .iter()
        .map(|e| e["type"].as_str().unwrap_or(""))
        .collect();
    let pos = |t: &str| types.iter().position(|x| *x == t);
    assert!(
        pos("operation_started") < pos("operation_progress"),
        "{types:?}"
    );
    assert!(
        pos("operation_progress") < pos("operation_finished"),
        "{types:?}"
    );
    let last = replayed.last().expect("events");
    assert!(
        last["type"] == "machine_state_changed" && last["to"] == "stopped",
        "the stop comes last: {types:?}"
    );
    assert!(pos("operation_finished").is_some(), "{types:?}");
    let seqs: Vec<u64> = replayed
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // Filters: a type family, and a duration for --since.
    let only = fleet.ok(&[
        "events",
        "--since",
        "10m",
        "--until",
        "0s",
        "--filter",
        "type=machine",
        "--filter",
        &format!("machine={name}"),
    ]);
    let lines: Vec<&str> = only.lines().collect();
    assert!(
        lines
            .iter()
            .all(|l| l.contains(" machine_") && l.contains(&name)),
        "{only}"
    );
    assert!(
        lines.iter().any(|l| l.contains("machine_created")),
        "{only}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("machine_state_changed") && l.contains("Running -> Stopped")),
        "{only}"
    );

    // Bad input is one clear line.
    let err = fleet.fails(&["events", "--since", "last tuesday"]);
    assert!(err.contains("--since") && err.contains("duration"), "{err}");
    let err = fleet.fails(&["events", "--filter", "colour=red"]);
    assert!(err.contains("--filter"), "{err}");

    fleet.ok(&["rm", "-y", &name]);
    stream.wait_for("machine_removed", WITHIN, |e| {
        e["type"] == "machine_removed" && e["machine"] == name.as_str()
    });
}
