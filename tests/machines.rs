//! End to end: two real machines on the testbed, driven only through the CLI and the
//! docker CLI pointed at them by `flotilla env`.

mod common;

use common::*;
use std::process::Command;

/// Imports a one-binary image (static busybox) into the machine's engine over TLS.
fn load_tiny_image(fleet: &Fleet, name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tar = tiny_tar(dir.path());
    let tar = tar.to_str().unwrap();
    let out = fleet.docker_on(name, &["import", tar, "tiny:1"]);
    assert!(
        out.status.success(),
        "docker import over TLS: {}",
        text(&out.stderr)
    );
}

fn dockerd_pid(fleet: &Fleet, name: &str) -> String {
    let out = fleet.ssh(name, "systemctl show -p MainPID --value docker");
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_string()
}

#[test]
fn two_machines_full_lifecycle() {
    let test = "two_machines_full_lifecycle";
    if !testbed(IMAGE_DOCKER) || !have_programs(test, &["curl", "tar", "/bin/busybox"]) {
        return;
    }
    let fleet = Fleet::new();
    let a = unique("e2e-a");
    let b = unique("e2e-b");

    // Both at once, as two users' terminals would.
    let mut ca = fleet.command(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--engine-label",
        "team=blue",
        "--engine-label",
        "tier=web",
        "--engine-insecure-registry",
        "registry.internal:5000",
        "--engine-env",
        "FLOTILLA_TEST_ENV=hello world",
        "--tls-san",
        "docker.example.test",
        &a,
    ]);
    let mut cb = fleet.command(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        &b,
    ]);
    for c in [&mut ca, &mut cb] {
        c.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
    }
    let (ha, hb) = (ca.spawn().unwrap(), cb.spawn().unwrap());
    let (oa, ob) = (
        ha.wait_with_output().unwrap(),
        hb.wait_with_output().unwrap(),
    );
    assert!(oa.status.success(), "create {a}: {}", text(&oa.stderr));
    assert!(ob.status.success(), "create {b}: {}", text(&ob.stderr));
    assert!(
        text(&oa.stderr).contains(&format!("flotilla env {a}")),
        "create tells what to do next"
    );

    // ls: docker-machine's columns, both running with TLS URLs.
    let ls = fleet.ok(&["ls"]);
    let header = ls.lines().next().unwrap();
    let cols: Vec<&str> = header.split_whitespace().collect();
    assert_eq!(
        cols,
        ["NAME", "ACTIVE", "DRIVER", "STATE", "URL", "SWARM", "DOCKER", "ERRORS"]
    );
    for name in [&a, &b] {
        let line = ls
            .lines()
            .find(|l| l.starts_with(name.as_str()))
            .unwrap_or_else(|| panic!("{name} in ls:\n{ls}"));
        assert!(
            line.contains("container") && line.contains("Running"),
            "{line}"
        );
        assert!(line.contains(":2376") && line.contains("tcp://"), "{line}");
        assert!(line.contains("v20.10") || line.contains(" v"), "{line}");
    }

    // The docker CLI talks to each machine over TLS and runs a container there.
    for name in [&a, &b] {
        load_tiny_image(&fleet, name);
        let out = fleet.docker_on(
            name,
            &[
                "run",
                "--rm",
                "tiny:1",
                "/bin/busybox",
                "echo",
                "hello from the machine",
            ],
        );
        assert!(
            out.status.success(),
            "docker run on {name}: {}",
            text(&out.stderr)
        );
        assert!(text(&out.stdout).contains("hello from the machine"));
        let out = fleet.docker_on(name, &["info", "--format", "{{.Name}}"]);
        assert_eq!(
            text(&out.stdout).trim(),
            name.as_str(),
            "the engine's hostname is the machine name"
        );
    }

    // Without a client certificate the engine refuses.
    let url = fleet.ok(&["url", &a]).trim().to_string();
    let bare = Command::new("docker")
        .args(["-H", &url, "info"])
        .env_remove("DOCKER_TLS_VERIFY")
        .output()
        .unwrap();
    assert!(
        !bare.status.success(),
        "an engine without client certs must refuse"
    );

    // Engine options show in docker info and in dockerd's environment.
    let info = fleet.docker_on(
        &a,
        &[
            "info",
            "--format",
            "{{json .Labels}} {{json .RegistryConfig.IndexConfigs}}",
        ],
    );
    let info = text(&info.stdout);
    assert!(
        info.contains("team=blue") && info.contains("tier=web"),
        "{info}"
    );
    assert!(info.contains("registry.internal:5000"), "{info}");
    let environ = fleet.ssh(
        &a,
        "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value docker)/environ",
    );
    assert!(
        text(&environ.stdout).contains("FLOTILLA_TEST_ENV=hello world"),
        "{}",
        text(&environ.stdout)
    );
    // The server certificate carries --tls-san: a client that connects by that name verifies it.
    let ip = fleet.ok(&["ip", &a]).trim().to_string();
    let dir = fleet.machine_dir(&a);
    let cert = |f: &str| dir.join(f).to_str().unwrap().to_string();
    let out = Command::new("curl")
        .args([
            "-sS",
            "--fail",
            "--resolve",
            &format!("docker.example.test:2376:{ip}"),
        ])
        .args([
            "--cacert",
            &cert("ca.pem"),
            "--cert",
            &cert("cert.pem"),
            "--key",
            &cert("key.pem"),
        ])
        .arg("https://docker.example.test:2376/version")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "TLS by the --tls-san name: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("ApiVersion"));
    assert!(url.contains(&ip));

    // ssh: a command's output and its exit status.
    let out = fleet.ssh(&a, "uname -a");
    assert!(
        out.status.success() && text(&out.stdout).contains("Linux"),
        "{}",
        text(&out.stderr)
    );
    let out = fleet.ssh(&a, "echo to-stderr >&2; exit 7");
    assert_eq!(out.status.code(), Some(7));
    assert!(text(&out.stderr).contains("to-stderr"));

    // Provisioning again converges: no file rewritten, the daemon not restarted.
    let pid = dockerd_pid(&fleet, &a);
    let sums = fleet.ssh(
        &a,
        "sha256sum /etc/docker/daemon.json /etc/docker/flotilla/*",
    );
    fleet.ok(&["provision", &a]);
    fleet.ok(&["provision", &a]);
    assert_eq!(
        dockerd_pid(&fleet, &a),
        pid,
        "provision of a provisioned host must not restart docker"
    );
    assert_eq!(
        text(
            &fleet
                .ssh(
                    &a,
                    "sha256sum /etc/docker/daemon.json /etc/docker/flotilla/*"
                )
                .stdout
        ),
        text(&sums.stdout)
    );

    // regenerate-certs: a new server certificate, the engine restarted, TLS still works.
    let cert_before = text(
        &fleet
            .ssh(&a, "sha256sum /etc/docker/flotilla/server-cert.pem")
            .stdout,
    );
    fleet.ok(&["regenerate-certs", "-y", &a]);
    let cert_after = text(
        &fleet
            .ssh(&a, "sha256sum /etc/docker/flotilla/server-cert.pem")
            .stdout,
    );
    assert_ne!(
        cert_before, cert_after,
        "regenerate-certs must issue a new server certificate"
    );
    assert_ne!(
        dockerd_pid(&fleet, &a),
        pid,
        "regenerate-certs restarts the engine"
    );
    let client_before = std::fs::read(fleet.machine_dir(&a).join("cert.pem")).unwrap();
    fleet.ok(&["regenerate-certs", "-y", "--client-certs", &a]);
    let out = fleet.docker_on(&a, &["info", "--format", "{{.Name}}"]);
    assert!(
        out.status.success(),
        "docker after regenerate-certs: {}",
        text(&out.stderr)
    );
    assert_ne!(
        std::fs::read(fleet.machine_dir(&a).join("cert.pem")).unwrap(),
        client_before
    );

    // stop / start keep the machine and its certificates working.
    fleet.ok(&["stop", &b]);
    assert_eq!(fleet.ok(&["status", &b]).trim(), "Stopped");
    assert!(fleet
        .ok(&["ls", "--filter", "state=Stopped", "-q"])
        .contains(b.as_str()));
    fleet.ok(&["start", &b]);
    assert_eq!(fleet.ok(&["status", &b]).trim(), "Running");
    let out = fleet.docker_on(&b, &["info", "--format", "{{.Name}}"]);
    assert!(
        out.status.success(),
        "docker after stop/start: {}",
        text(&out.stderr)
    );
    let out = fleet.ssh(&b, "true");
    assert!(
        out.status.success(),
        "ssh after stop/start (same pinned host key): {}",
        text(&out.stderr)
    );

    // restart and kill too.
    fleet.ok(&["restart", &b]);
    assert!(fleet.docker_on(&b, &["version"]).status.success());
    fleet.ok(&["kill", &b]);
    assert_eq!(fleet.ok(&["status", &b]).trim(), "Stopped");

    // config prints flags the docker CLI accepts.
    let flags = fleet.ok(&["config", &a]);
    let mut args: Vec<String> = flags.lines().map(|l| l.replace('"', "")).collect();
    args.push("version".into());
    let out = Command::new("docker").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "docker $(flotilla config): {}",
        text(&out.stderr)
    );

    // rm: nothing left behind.
    fleet.ok(&["rm", "-y", &a, &b]);
    assert_gone(&fleet, &a);
    assert_gone(&fleet, &b);
}

#[test]
fn ls_json_and_templates() {
    let fleet = Fleet::new();
    // An empty fleet still answers, instantly and without a Docker Engine.
    assert_eq!(fleet.ok(&["ls", "-q"]), "");
    assert_eq!(fleet.ok(&["ls", "--output", "json"]).trim(), "[]");
    let err = fleet.fails(&["ls", "--filter", "colour=red"]);
    assert!(error_line(&err).contains("invalid --filter"), "{err}");
    let err = fleet.fails(&["inspect", "nope"]);
    assert!(
        err.contains("Docker machine \"nope\" does not exist"),
        "{err}"
    );
}

#[test]
fn a_given_ssh_key_is_the_one_the_host_accepts() {
    let test = "a_given_ssh_key_is_the_one_the_host_accepts";
    if !testbed(IMAGE_DOCKER) || !have_programs(test, &["ssh", "ssh-keygen"]) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("ownkey");
    let key = fleet.home().join("own_key");
    let out = Command::new("ssh-keygen")
        .args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "mine",
            "-f",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    fleet.create(&name, &["--ssh-key", key.to_str().unwrap()]);

    // The system's own ssh client logs in with the user's key: it is authorized there.
    let ip = fleet.ok(&["ip", &name]).trim().to_string();
    let out = Command::new("ssh")
        .args([
            "-i",
            key.to_str().unwrap(),
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
        ])
        .args([
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=10",
        ])
        .arg(format!("root@{ip}"))
        .arg("hostname")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ssh -i own key: {}",
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), name);
    // The private key is not in the stored spec: inspect shows no key material.
    let json = fleet.ok(&["inspect", &name]);
    assert!(!json.contains("PRIVATE KEY"), "{json}");
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--ssh-key",
        "/nonexistent/key",
        &unique("nokey"),
    ]);
    assert!(
        err.contains("cannot read --ssh-key /nonexistent/key"),
        "{err}"
    );
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn completion_scripts_name_the_commands() {
    let fleet = Fleet::new();
    let bash = fleet.ok(&["completion", "bash"]);
    assert!(
        bash.contains("_flotilla") && bash.contains("regenerate-certs"),
        "bash completion"
    );
    let fish = fleet.ok(&["completion", "fish"]);
    assert!(fish.contains("complete -c flotilla"), "fish completion");
    let err = fleet.fails(&["completion", "tcsh"]);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");
}

#[test]
fn processes_opening_a_new_fleet_together_all_succeed() {
    // The first use makes master.key and fleet.db; eight processes race to do it.
    for _ in 0..5 {
        let fleet = Fleet::new().without_cleanup();
        let children: Vec<_> = (0..8)
            .map(|_| {
                fleet
                    .command(&["ls", "-q"])
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let leftovers: Vec<_> = std::fs::read_dir(fleet.home())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
