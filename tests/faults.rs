//! Bad input and faults: each ends in one clear line, and afterwards the store is
//! consistent and `flotilla rm -f NAME` leaves nothing behind.

mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn bad_input_is_refused_before_anything_is_made() {
    let fleet = Fleet::new();
    for bad in ["Web_1", "-web", "web.1", &"a".repeat(64)] {
        let err = fleet.fails(&["create", "-d", "container", "--", bad]);
        assert!(
            error_line(&err).contains("invalid machine name"),
            "{bad}: {err}"
        );
    }
    let err = fleet.fails(&["create", "-d", "container", "x"]);
    assert!(error_line(&err).contains("at least 2 characters"), "{err}");
    let err = fleet.fails(&["create", "-d", "nope", "okname"]);
    assert!(
        error_line(&err).contains("unknown driver \"nope\""),
        "{err}"
    );
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--engine-opt",
        "no-equals-sign",
        "okname",
    ]);
    assert!(error_line(&err).contains("--engine-opt"), "{err}");
    let err = fleet.fails(&["create", "-d", "container", "--engine-env", "=x", "okname"]);
    assert!(error_line(&err).contains("--engine-env"), "{err}");
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--container-memory",
        "lots",
        "okname",
    ]);
    assert!(err.contains("not a size"), "{err}");
    assert!(fleet.names().is_empty(), "nothing recorded");
    assert!(containers_of("okname").is_empty());

    // No -d and no Docker Engine: say which drivers exist and what each needs.
    let out = fleet
        .command(&["create", "okname"])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    let line = error_line(&err);
    assert!(
        line.contains("-d DRIVER") && line.contains("container ("),
        "{line}"
    );
    assert!(fleet.names().is_empty());
}

#[test]
fn an_image_that_is_not_a_host_image_is_refused() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    // A real image with one file and no /sbin/init.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hi").unwrap();
    let tag = format!("flotilla-test-not-a-host:{}", unique("t"));
    let tar = dir.path().join("img.tar");
    assert!(std::process::Command::new("tar")
        .args([
            "-C",
            dir.path().to_str().unwrap(),
            "-cf",
            tar.to_str().unwrap(),
            "hello.txt"
        ])
        .status()
        .unwrap()
        .success());
    assert!(docker(&["import", tar.to_str().unwrap(), &tag])
        .status
        .success());

    let fleet = Fleet::new();
    let name = unique("notahost");
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--container-image",
        &tag,
        &name,
    ]);
    let line = error_line(&err);
    assert!(
        line.contains("not a host image") && line.contains("flotilla image build"),
        "{line}"
    );
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--container-image",
        "flotilla-no-such:image",
        &name,
    ]);
    assert!(error_line(&err).contains("not found"), "{err}");
    docker(&["rmi", &tag]);
    assert_gone(&fleet, &name);
}

#[test]
fn host_faults_end_in_clear_errors_and_rm_cleans_up() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("fault");
    fleet.create(&name, &[]);

    // A duplicate name is refused and the first machine is untouched.
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        &name,
    ]);
    assert!(error_line(&err).contains("already exists"), "{err}");
    assert_eq!(containers_of(&name).len(), 1);
    assert!(fleet.ssh(&name, "true").status.success());

    // Unreachable: sshd down. provision fails with a timeout that says what to check.
    let keys = text(&host_exec(&name, "cat /root/.ssh/authorized_keys").stdout);
    assert!(host_exec(
        &name,
        "systemctl stop ssh.socket ssh.service 2>/dev/null; systemctl stop ssh"
    )
    .status
    .success());
    // A short SSH bound for this step only: a loaded machine may need longer to start
    // a host's sshd than the bound under test.
    let started = Instant::now();
    let out = fleet
        .command(&["provision", &name])
        .env("FLOTILLA_SSH_TIMEOUT", "6")
        .output()
        .expect("run flotilla");
    assert!(!out.status.success(), "provision without sshd must fail");
    let err = text(&out.stderr);
    assert!(error_line(&err).contains("did not answer SSH"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "the SSH timeout is bounded"
    );
    let m = fleet.machine_json(&name);
    assert_eq!(m["state"], "error");
    assert!(
        fleet.ok(&["ls"]).contains("did not answer SSH"),
        "ls shows the error"
    );
    host_exec(&name, "systemctl start ssh");

    // A wrong key: the host no longer accepts the machine's key.
    host_exec(&name, ": > /root/.ssh/authorized_keys");
    let err = fleet.fails(&["provision", &name]);
    assert!(
        error_line(&err).contains("refused the machine's SSH key"),
        "{err}"
    );
    let restore = format!("printf '%s' '{}' > /root/.ssh/authorized_keys", keys.trim());
    assert!(host_exec(&name, &restore).status.success());
    fleet.ok(&["provision", &name]);

    // A changed host key is refused by provision and ssh, until the user trusts it.
    host_exec(
        &name,
        "rm -f /etc/ssh/ssh_host_* && ssh-keygen -A >/dev/null && systemctl restart ssh",
    );
    let err = fleet.fails(&["provision", &name]);
    let line = error_line(&err);
    assert!(
        line.contains("host key") && line.contains("changed") && line.contains(&name),
        "{line}"
    );
    let out = fleet.ssh(&name, "true");
    assert!(
        !out.status.success() && text(&out.stderr).contains("changed"),
        "{}",
        text(&out.stderr)
    );
    fleet.ok(&["provision", "--trust-new-host-key", &name]);
    assert!(fleet.ssh(&name, "true").status.success());

    // The host vanished behind flotilla's back: rm without -f fails clearly? It is already
    // gone, which rm treats as done; rm -f removes the record either way.
    fleet.ok(&["rm", "-f", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn ctrl_c_during_create_leaves_a_record_that_rm_cleans() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("intr");
    let mut child = fleet
        .command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_DOCKER,
            &name,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("wait for ssh") {
            break;
        }
    }
    assert!(
        seen.contains("wait for ssh"),
        "progress lines on a non-terminal:\n{seen}"
    );
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "exit code after Ctrl-C; stderr:\n{seen}{}",
        rest.join("\n")
    );
    let rest = rest.join("\n");
    assert!(
        rest.contains("interrupted")
            && rest.contains("removing it with force")
            && rest.contains(&format!("hint: flotilla provision {name}")),
        "{rest}"
    );

    // The store is consistent: the machine is recorded in error, with what was made.
    let m = fleet.machine_json(&name);
    assert_eq!(m["state"], "error", "{m}");
    assert!(
        m["error"].as_str().unwrap_or("").contains("interrupted"),
        "{m}"
    );
    assert!(
        !containers_of(&name).is_empty(),
        "the host was made before the interrupt"
    );
    fleet.ok(&["rm", "-f", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn rm_asks_unless_told_and_refuses_without_a_terminal() {
    let fleet = Fleet::new();
    let err = fleet.fails(&["rm", "web1"]);
    assert!(error_line(&err).contains("pass -y"), "{err}");
    let err = fleet.fails(&["rm", "-y", "web1"]);
    assert!(
        err.contains("Docker machine \"web1\" does not exist"),
        "{err}"
    );
}

#[test]
fn image_build_says_what_it_needs() {
    if !have_programs("image_build_says_what_it_needs", &["setpriv"]) {
        return;
    }
    let fleet = Fleet::new();
    // The other user may look into the fleet's home (settings read its config.toml
    // when there is one): what is tested is the refusal to build, not an unreadable home.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(fleet.home(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Not root: refused before anything is made.
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_flotilla"),
            "image",
            "build",
        ])
        .env("FLOTILLA_HOME", fleet.home())
        .output()
        .expect("setpriv");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("must run as root") && err.contains("sudo"),
        "{err}"
    );
}
