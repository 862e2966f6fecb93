//! Several `flotilla serve` replicas on one store (issue #13): events made through one
//! are followed through the other, each exactly once; every machine is checked by
//! exactly one live replica, the one the rendezvous rule names; a replica killed with
//! SIGKILL has its machines checked again by the other; a client given both URLs keeps
//! working and its event follow goes on; a `create` whose replica dies mid-way ends and
//! its machine can be removed; a `swarm scale` whose replica dies mid-way ends, the same
//! scale through the other replica finishes it, and `swarm rm` leaves nothing.
//!
//! The replicas share the store that [`SharedStore`] names: one SQLite data dir, or
//! under FLOTILLA_TEST_STORE=postgres (scripts/test's second pass) a database of the
//! test PostgreSQL, with the data dir holding only the master key they share.

mod common;
mod server_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// How often the replicas' monitors check each machine: the default, whose expiry
/// (3.75 s without a heartbeat) a replica on a loaded test machine does not reach by
/// a stall; shorter intervals are the bench's.
const INTERVAL: &str = "5s";
/// Generous bounds for a loaded machine: these are waits on conditions, not timings
/// (benches/replicas.rs measures the failover).
const SETTLES_WITHIN: Duration = Duration::from_secs(120);
const CREATE_WITHIN: Duration = Duration::from_secs(600);

/// The one place that says where the replicas keep the fleet.
struct SharedStore {
    home: tempfile::TempDir,
    /// The PostgreSQL database, when the run is on PostgreSQL.
    url: Option<String>,
}

impl SharedStore {
    fn new() -> SharedStore {
        SharedStore {
            home: tempfile::tempdir().expect("temp dir"),
            url: server_support::test_store_url(),
        }
    }

    /// What a replica process needs to open this store.
    fn apply(&self, cmd: &mut Command) {
        cmd.env("FLOTILLA_HOME", self.home.path());
        match &self.url {
            Some(url) => cmd.env("FLOTILLA_STORE_URL", url),
            None => cmd.env_remove("FLOTILLA_STORE_URL"),
        };
    }

    /// The fleet as a process on the store sees it, without a server (for cleaning up).
    fn local(&self, args: &[&str]) -> std::process::Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args(args)
            .args(["--server", "local"])
            .env_remove("FLOTILLA_SERVER")
            .stdin(Stdio::null());
        self.apply(&mut cmd);
        cmd.output().expect("run flotilla")
    }
}

impl Drop for SharedStore {
    fn drop(&mut self) {
        let names = self.local(&["ls", "-q"]);
        for name in text(&names.stdout).lines() {
            let _ = self.local(&["rm", "-f", "-y", name]);
        }
    }
}

/// One `flotilla serve` on the shared store.
struct Replica {
    url: String,
    fingerprint: String,
    name: String,
    /// Printed by the first replica only (the next ones find an admin).
    admin: Option<String>,
    child: Option<Child>,
}

impl Replica {
    /// Starts a replica named `name`; `first`: the store is new, so it makes and prints
    /// the admin token.
    fn start(store: &SharedStore, name: &str, first: bool) -> Replica {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--unsafe-local-container-hosts",
            "--monitor-interval",
            INTERVAL,
            "--replica-name",
            name,
        ])
        .env_remove("FLOTILLA_SERVER")
        .env_remove("FLOTILLA_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
        store.apply(&mut cmd);
        let mut child = cmd.spawn().expect("start flotilla serve");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let (mut url, mut fingerprint, mut replica, mut admin) = (None, None, None, None);
        while let Some(Ok(line)) = lines.next() {
            if let Some(u) = line.strip_prefix("flotilla server listening on ") {
                url = Some(u.trim().to_string());
            } else if let Some(f) = line.strip_prefix("certificate fingerprint ") {
                fingerprint = Some(f.trim().to_string());
            } else if let Some(r) = line.strip_prefix("replica ") {
                replica = Some(r.trim().to_string());
                // A replica that finds an admin prints no token: its name ends its lines.
                if !first {
                    break;
                }
            } else if let Some(t) =
                line.strip_prefix("admin token (shown only now, keep it safe): ")
            {
                admin = Some(t.trim().to_string());
            } else if line.starts_with("log in with:") {
                break;
            }
        }
        std::thread::spawn(move || for _ in lines {});
        Replica {
            url: url.expect("the replica says where it listens"),
            fingerprint: fingerprint.expect("the replica names its certificate"),
            name: replica.expect("the replica says its name"),
            admin,
            child: Some(child),
        }
    }

    /// SIGKILL: no goodbye, its row in the store stays until it expires.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A client of the replicas in its own home, logged in with `urls` in that order.
fn login(urls: &[&str], token: &str, fingerprint: &str) -> Fleet {
    let client = Fleet::new().without_cleanup();
    let mut args = vec!["login"];
    args.extend_from_slice(urls);
    args.extend(["--token", token, "--fingerprint", fingerprint]);
    client.ok(&args);
    client
}

/// The recorded health of every machine, by name, as the client's server answers.
fn health(client: &Fleet) -> BTreeMap<String, Value> {
    let out = client.ok(&["health", "--cached", "-o", "json"]);
    let list: Vec<Value> = serde_json::from_str(&out).expect("health json");
    list.into_iter()
        .map(|h| (h["machine"].as_str().unwrap_or_default().to_string(), h))
        .collect()
}

fn replica_names(client: &Fleet) -> Vec<String> {
    client
        .ok(&["info"])
        .lines()
        .filter_map(|l| l.strip_prefix("replica "))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// Events received so far (without waiting).
fn drain(rx: &Receiver<Value>, into: &mut Vec<Value>) {
    while let Ok(ev) = rx.try_recv() {
        into.push(ev);
    }
}

/// Waits until each machine has been checked `rounds` more times, every check by
/// `owner(machine)`; fails on a check by any other replica.
fn checked_only_by(
    client: &Fleet,
    machines: &[String],
    owner: impl Fn(&str) -> String,
    after_ms: i64,
    rounds: usize,
) {
    let mut seen: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    let start = Instant::now();
    loop {
        let h = health(client);
        for m in machines {
            let Some(row) = h.get(m) else { continue };
            let at = row["checked_ms"].as_i64().unwrap_or(0);
            if at <= after_ms {
                continue;
            }
            let by = row["checked_by"].as_str().unwrap_or("(none)");
            assert_eq!(
                by,
                owner(m),
                "{m} was checked by {by}, not by the one replica that owns it: {row}"
            );
            seen.entry(m.clone()).or_default().insert(at);
        }
        if machines
            .iter()
            .all(|m| seen.get(m).is_some_and(|s| s.len() >= rounds))
        {
            return;
        }
        assert!(
            start.elapsed() < SETTLES_WITHIN,
            "not every machine was checked {rounds} times within {SETTLES_WITHIN:?}: {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn two_replicas_share_events_monitoring_and_clients() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let store = SharedStore::new();
    let mut a = Replica::start(&store, "a", true);
    let b = Replica::start(&store, "b", false);
    assert_eq!((a.name.as_str(), b.name.as_str()), ("a", "b"));
    assert_eq!(
        a.fingerprint, b.fingerprint,
        "one certificate, in the store"
    );
    let admin = a
        .admin
        .clone()
        .expect("the first replica prints the admin token");
    let through_a = login(&[&a.url], &admin, &a.fingerprint);
    let through_b = login(&[&b.url], &admin, &b.fingerprint);
    let both = login(&[&a.url, &b.url], &admin, &a.fingerprint);
    let mut names = replica_names(&both);
    names.sort();
    assert_eq!(names, ["a", "b"], "info lists the live replicas");

    // Machines made through A while `flotilla events` follows B.
    let (_follow_b, from_b) = follow_events(&through_b, &[]);
    let t0 = flotilla::api::now_ms();
    // Three machines, both replicas checking at least one of them by the rule.
    let live = vec!["a".to_string(), "b".to_string()];
    let owner = |m: &str| {
        flotilla::api::replica_for(m, &live)
            .expect("a replica")
            .to_string()
    };
    let mut machines: Vec<String> = (1..=2).map(|i| unique(&format!("rep{i}"))).collect();
    let third = (0..1000)
        .map(|i| format!("rep3-{i:03}-{}", unique("x")))
        .find(|m| {
            let owners: BTreeSet<String> = machines.iter().chain([m]).map(|n| owner(n)).collect();
            owners.len() == 2
        })
        .expect("a name the other replica checks");
    machines.push(third);
    let creates: Vec<Bg> = machines
        .iter()
        .map(|m| {
            Bg(through_a
                .command(&[
                    "create",
                    "-d",
                    "container",
                    "--container-image",
                    IMAGE_DOCKER,
                    m,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run create"))
        })
        .collect();
    for (m, mut c) in machines.iter().zip(creates) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = c.0.try_wait().expect("wait for create") {
                break s;
            }
            assert!(start.elapsed() < CREATE_WITHIN, "create {m} did not end");
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(status.success(), "create {m} through A failed");
    }

    // Every event of the machines, as the store recorded it, arrived through B once.
    let until = flotilla::api::format_utc(flotilla::api::now_ms() + 1000);
    let since = flotilla::api::format_utc(t0 - 1000);
    let logged: Vec<Value> = through_a
        .ok(&["events", "-o", "json", "--since", &since, "--until", &until])
        .lines()
        .map(|l| serde_json::from_str(l).expect("event json"))
        .collect();
    let ours = |ev: &Value| {
        let s = ev.to_string();
        machines.iter().any(|m| s.contains(m.as_str()))
    };
    let want: BTreeSet<u64> = logged
        .iter()
        .filter(|e| ours(e))
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    assert!(!want.is_empty());
    let mut got_b = Vec::new();
    wait_until(
        "B's follower has every event of the creates",
        SETTLES_WITHIN,
        || {
            drain(&from_b, &mut got_b);
            let have: BTreeSet<u64> = got_b.iter().filter_map(|e| e["seq"].as_u64()).collect();
            want.is_subset(&have)
        },
    );
    let ids: Vec<u64> = got_b
        .iter()
        .filter(|e| ours(e))
        .filter_map(|e| e["seq"].as_u64())
        .collect();
    let distinct: BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(
        ids.len(),
        distinct.len(),
        "an event came twice through B: {ids:?}"
    );
    assert_eq!(distinct, want, "B delivered what the log holds, no more");

    // Each machine is checked by exactly one replica: the one the rule names.
    checked_only_by(&both, &machines, owner, t0, 3);

    // The client with both URLs follows events (through A, the first).
    let followed_from = flotilla::api::now_ms();
    let (_follow_both, from_both) = follow_events(&both, &[]);
    // Something to see before the kill: a stop records the machine's change.
    both.ok(&["stop", &machines[0]]);
    let mut got_both = Vec::new();
    wait_until("the follow sees the stop", SETTLES_WITHIN, || {
        drain(&from_both, &mut got_both);
        got_both
            .iter()
            .any(|e| e["type"] == "machine_state_changed" && e["machine"] == machines[0].as_str())
    });

    // A dies. Its machines are checked by B, from B's store rows.
    let killed_ms = flotilla::api::now_ms();
    a.kill();
    let only_b = vec!["b".to_string()];
    let owner_b = |m: &str| {
        flotilla::api::replica_for(m, &only_b)
            .expect("b")
            .to_string()
    };
    // The stopped machine is checked too (stopped is a health).
    checked_only_by(&both, &machines, owner_b, killed_ms, 2);
    wait_until("info lists only B once A expired", SETTLES_WITHIN, || {
        replica_names(&both) == ["b"]
    });

    // The client keeps working (through B) and its follow goes on, once per event.
    both.ok(&["start", &machines[0]]);
    both.ok(&["rm", "-y", &machines[2]]);
    wait_until(
        "the follow sees what was done through B",
        SETTLES_WITHIN,
        || {
            drain(&from_both, &mut got_both);
            got_both
                .iter()
                .any(|e| e["type"] == "machine_removed" && e["machine"] == machines[2].as_str())
        },
    );
    let seqs: Vec<u64> = got_both
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| *s != 0)
        .collect();
    let distinct: BTreeSet<u64> = seqs.iter().copied().collect();
    assert_eq!(
        seqs.len(),
        distinct.len(),
        "the follow saw an event twice: {seqs:?}"
    );
    // Nothing the log holds from the follow's start to the last event it saw is
    // missing (live events may come in another order; the set must be whole).
    let (first, last) = (
        *distinct.first().expect("events"),
        *distinct.last().expect("events"),
    );
    let since = flotilla::api::format_utc(followed_from - 1000);
    let until = flotilla::api::format_utc(flotilla::api::now_ms() + 1000);
    let logged: BTreeSet<u64> = both
        .ok(&["events", "-o", "json", "--since", &since, "--until", &until])
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["seq"].as_u64())
        .filter(|s| (first..=last).contains(s))
        .collect();
    assert_eq!(
        distinct, logged,
        "the follow lost events across the failover"
    );
}

/// Two replicas on one store (A first, printing the admin token), a client with both
/// URLs (A's first) and one with B's alone.
struct Pair {
    store: SharedStore,
    a: Replica,
    b: Replica,
    both: Fleet,
    through_b: Fleet,
}

impl Pair {
    fn start() -> Pair {
        let store = SharedStore::new();
        let a = Replica::start(&store, "a", true);
        let b = Replica::start(&store, "b", false);
        let admin = a
            .admin
            .clone()
            .expect("the first replica prints the admin token");
        let both = login(&[&a.url, &b.url], &admin, &a.fingerprint);
        let through_b = login(&[&b.url], &admin, &b.fingerprint);
        Pair {
            store,
            a,
            b,
            both,
            through_b,
        }
    }
}

#[test]
fn a_create_whose_replica_is_killed_ends_and_rm_cleans_up() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let Pair {
        store: _store,
        mut a,
        b: _b,
        both,
        through_b,
    } = Pair::start();
    let name = unique("repkill");
    let create = Bg(both
        .command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
            &name,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run create"));
    // The create runs in A (the client's first URL): its machine shows up, then A dies.
    wait_until("the machine recorded by the create", SETTLES_WITHIN, || {
        through_b.names().contains(&name)
    });
    a.kill();

    // The operation ends (failed, or finished if A got that far) within a bound.
    let (status, err) = ended_within(create, "the create after its replica died", SETTLES_WITHIN);
    if !status.success() {
        assert!(
            err.contains("stopped before it finished"),
            "the create failed for another reason:\n{err}"
        );
    }
    let m = both.machine_json(&name);
    let state = m["state"].as_str().unwrap_or_default().to_string();
    assert!(
        state == "running" || state == "error",
        "after the create ended the machine is {state}: {m}"
    );
    // Nothing stays busy: rm through the surviving replica takes all of it.
    both.ok(&["rm", "-y", &name]);
    assert!(!both.names().contains(&name));
    assert!(containers_of(&name).is_empty(), "{name}: containers left");
    assert!(volumes_of(&name).is_empty(), "{name}: volumes left");
}

/// A second live server under a name a live replica holds is refused at start, with
/// one error line that says what to do; the bounds of the new flags are checked when read.
#[test]
fn a_replica_name_held_by_a_live_server_is_refused() {
    let store = SharedStore::new();
    let _a = Replica::start(&store, "a", true);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--no-monitor",
        "--replica-name",
        "a",
    ])
    .env_remove("FLOTILLA_SERVER")
    .stdin(Stdio::null());
    store.apply(&mut cmd);
    let out = cmd.output().expect("run flotilla serve");
    assert!(!out.status.success(), "a second replica named a started");
    let err = text(&out.stderr);
    // After the line that says where container hosts go, one error line.
    let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error")).collect();
    assert!(
        errors.len() == 1
            && errors[0].contains("replica name a is taken by a live server")
            && errors[0].contains("--replica-name"),
        "{err}"
    );
    for bad in [
        ["--monitor-interval", "50ms"],
        ["--monitor-interval", "2d"],
        ["--replica-name", "has space"],
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flotilla"));
        cmd.arg("serve").args(bad).stdin(Stdio::null());
        store.apply(&mut cmd);
        let out = cmd.output().expect("run flotilla serve");
        assert!(!out.status.success(), "serve {bad:?} was accepted");
    }
}

/// Waits for a background command to end within `bound`: its status and what it
/// printed on stderr (read as it comes, so a full pipe never holds it up).
fn ended_within(mut cmd: Bg, what: &str, bound: Duration) -> (std::process::ExitStatus, String) {
    let reader = cmd.0.stderr.take().map(|mut e| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = std::io::Read::read_to_string(&mut e, &mut s);
            s
        })
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = cmd.0.try_wait().expect("wait for the command") {
            break s;
        }
        assert!(
            start.elapsed() < bound,
            "{what} did not end within {bound:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let err = reader
        .map(|r| r.join().expect("stderr reader"))
        .unwrap_or_default();
    (status, err)
}

/// Issue #13's `swarm scale` case: replica A dies while it makes the new worker of a
/// scale a client started through it. The scale ends (failed, saying the process
/// stopped, or finished) within a bound; the swarm is not left busy: the same scale
/// through B finishes it and the swarm has its nodes as `docker node ls` on its
/// manager shows them; B checks every machine; `swarm rm` through B leaves nothing.
#[test]
fn a_swarm_scale_whose_replica_is_killed_ends_and_a_rerun_finishes_it() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let Pair {
        store: _store,
        mut a,
        b: _b,
        both,
        through_b,
    } = Pair::start();
    let s = unique("rks");
    let (m1, w1) = (format!("{s}-m1"), format!("{s}-w1"));
    let machines = vec![m1.clone(), w1.clone()];
    both.ok(&[
        "swarm",
        "create",
        &s,
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--managers",
        "1",
    ]);

    // The scale runs in A (the client's first URL): its new machine shows up through
    // B, then A dies.
    let scale = Bg(both
        .command(&["swarm", "scale", &s, "--workers", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run swarm scale"));
    wait_until(
        "the new worker recorded by the scale",
        SETTLES_WITHIN,
        || through_b.names().contains(&w1),
    );
    let killed = Instant::now();
    a.kill();
    let killed_ms = flotilla::api::now_ms();

    // The scale ends within a bound: failed because its process stopped, or finished
    // if A got that far.
    let (status, err) = ended_within(scale, "the scale after its replica died", SETTLES_WITHIN);
    let ended_after = killed.elapsed();
    if !status.success() {
        assert!(
            err.contains("stopped before it finished")
                && err.contains(&format!(
                    "flotilla swarm scale {s} --managers 1 --workers 1"
                )),
            "the scale failed for another reason, or without the command that finishes it:\n{err}"
        );
    }
    // When the store recorded the operation's end (the replica that ended it).
    let since = flotilla::api::format_utc(killed_ms - 60_000);
    let until = flotilla::api::format_utc(flotilla::api::now_ms() + 1000);
    let finished_ms = through_b
        .ok(&["events", "-o", "json", "--since", &since, "--until", &until])
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "operation_finished")
        .filter(|e| {
            e["operation"]["kind"] == "swarm-scale" && e["operation"]["target"] == s.as_str()
        })
        .filter_map(|e| e["operation"]["finished_ms"].as_i64())
        .next_back()
        .expect("the scale's end is in the event log");
    eprintln!(
        "swarm scale after SIGKILL of its replica: {} (operation ended {} ms after the kill; the client exited after {} ms)",
        if status.success() { "finished" } else { "failed" },
        finished_ms - killed_ms,
        ended_after.as_millis()
    );

    // Nothing stays busy: the swarm and the machine A was making are settled.
    let row = swarm_row(&through_b, &s);
    assert!(
        row.get(4)
            .is_some_and(|st| st == "Ready" || st == "Degraded"),
        "after the scale ended the swarm is {row:?}"
    );
    let worker = through_b.machine_json(&w1);
    let state = worker["state"].as_str().unwrap_or_default().to_string();
    assert!(
        state == "running" || state == "error",
        "after the scale ended {w1} is {state}: {worker}"
    );
    // B checks every machine, the half-made worker included.
    let only_b = vec!["b".to_string()];
    let owner_b = |m: &str| {
        flotilla::api::replica_for(m, &only_b)
            .expect("b")
            .to_string()
    };
    checked_only_by(&through_b, &machines, owner_b, killed_ms, 1);

    // The same scale through B finishes it.
    through_b.ok(&["swarm", "scale", &s, "--workers", "1"]);
    let shape = through_b.ok(&[
        "swarm",
        "inspect",
        &s,
        "--format",
        "{{.Managers}} {{.Workers}}",
    ]);
    assert_eq!(shape.trim(), "1/1 1/1", "ready/asked managers and workers");
    // As a user sees it on the swarm's manager, through the client with both URLs.
    let nodes = node_rows(&swarm_env(&both, &s)).expect("docker node ls: no manager answers");
    let hostnames: BTreeSet<String> = nodes.iter().map(|n| n.0.clone()).collect();
    assert_eq!(
        hostnames,
        machines.iter().cloned().collect::<BTreeSet<_>>(),
        "one node per machine, no duplicate: {nodes:?}"
    );
    assert!(nodes.iter().all(|n| n.1 == "Ready"), "{nodes:?}");
    assert_eq!(
        swarm_row(&both, &s).get(4).map(String::as_str),
        Some("Ready")
    );
    checked_only_by(&through_b, &machines, owner_b, flotilla::api::now_ms(), 2);

    // swarm rm through B takes all of it.
    through_b.ok(&["swarm", "rm", "-y", &s]);
    assert_eq!(through_b.ok(&["swarm", "ls", "-q"]).trim(), "");
    let left = through_b.names();
    for m in &machines {
        assert!(!left.contains(m), "{m} is still listed");
        assert!(containers_of(m).is_empty(), "{m}: containers left");
        assert!(volumes_of(m).is_empty(), "{m}: volumes left");
    }
}

/// The swarm's row in `flotilla swarm ls`, by column (NAME DRIVER MANAGERS WORKERS
/// STATE LEADER).
fn swarm_row(client: &Fleet, swarm: &str) -> Vec<String> {
    let ls = client.ok(&["swarm", "ls"]);
    ls.lines()
        .find(|l| l.split_whitespace().next() == Some(swarm))
        .unwrap_or_else(|| panic!("{swarm} in swarm ls:\n{ls}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}
