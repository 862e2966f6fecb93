//! Operations across processes sharing one fleet: two CLIs cannot run conflicting
//! operations on one machine at once, and a process killed mid-operation leaves a
//! machine that the next look shows interrupted, with what to do, instead of a machine
//! shown busy forever.

mod common;

use common::*;
use std::process::Stdio;
use std::time::Duration;

/// The lease lapses 15 s after its owner dies; this leaves room for a loaded machine.
const SETTLES_WITHIN: Duration = Duration::from_secs(90);

#[test]
fn a_create_killed_with_sigkill_is_shown_interrupted_and_rm_cleans_it() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("killed");
    let mut create = fleet
        .command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
            &name,
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("run flotilla create");
    wait_until("the machine recorded by the create", SETTLES_WITHIN, || {
        fleet.names().contains(&name)
    });
    create.kill().expect("SIGKILL the create");
    create.wait().expect("reap it");

    // The next looks: first still busy (the lease lives a little), then interrupted.
    let machine = wait_for_value(
        "the killed create's machine shown interrupted",
        SETTLES_WITHIN,
        || fleet.machine_json(&name),
        |m| m["state"] == "error",
    );
    let error = machine["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("stopped before it finished") && error.contains("create"),
        "{machine}"
    );
    // The operation itself ended, failed.
    let now = flotilla::api::format_utc(flotilla::api::now_ms() + 1000);
    let ops = fleet.ok(&[
        "events", "--output", "json", "--since", "1h", "--until", &now,
    ]);
    assert!(
        ops.lines().any(|l| l.contains("operation_finished")
            && l.contains(&name)
            && l.contains("stopped before it finished")),
        "the abandoned operation is recorded as ended:\n{ops}"
    );
    fleet.ok(&["rm", "-f", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn provision_and_rm_racing_from_two_processes_one_is_refused() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("race");
    fleet.create(&name, &[]);

    // sshd down: the provision waits for it (bounded by the SSH timeout), holding the
    // machine, for as long as the test needs.
    assert!(host_exec(
        &name,
        "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh"
    )
    .status
    .success());
    let provision = fleet
        .command(&["provision", &name])
        .env("FLOTILLA_SSH_TIMEOUT", "300")
        .stderr(Stdio::piped())
        .spawn()
        .expect("run flotilla provision");
    wait_until("the provision under way", SETTLES_WITHIN, || {
        fleet.machine_json(&name)["state"] == "provisioning"
    });
    let err = fleet.fails(&["rm", "-y", &name]);
    assert!(
        err.lines()
            .any(|l| l.contains("is busy") && l.contains("another flotilla process")),
        "{err}"
    );
    assert_eq!(
        fleet.machine_json(&name)["state"],
        "provisioning",
        "the refused rm changed nothing"
    );
    assert!(host_exec(&name, "systemctl start ssh").status.success());
    let out = provision.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the first one finishes undisturbed: {}",
        text(&out.stderr)
    );
    assert_eq!(fleet.machine_json(&name)["state"], "running");
    assert!(fleet.ssh(&name, "true").status.success());
    // Then the other goes through.
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}
