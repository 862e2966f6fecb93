//! End to end: the generic driver on hosts that exist before flotilla (system containers
//! started with plain `docker run`), reached over real SSH, their Docker Engine used over
//! TLS by the docker CLI through `flotilla env`.

mod common;
mod generic_support;
mod server_support;

use common::*;
use generic_support::{keypair, Host};

const PROGRAMS: &[&str] = &["docker", "ssh-keygen"];

fn ready(test: &str, image: &str) -> bool {
    have_programs(test, PROGRAMS) && testbed(image)
}

fn docker_version(fleet: &Fleet, name: &str) -> String {
    let out = fleet.docker_on(name, &["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "docker info over TLS: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().to_string()
}

fn dockerd_pid(host: &Host) -> String {
    host.ok("systemctl show -p MainPID --value docker")
        .trim()
        .to_string()
}

#[test]
fn generic_flags_are_checked_before_anything_is_recorded() {
    let fleet = Fleet::new();
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = match which("ssh-keygen") {
        Some(_) => keypair(dir.path(), "key", "ed25519"),
        None => {
            skip_or_fail("generic_flags", "ssh-keygen is not installed");
            return;
        }
    };
    let key = key.to_str().unwrap();

    let err = fleet.fails(&["create", "-d", "generic", "--generic-ssh-key", key, "g1"]);
    assert!(error_line(&err).contains("--generic-ip-address"), "{err}");
    let err = fleet.fails(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        "10.9.9.9",
        "g1",
    ]);
    assert!(error_line(&err).contains("--generic-ssh-key"), "{err}");
    let err = fleet.fails(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        "10.9.9.9",
        "--generic-ssh-key",
        key,
        "--generic-ssh-user",
        "bad user",
        "g1",
    ]);
    assert!(error_line(&err).contains("invalid SSH user"), "{err}");
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--generic-ip-address",
        "10.9.9.9",
        "g1",
    ]);
    assert!(error_line(&err).contains("-d generic"), "{err}");
    // IPv6 literals are taken (see generic_host_over_ipv6); a link-local one with a
    // zone cannot be written in a Docker URL or a certificate.
    for (address, why) in [
        ("fe80::1%eth0", "zone"),
        ("fd42::zz", "not an IPv6 address"),
    ] {
        let err = fleet.fails(&[
            "create",
            "-d",
            "generic",
            "--generic-ip-address",
            address,
            "--generic-ssh-key",
            key,
            "g1",
        ]);
        assert!(error_line(&err).contains(why), "{address}: {err}");
    }
    assert!(fleet.names().is_empty(), "a refused create left a record");
}

#[test]
fn generic_host_with_debian_docker_io_is_adopted_over_one_ssh_connection() {
    let test = "generic_host_with_debian_docker_io";
    if !ready(test, IMAGE_DOCKER) {
        return;
    }
    let host = Host::start("gen-deb", IMAGE_DOCKER);
    // Debian's own engine, as a stock Debian 12 host has it.
    host.ok(
        "dpkg -s docker.io >/dev/null && test -x /usr/sbin/dockerd && test ! -e /usr/bin/dockerd",
    );
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key", "ed25519");
    host.authorize("root", "/root", &public);
    let before = host.ssh_logins();

    // The docker CLI's contexts go to a config dir of this test's own.
    let docker_config = tempfile::tempdir().unwrap();
    let docker_config = docker_config.path().to_str().unwrap().to_string();
    let fleet = Fleet::new().with_env("DOCKER_CONFIG", &docker_config);
    let name = unique("gdeb");
    fleet.ok(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        &host.ip,
        "--generic-ssh-key",
        key.to_str().unwrap(),
        &name,
    ]);
    assert_eq!(
        host.ssh_logins() - before,
        1,
        "create should open exactly one SSH connection"
    );
    let m = fleet.machine_json(&name);
    assert_eq!(m["driver"], "generic");
    assert_eq!(m["state"], "running");
    assert_eq!(m["url"], format!("tcp://{}:2376", host.ip));
    assert!(docker_version(&fleet, &name).starts_with("20.10"));
    // Still Debian's package: nothing was installed over it.
    host.ok("dpkg -s docker.io >/dev/null && ! dpkg -s docker-ce >/dev/null 2>&1");
    let out = fleet.ssh(&name, "id -un");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "root");
    // The key given was copied into the store: the original can go.
    std::fs::remove_file(&key).unwrap();
    let out = fleet.ssh(&name, "true");
    assert!(out.status.success(), "{}", text(&out.stderr));

    // A docker context for it: `docker --context NAME` works without env vars; made
    // again it is updated; `context rm` removes only contexts flotilla made.
    let out = fleet.ok(&["context", &name]);
    assert!(
        out.contains(&format!("Created docker context {name}")),
        "{out}"
    );
    let out = fleet.ok(&["context", "--all"]);
    assert!(
        out.contains(&format!("Updated docker context {name}")),
        "{out}"
    );
    let plain_docker = |args: &[&str]| {
        std::process::Command::new("docker")
            .args(args)
            .env("DOCKER_CONFIG", &docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .output()
            .expect("docker")
    };
    let out = plain_docker(&["--context", &name, "info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "docker --context: {}",
        text(&out.stderr)
    );
    assert!(text(&out.stdout).starts_with("20.10"));
    let out = plain_docker(&[
        "context",
        "create",
        "theirs",
        "--docker",
        "host=tcp://192.0.2.1:2376",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = fleet.fails(&["context", "rm", "theirs"]);
    assert!(err.contains("not made by flotilla"), "{err}");
    let err = fleet.fails(&["context", "theirs"]);
    assert!(
        error_line(&err).contains("Docker machine \"theirs\" does not exist"),
        "{err}"
    );
    let out = fleet.ok(&["context", "rm", "--all"]);
    assert!(
        out.contains(&format!("Removed docker context {name}")),
        "{out}"
    );
    let names = text(&plain_docker(&["context", "ls", "--format", "{{.Name}}"]).stdout);
    assert!(names.lines().any(|l| l.trim() == "theirs"), "{names}");
    assert!(!names.lines().any(|l| l.trim() == name), "{names}");

    // Power is not flotilla's: stop/start/kill explain; restart restarts the engine.
    for verb in ["stop", "start", "kill"] {
        let err = fleet.fails(&[verb, &name]);
        assert!(
            err.contains("generic host") && err.contains(&format!("cannot {verb}")),
            "{verb}: {err}"
        );
    }
    assert!(host.running());
    let pid = dockerd_pid(&host);
    fleet.ok(&["restart", &name]);
    assert_ne!(dockerd_pid(&host), pid, "restart should restart dockerd");
    assert!(!docker_version(&fleet, &name).is_empty());

    // rm forgets the machine, leaves the host and its engine running, and says so.
    let out = fleet.ok(&["rm", "-y", &name]);
    assert!(out.contains("left running"), "{out}");
    assert!(fleet.names().is_empty());
    assert!(host.running());
    assert_eq!(host.ok("systemctl is-active docker").trim(), "active");

    // A non-root user on a host without sudo: a clear error naming what is missing.
    let (key2, public2) = keypair(dir.path(), "key2", "ed25519");
    host.ok("useradd -m -s /bin/sh plain && rm -f /usr/bin/sudo");
    host.authorize("plain", "/home/plain", &public2);
    let plain = unique("gplain");
    let err = fleet.fails(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        &host.ip,
        "--generic-ssh-user",
        "plain",
        "--generic-ssh-key",
        key2.to_str().unwrap(),
        &plain,
    ]);
    assert!(error_line(&err).contains("sudo is not installed"), "{err}");
    fleet.ok(&["rm", "-y", "-f", &plain]);
}

#[test]
fn generic_host_without_docker_as_a_sudo_user_on_other_ports() {
    let test = "generic_host_without_docker_as_a_sudo_user";
    if !ready(test, IMAGE_BARE) {
        return;
    }
    let host = Host::start("gen-bare", IMAGE_BARE);
    host.ok("! command -v dockerd");
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key", "ed25519");
    host.ok("useradd -m -s /bin/bash deploy \
         && printf 'deploy ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/deploy \
         && chmod 440 /etc/sudoers.d/deploy \
         && printf 'Port 2222\\n' > /etc/ssh/sshd_config.d/port.conf \
         && systemctl restart ssh");
    host.authorize("deploy", "/home/deploy", &public);
    host.wait_for_ssh(2222);

    let fleet = Fleet::new();
    let name = unique("gsudo");
    fleet.ok(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        &host.ip,
        "--generic-ssh-user",
        "deploy",
        "--generic-ssh-port",
        "2222",
        "--generic-engine-port",
        "2377",
        "--generic-ssh-key",
        key.to_str().unwrap(),
        &name,
    ]);
    let m = fleet.machine_json(&name);
    assert_eq!(m["ssh_user"], "deploy");
    assert_eq!(m["ssh_port"], 2222);
    assert_eq!(m["url"], format!("tcp://{}:2377", host.ip));
    assert!(!docker_version(&fleet, &name).is_empty());
    host.ok("command -v dockerd");
    let out = fleet.ssh(&name, "id -un");
    assert_eq!(text(&out.stdout).trim(), "deploy", "{}", text(&out.stderr));
    // Provisioning again converges over the same user and ports.
    fleet.ok(&["provision", &name]);
    assert!(!docker_version(&fleet, &name).is_empty());
    let out = fleet.ok(&["rm", "-y", &name]);
    assert!(out.contains("left running"), "{out}");
    assert!(host.running());
}

#[test]
fn generic_create_through_a_server() {
    let test = "generic_create_through_a_server";
    if !ready(test, IMAGE_DOCKER) {
        return;
    }
    let host = Host::start("gen-srv", IMAGE_DOCKER);
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key", "ed25519");
    host.authorize("root", "/root", &public);
    let server = server_support::Server::start(&[]);
    let operator = server.client(&server.token("otto", "operator"));
    let name = unique("gsrv");
    operator.ok(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        &host.ip,
        "--generic-ssh-key",
        key.to_str().unwrap(),
        &name,
    ]);
    assert_eq!(operator.machine_json(&name)["driver"], "generic");
    assert!(!docker_version(&operator, &name).is_empty());
    let out = operator.ssh(&name, "id -un");
    assert_eq!(text(&out.stdout).trim(), "root", "{}", text(&out.stderr));

    // version NAME through the server: what the engine says, as the docker CLI sees it.
    let engine = docker_version(&operator, &name);
    let viewer = server.client(&server.token("vera", "viewer"));
    assert_eq!(viewer.ok(&["version", &name]).trim(), engine);
    // upgrade: refused for a viewer (nothing runs on the host), done for an operator
    // through the OS profile's package method; Docker answers after it.
    let err = viewer.fails(&["upgrade", &name]);
    assert!(error_line(&err).contains("operator"), "{err}");
    host.ok("test ! -e /var/log/flotilla-install.log");
    let out = operator.run(&["upgrade", &name]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("upgraded {name}")), "{err}");
    host.ok("test -e /var/log/flotilla-install.log");
    assert_eq!(
        operator.ok(&["version", &name]).trim(),
        docker_version(&operator, &name)
    );

    let out = operator.ok(&["rm", "-y", &name]);
    assert!(out.contains("left running"), "{out}");
    assert!(host.running());
}

#[test]
fn contexts_for_a_swarm_and_all_its_machines() {
    let test = "contexts_for_a_swarm";
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let docker_config = tempfile::tempdir().unwrap();
    let docker_config = docker_config.path().to_str().unwrap().to_string();
    let fleet = Fleet::new().with_env("DOCKER_CONFIG", &docker_config);
    let s = unique("ctx");
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
        "0",
    ]);
    let out = fleet.ok(&["context", "--all"]);
    assert!(
        out.contains(&format!("Created docker context {s}-m1"))
            && out.contains(&format!("Created docker context {s}\n")),
        "{test}: {out}"
    );
    let in_context = |context: &str, args: &[&str]| {
        std::process::Command::new("docker")
            .arg("--context")
            .arg(context)
            .args(args)
            .env("DOCKER_CONFIG", &docker_config)
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_TLS_VERIFY")
            .env_remove("DOCKER_CERT_PATH")
            .output()
            .expect("docker")
    };
    // The swarm's context reaches a manager: it lists the swarm's nodes.
    let out = in_context(&s, &["node", "ls", "--format", "{{.Hostname}}"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), format!("{s}-m1"));
    let out = fleet.ok(&["context", "rm", "--all"]);
    assert!(
        out.contains(&format!("Removed docker context {s}\n")),
        "{out}"
    );
    let out = in_context(&s, &["info"]);
    assert!(!out.status.success(), "the swarm's context should be gone");
    fleet.ok(&["swarm", "rm", "-y", &s]);
}

/// A Docker network with IPv6 for one test, removed (its hosts disconnected) on drop.
struct V6Net(String);

impl V6Net {
    fn new() -> V6Net {
        let name = unique("flotilla-v6");
        // A unique-local /64 of its own, so parallel tests do not collide.
        let suffix = &name[name.len() - 4..];
        // And an IPv4 subnet named outright: left to Docker, it takes the next free
        // 172.x/16, the pool the host's own dockerd picks from too, and the host then
        // cannot take an address on this network (its route is already there). A /24
        // in 10.243/16 that no other network here holds: try the next on overlap.
        let first = u16::from_str_radix(suffix, 16).unwrap_or(0) as usize;
        let mut refused = String::new();
        for i in 0..16 {
            let v4 = format!("10.243.{}.0/24", (first + i) % 250 + 1);
            let out = docker(&[
                "network",
                "create",
                "--ipv6",
                "--subnet",
                &format!("fd42:{suffix}::/64"),
                "--subnet",
                &v4,
                "--label",
                generic_support::LABEL,
                &name,
            ]);
            if out.status.success() {
                return V6Net(name);
            }
            refused = text(&out.stderr);
            if !refused.contains("overlaps") {
                break;
            }
        }
        panic!("docker network create: {refused}");
    }

    /// Attaches `host` and returns its IPv6 address on this network.
    fn attach(&self, host: &Host) -> String {
        let out = docker(&["network", "connect", &self.0, &host.name]);
        assert!(
            out.status.success(),
            "docker network connect: {}",
            text(&out.stderr)
        );
        let tpl = format!(
            "{{{{(index .NetworkSettings.Networks \"{}\").GlobalIPv6Address}}}}",
            self.0
        );
        let ip = text(&docker(&["inspect", "-f", &tpl, &host.name]).stdout)
            .trim()
            .to_string();
        assert!(
            ip.contains(':'),
            "{} has no IPv6 address: {ip:?}",
            host.name
        );
        ip
    }
}

impl Drop for V6Net {
    fn drop(&mut self) {
        let hosts = docker(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{end}}",
            &self.0,
        ]);
        for host in text(&hosts.stdout).split_whitespace() {
            let _ = docker(&["network", "disconnect", "-f", &self.0, host]);
        }
        let _ = docker(&["network", "rm", &self.0]);
    }
}

/// `--generic-ip-address` with an IPv6 literal: the URL in brackets, SSH (flotilla's
/// own and the system's ssh and scp), and TLS with the address in the certificate's SAN.
#[test]
fn generic_host_over_ipv6() {
    let test = "generic_host_over_ipv6";
    if !ready(test, IMAGE_DOCKER) || !have_programs(test, &["ssh", "scp"]) {
        return;
    }
    let host = Host::start("gen-v6", IMAGE_DOCKER);
    let net = V6Net::new();
    let ip6 = net.attach(&host);
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = keypair(dir.path(), "key", "ed25519");
    host.authorize("root", "/root", &public);
    let fleet = Fleet::new();
    let name = unique("gv6");
    // Given as URLs write it, in brackets: kept bare.
    fleet.ok(&[
        "create",
        "-d",
        "generic",
        "--generic-ip-address",
        &format!("[{ip6}]"),
        "--generic-ssh-key",
        key.to_str().unwrap(),
        &name,
    ]);
    let m = fleet.machine_json(&name);
    assert_eq!(m["ip"], ip6.as_str());
    assert_eq!(m["url"], format!("tcp://[{ip6}]:2376"));
    assert_eq!(
        fleet.ok(&["url", &name]).trim(),
        format!("tcp://[{ip6}]:2376")
    );
    // The docker CLI (DOCKER_TLS_VERIFY=1) checks the IPv6 address against the
    // certificate's IP SANs: it answering proves the address is in them.
    let version = docker_version(&fleet, &name);
    assert_eq!(fleet.ok(&["version", &name]).trim(), version);
    // flotilla's SSH, then the system's (an OpenSSH flag passes it on), then scp.
    let out = fleet.ssh(&name, "id -un");
    assert_eq!(text(&out.stdout).trim(), "root", "{}", text(&out.stderr));
    assert_eq!(
        fleet.ok(&["ssh", &name, "-C", "echo", "via-openssh"]),
        "via-openssh\n"
    );
    let local = dir.path().join("v6.txt");
    std::fs::write(&local, "over v6\n").unwrap();
    fleet.ok(&[
        "scp",
        "-q",
        local.to_str().unwrap(),
        &format!("{name}:/tmp/v6.txt"),
    ]);
    assert_eq!(host.ok("cat /tmp/v6.txt"), "over v6\n");
    // ls --live asks the host over IPv6 too.
    let out = fleet.ok(&["ls", "--live", "--format", "{{.Name}} {{.State}}"]);
    assert_eq!(out.trim(), format!("{name} Running"));
    let out = fleet.ok(&["rm", "-y", &name]);
    assert!(out.contains("left running"), "{out}");
    drop(net);
}
