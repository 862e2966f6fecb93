//! End to end: flexible provisioning on real testbed hosts: cloud-init user-data run by
//! the host's real cloud-init, OS profiles of one's own, Docker Engine set-ups, and the
//! three Debian releases with and without Docker preinstalled.

mod common;
mod server_support;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn image(suite: &str, docker: bool) -> String {
    if docker {
        format!("flotilla-host:{suite}-docker")
    } else {
        format!("flotilla-host:{suite}")
    }
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// `flotilla create` on the container driver with `image` and extra flags; the output.
fn create(fleet: &Fleet, name: &str, image: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["create", "-d", "container", "--container-image", image];
    args.extend_from_slice(extra);
    args.push(name);
    fleet.run(&args)
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn on_host(fleet: &Fleet, name: &str, cmd: &str) -> String {
    let out = fleet.ssh(name, cmd);
    ok(&out, &format!("flotilla ssh {name} -- {cmd}"));
    text(&out.stdout)
}

/// Imports the tiny busybox image over TLS and runs a container with it.
fn run_container(fleet: &Fleet, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tar = tiny_tar(dir.path());
    let out = fleet.docker_on(name, &["import", tar.to_str().unwrap(), "tiny:1"]);
    ok(&out, "docker import over TLS");
    let out = fleet.docker_on(
        name,
        &[
            "run",
            "--rm",
            "tiny:1",
            "/bin/busybox",
            "echo",
            "hello over tls",
        ],
    );
    ok(&out, "docker run over TLS");
    assert!(text(&out.stdout).contains("hello over tls"));
}

#[test]
fn a_bad_cloud_config_is_refused_before_any_host_exists() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ci-bad");
    let cases = [
        ("#cloud-config\nruncmd:\n  - echo ok\n  - false\n", "line 4"),
        ("runcmd:\n  - echo no header\n", "line 1"),
        (
            "#cloud-config\nwrite_files:\n  - path: /x\n    content: [unclosed\n",
            "YAML",
        ),
    ];
    for (i, (ud, want)) in cases.iter().enumerate() {
        let f = write(dir.path(), &format!("ud{i}.yaml"), ud);
        let err = text(&create(&fleet, &name, IMAGE_DOCKER, &["--cloud-init", &f]).stderr);
        assert!(
            err.contains("cloud-init") && err.contains(want),
            "{ud}\n=> {err}"
        );
        assert_gone(&fleet, &name);
    }
    // from stdin too
    let mut cmd = fleet.command(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--cloud-init",
        "-",
        &name,
    ]);
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        b"#cloud-config\nbootcmd: 7\n",
    )
    .unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("`bootcmd` must be a list"),
        "{}",
        text(&out.stderr)
    );
    assert_gone(&fleet, &name);

    // a conflicting --engine-config is refused too, naming both
    let cfg = write(dir.path(), "daemon.json", "{\"log-level\": \"info\"}");
    let err = text(
        &create(
            &fleet,
            &name,
            IMAGE_DOCKER,
            &["--engine-config", &cfg, "--engine-opt", "log-level=debug"],
        )
        .stderr,
    );
    assert!(
        err.contains("--engine-config") && err.contains("--engine-opt log-level=debug"),
        "{err}"
    );
    assert_gone(&fleet, &name);
}

#[test]
fn a_cloud_config_shapes_the_host_and_keeps_its_host_key_pinned() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ci-ok");
    let (key, public) = user_key(dir.path(), "deploy_key", "deploy@test");
    let ud = format!(
        "#cloud-config\n\
users:\n  - name: deploy\n    groups: [sudo]\n    sudo: \"ALL=(ALL) NOPASSWD:ALL\"\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - {}\n\
write_files:\n  - path: /etc/flotilla-ci\n    content: |\n      written by cloud-init\n    permissions: '0640'\n\
packages: [jq]\n\
runcmd:\n  - echo ran >> /var/tmp/runcmd-count\n",
        public
    );
    let f = write(dir.path(), "user-data.yaml", &ud);
    let t0 = Instant::now();
    let out = create(&fleet, &name, IMAGE_DOCKER, &["--cloud-init", &f]);
    ok(&out, "create with a cloud-config");
    eprintln!(
        "create with cloud-init (installed on the host first): {:?}",
        t0.elapsed()
    );

    // each effect, on the host
    assert!(on_host(&fleet, &name, "id deploy").contains("(sudo)"));
    assert_eq!(
        on_host(&fleet, &name, "cat /etc/flotilla-ci"),
        "written by cloud-init\n"
    );
    assert_eq!(
        on_host(&fleet, &name, "stat -c %a /etc/flotilla-ci").trim(),
        "640"
    );
    assert!(on_host(&fleet, &name, "jq --version").starts_with("jq-"));
    assert_eq!(on_host(&fleet, &name, "cat /var/tmp/runcmd-count"), "ran\n");
    run_container(&fleet, &name);

    // the new user logs in with its own key; the host key is the one flotilla pinned
    let m = fleet.machine_json(&name);
    let ip = m["ip"].as_str().unwrap().to_string();
    let pinned = m["host_key_fingerprint"].as_str().unwrap().to_string();
    let host_pub = host_exec(&name, "cat /etc/ssh/ssh_host_ed25519_key.pub");
    let known = write(
        dir.path(),
        "known_hosts",
        &format!("{ip} {}", text(&host_pub.stdout).trim()),
    );
    let fp = Command::new("ssh-keygen")
        .args(["-lf", &known])
        .output()
        .unwrap();
    assert!(
        text(&fp.stdout).contains(&pinned),
        "pinned {pinned}: {}",
        text(&fp.stdout)
    );
    // ... and through flotilla, with the pinned host key enforced.
    let out = fleet.run(&[
        "ssh",
        "--user",
        "deploy",
        "--identity",
        &key,
        &name,
        "--",
        "sudo -n whoami",
    ]);
    ok(
        &out,
        "flotilla ssh --user deploy --identity KEY NAME -- sudo -n whoami",
    );
    assert_eq!(text(&out.stdout).trim(), "root");

    // sealed: inspect shows a digest, not the text, unless asked
    let shown = fleet.ok(&["inspect", &name]);
    assert!(
        !shown.contains("written by cloud-init") && shown.contains("sha256"),
        "{shown}"
    );
    assert_eq!(fleet.ok(&["inspect", "--user-data", &name]), ud);
    for f in ["fleet.db", "fleet.db-wal"] {
        let db = std::fs::read(fleet.home().join(f)).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&db).contains("written by cloud-init"),
            "the user-data is sealed at rest ({f})"
        );
    }
    let log = fleet.ok(&["logs", &name, "--cloud-init"]);
    assert!(
        log.contains("Cloud-init v.") && log.contains("modules:final"),
        "{}",
        &log[..log.len().min(500)]
    );

    // a rerun converges: the pinned key still works, runcmd does not run again
    fleet.ok(&["provision", &name]);
    assert_eq!(on_host(&fleet, &name, "cat /var/tmp/runcmd-count"), "ran\n");
    assert_eq!(
        fleet.machine_json(&name)["host_key_fingerprint"],
        pinned.as_str()
    );
}

/// A new ed25519 key pair for a test user, as `ssh-keygen` writes it: the private key's
/// path and the public key line.
fn user_key(dir: &Path, file: &str, comment: &str) -> (String, String) {
    let key = dir.join(file);
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client) is part of the test set-up");
    assert!(st.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    (key.display().to_string(), public.trim().to_string())
}

/// A cloud-config through a real server: the server runs it on the host, only an
/// operator reads the user-data back, and a client logs in as the user it made with that
/// user's own key (which never goes to the server); another key is refused.
#[test]
fn a_cloud_config_through_a_server_and_ssh_as_the_user_it_made() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let server =
        server_support::Server::start_with_env(&[], &[("FLOTILLA_MAX_LOAD_PER_CPU", "1000")]);
    let operator = server.client(&server.token("ci-operator", "operator"));
    let viewer = server.client(&server.token("ci-viewer", "viewer"));
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = user_key(dir.path(), "deploy_key", "deploy@server-test");
    let (other_key, _) = user_key(dir.path(), "other_key", "other@server-test");
    let ud = format!(
        "#cloud-config\n\
users:\n  - name: deploy\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - {public}\n\
write_files:\n  - path: /etc/flotilla-through-server\n    content: |\n      made through the server\n"
    );
    let f = write(dir.path(), "user-data.yaml", &ud);
    let name = unique("ci-srv");
    let out = create(&operator, &name, IMAGE_DOCKER, &["--cloud-init", &f]);
    ok(&out, "create with a cloud-config through the server");

    assert_eq!(
        on_host(&operator, &name, "cat /etc/flotilla-through-server"),
        "made through the server\n"
    );
    let as_deploy = |identity: &str| {
        operator.run(&[
            "ssh",
            "--user",
            "deploy",
            "--identity",
            identity,
            &name,
            "--",
            "id -un",
        ])
    };
    let out = as_deploy(&key);
    ok(&out, "flotilla ssh --user deploy through the server");
    assert_eq!(text(&out.stdout).trim(), "deploy");
    let out = as_deploy(&other_key);
    assert!(!out.status.success(), "another key must be refused");
    assert!(
        error_line(&text(&out.stderr)).contains("refused"),
        "{}",
        text(&out.stderr)
    );

    assert_eq!(operator.ok(&["inspect", "--user-data", &name]), ud);
    let err = viewer.fails(&["inspect", "--user-data", &name]);
    assert!(
        !err.contains("made through the server") && error_line(&err).contains("operator"),
        "{err}"
    );
    operator.ok(&["rm", "-y", &name]);
    server_support::assert_gone(&server, &name);
}

#[test]
fn user_data_that_replaces_the_host_keys_is_repinned_deliberately() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ci-keys");
    let f = write(
        dir.path(),
        "ud.yaml",
        "#cloud-config\nssh_deletekeys: true\nssh_genkeytypes: [ed25519, rsa, ecdsa]\n",
    );
    let out = create(&fleet, &name, IMAGE_DOCKER, &["--cloud-init", &f]);
    ok(&out, "create with user-data that regenerates host keys");
    // cloud-init did replace the key flotilla pinned at first contact...
    let log = fleet.ok(&["logs", &name, "--cloud-init"]);
    assert!(
        log.contains("ssh-keygen") && log.contains("ed25519"),
        "cloud-init regenerated the host keys: {}",
        &log[log.len().saturating_sub(1500)..]
    );
    // ...and the pinned key is the host's new one: new connections verify it
    let after = fleet.machine_json(&name)["host_key_fingerprint"].clone();
    let host_pub =
        text(&host_exec(&name, "ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub").stdout);
    assert!(
        host_pub.contains(after.as_str().unwrap()),
        "{host_pub} vs {after}"
    );
    assert_eq!(on_host(&fleet, &name, "echo pinned"), "pinned\n");
    fleet.ok(&["provision", &name]);
}

#[test]
fn a_failing_runcmd_leaves_the_machine_in_error_with_the_log_lines() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("ci-fail");
    let f = write(
        dir.path(),
        "ud.yaml",
        "#cloud-config\nruncmd:\n  - echo deliberate failure\n  - exit 3\n",
    );
    let out = create(&fleet, &name, IMAGE_DOCKER, &["--cloud-init", &f]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("cloud-init failed") && err.contains("scripts-user"),
        "{err}"
    );
    assert!(err.contains("deliberate failure"), "{err}");
    assert!(
        err.contains(&format!("flotilla logs {name} --cloud-init")),
        "the hint names cloud-init's log: {err}"
    );
    let m = fleet.machine_json(&name);
    assert_eq!(m["state"], "error");
    let reason = m["error"].as_str().unwrap_or("");
    assert!(
        reason.contains("scripts-user") && reason.contains("deliberate failure"),
        "{reason}"
    );
    let log = fleet.ok(&["logs", &name, "--cloud-init"]);
    assert!(
        log.contains("Exit code: 3") || log.contains("scripts-user"),
        "{}",
        &log[log.len().saturating_sub(800)..]
    );
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn a_swarm_applies_its_cloud_config_on_every_node_with_a_worker_override() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let swarm = unique("cis");
    let all = write(
        dir.path(),
        "all.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/role\n    content: manager\n",
    );
    let workers = write(
        dir.path(),
        "workers.yaml",
        "#cloud-config\nwrite_files:\n  - path: /etc/role\n    content: worker\n",
    );
    fleet.ok(&[
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
        "--cloud-init",
        &all,
        "--worker-cloud-init",
        &workers,
        &swarm,
    ]);
    assert_eq!(
        on_host(&fleet, &format!("{swarm}-m1"), "cat /etc/role"),
        "manager"
    );
    assert_eq!(
        on_host(&fleet, &format!("{swarm}-w1"), "cat /etc/role"),
        "worker"
    );
    let shown = fleet.ok(&["swarm", "inspect", &swarm]);
    assert!(
        !shown.contains("content: worker"),
        "the swarm's user-data is sealed too"
    );
    fleet.ok(&["swarm", "rm", "-y", &swarm]);
}

#[test]
fn a_custom_profile_is_used_and_an_unknown_os_is_named() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("os-custom");
    fleet.create(&name, &[]);
    // the host now says it is "flotos"; no profile knows it
    let set_id = |id: &str| {
        let out = host_exec(
            &name,
            &format!("sed -i 's/^ID=.*/ID={id}/; s/^ID_LIKE=.*//' /usr/lib/os-release /etc/os-release 2>/dev/null; grep ^ID= /etc/os-release"),
        );
        assert_eq!(text(&out.stdout).trim(), format!("ID={id}"));
    };
    set_id("flotos");
    let err = fleet.fails(&["provision", &name]);
    assert!(err.contains("ID=flotos") && err.contains(".toml"), "{err}");
    // a profile written by the test serves it; its own service command leaves a mark
    let os_dir = fleet.home().join("os");
    std::fs::create_dir_all(&os_dir).unwrap();
    let debian = fleet.ok(&["os", "show", "debian"]);
    let custom = debian
        .replace("name = \"debian\"", "name = \"flotos\"")
        .replace("ids = [\"debian\"]", "ids = [\"flotos\"]")
        .replace("version_id = \">=10\"", "")
        .replace(
            "is_active = \"systemctl is-active --quiet {service}\"",
            "is_active = \"touch /run/flotos-profile-used; systemctl is-active --quiet {service}\"",
        );
    assert!(custom.contains("flotos-profile-used"));
    std::fs::write(os_dir.join("flotos.toml"), custom).unwrap();
    let ls = fleet.ok(&["os", "ls"]);
    assert!(
        ls.contains("flotos") && ls.contains("alpine") && ls.contains("flatcar"),
        "{ls}"
    );
    fleet.ok(&["provision", &name]);
    on_host(&fleet, &name, "test -e /run/flotos-profile-used");
    // a user profile named like a built-in one overrides it, and says so
    std::fs::write(
        os_dir.join("alpine.toml"),
        "name = \"alpine\"\nids = [\"alpine\"]\n[packages]\nmanager = \"apk\"\n[engine]\nmethods = [\"none\"]\n[service]\nmanager = \"openrc\"\nname = \"docker\"\nsocket_unit = false\nreload = \"true\"\nrestart = \"rc-service docker restart\"\nis_active = \"rc-service docker status\"\nmain_pid = \"cat /run/docker.pid\"\nlogs = \"tail /var/log/docker.log\"\n",
    )
    .unwrap();
    let show = fleet.ok(&["os", "show", "alpine"]);
    assert!(show.contains("overriding the built-in"), "{show}");
    // an invalid one is refused on load, naming the file
    std::fs::write(os_dir.join("broken.toml"), "name = \"x\"\nids = []\n").unwrap();
    let err = fleet.fails(&["os", "ls"]);
    assert!(err.contains("broken.toml") && err.contains("ids"), "{err}");
}

#[test]
fn engine_install_none_on_a_host_without_docker_fails_clearly_and_is_removable() {
    if !testbed(IMAGE_BARE) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("no-engine");
    let out = create(&fleet, &name, IMAGE_BARE, &["--engine-install", "none"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("install method is `none`"), "{err}");
    assert_eq!(fleet.machine_json(&name)["state"], "error");
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

/// A `--custom-install-script` runs instead of the install step and its output streams
/// while it runs: the first line is seen (as an event, and on the create's stderr) while
/// the script still waits for the test's go-ahead; its failure ends the create with the
/// script's status, names the step's log, and the machine is removable.
#[test]
fn a_custom_install_script_streams_its_output_while_it_runs() {
    if !testbed(IMAGE_BARE) {
        return;
    }
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let name = unique("own-install");
    // Bounded: without the go-ahead it gives up after 120 s.
    let script = write(
        dir.path(),
        "install.sh",
        "#!/bin/sh\necho 'own installer: first line'\n\
         i=0; while [ ! -f /tmp/go-ahead ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i+1)); done\n\
         echo 'own installer: second line' >&2\nexit 7\n",
    );
    let (_follower, events) = follow_events(&fleet, &[]);
    let mut create = fleet
        .command(&[
            "create",
            "-d",
            "container",
            "--container-image",
            IMAGE_BARE,
            "--custom-install-script",
            &script,
            &name,
        ])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run flotilla create");
    let output_lines = |want: &str| -> Vec<String> {
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(240);
        while Instant::now() < deadline {
            let Ok(ev) = events.recv_timeout(Duration::from_millis(500)) else {
                continue;
            };
            if ev["type"] == "operation_output" && ev["target"] == name.as_str() {
                let line = ev["line"].as_str().unwrap_or_default().to_string();
                let done = line == want;
                seen.push(line);
                if done {
                    return seen;
                }
            }
        }
        panic!("no output line {want:?} within 240 s; saw {seen:?}");
    };
    let first = output_lines("own installer: first line");
    assert!(
        create.try_wait().unwrap().is_none(),
        "the first line arrives while the script still runs"
    );
    assert!(host_exec(&name, "touch /tmp/go-ahead").status.success());
    output_lines("own installer: second line");
    let out = create.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{name}: | own installer: first line")),
        "the create printed the streamed lines: {err}"
    );
    let line = error_line(&err);
    assert!(
        line.contains("install engine") && line.contains("status 7"),
        "{line}"
    );
    assert!(err.contains("/var/log/flotilla-install.log"), "{err}");
    assert!(
        first.len() <= 2,
        "nothing but the script's output: {first:?}"
    );
    assert_eq!(fleet.machine_json(&name)["state"], "error");
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn provisioning_waits_for_a_held_package_manager_lock() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("lock");
    fleet.create(&name, &[]);
    // someone else holds dpkg's frontend lock for 8 s
    let held = docker(&[
        "exec",
        "-d",
        &name,
        "flock",
        "/var/lib/dpkg/lock-frontend",
        "sleep",
        "8",
    ]);
    assert!(held.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text(&host_exec(&name, "cat /proc/locks").stdout).contains("FLOCK") {
        assert!(Instant::now() < deadline, "the lock was never taken");
    }
    let t0 = Instant::now();
    fleet.ok(&["provision", &name]);
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_secs(4),
        "provision did not wait for the lock: {took:?}"
    );
}

/// One release: a host with Docker preinstalled and one without both provision and run
/// a container over TLS; prints the wall times (the report's figures).
fn release(suite: &str) {
    let fleet = Fleet::new();
    for docker in [true, false] {
        let img = image(suite, docker);
        if !testbed(&img) {
            return;
        }
        let name = unique(&format!("{suite}-{}", if docker { "d" } else { "b" }));
        let t0 = Instant::now();
        // Docker 26 (trixie) refuses containers when the nested network namespace cannot
        // turn IPv6 off, as in these system containers; it names this switch for that.
        let out = create(
            &fleet,
            &name,
            &img,
            &["--engine-env", "DOCKER_ALLOW_IPV6_ON_IPV4_INTERFACE=1"],
        );
        ok(&out, &format!("create on {img}"));
        eprintln!(
            "FIGURE provision {img}: {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        // the whole create provisioned over one SSH connection
        let logins = text(
            &host_exec(
                &name,
                "journalctl -u ssh -u sshd --no-pager -o cat | grep -c 'Accepted publickey'",
            )
            .stdout,
        );
        assert_eq!(logins.trim(), "1", "SSH logins during create on {img}");
        let os = on_host(&fleet, &name, "grep ^VERSION_CODENAME= /etc/os-release");
        assert!(os.contains(suite), "{os}");
        run_container(&fleet, &name);
        fleet.ok(&["rm", "-y", &name]);
    }
}

#[test]
fn bullseye_provisions_with_and_without_docker() {
    release("bullseye");
}

#[test]
fn bookworm_provisions_with_and_without_docker() {
    release("bookworm");
}

#[test]
fn trixie_provisions_with_and_without_docker() {
    release("trixie");
}
