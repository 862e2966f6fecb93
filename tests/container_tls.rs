//! The container driver on a Docker Engine on another machine, over TLS: the set-up a
//! shared server is meant to use (`serve` refuses container hosts on its own engine).
//!
//! The "other machine" is a flotilla machine (fleet home A): a system container whose
//! own dockerd listens with --tlsverify on :2376, the CA and client certificate in A's
//! machine directory (what `flotilla config` names). A server in fleet home B makes
//! machines on that engine; they are system containers nested in A's, on a bridge
//! network of A's that this machine routes to through A (as a server's network would
//! route to an engine host's container network). No second dockerd runs on this machine.
//!
//! Needs root (the route) and the testbed; skipped without them unless FLOTILLA_E2E=1,
//! which makes a missing prerequisite a failure.

mod common;
mod server_support;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{text, Fleet, IMAGE_DOCKER};
use server_support::Server;

/// A route on this machine to the engine host's container network, removed on drop.
struct Route {
    subnet: String,
    via: String,
}

impl Route {
    /// Adds a route to the first 10.231.X.0/24 (X in 64..128) that no route here uses
    /// yet (`ip route add` refuses an existing one: nothing of someone else's is replaced).
    fn add(via: &str) -> Route {
        for x in 64..128 {
            let subnet = format!("10.231.{x}.0/24");
            let out = Command::new("ip")
                .args(["route", "add", &subnet, "via", via])
                .output()
                .expect("run ip");
            if out.status.success() {
                return Route {
                    subnet,
                    via: via.to_string(),
                };
            }
            let err = text(&out.stderr);
            assert!(err.contains("File exists"), "ip route add {subnet}: {err}");
        }
        panic!("every 10.231.64-127.0/24 is routed already on this machine");
    }

    /// The network's first address (its prefix up to the last dot).
    fn prefix(&self) -> &str {
        self.subnet.trim_end_matches("0/24")
    }
}

impl Drop for Route {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["route", "del", &self.subnet, "via", &self.via])
            .output();
    }
}

/// `docker save IMAGE | docker load` into the machine's engine, through its TLS API.
fn load_image(a: &Fleet, machine: &str, image: &str) {
    let mut save = Command::new("docker")
        .args(["save", image])
        .env_remove("DOCKER_HOST")
        .stdout(Stdio::piped())
        .spawn()
        .expect("run docker save");
    let mut load = Command::new("docker");
    load.arg("load").stdin(save.stdout.take().expect("stdout"));
    for (k, v) in a.env_vars(machine) {
        load.env(k, v);
    }
    let out = load.output().expect("run docker load");
    assert!(save.wait().expect("docker save").success(), "docker save");
    assert!(
        out.status.success(),
        "docker load into {machine}: {}",
        text(&out.stderr)
    );
}

fn write_dir(dir: &Path, files: &[(&str, &str)]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        std::fs::write(dir.join(name), content).unwrap();
    }
}

/// A server started without --unsafe-local-container-hosts accepts an engine on another
/// machine over TLS, makes a machine there that answers `ssh` and shows Running, and
/// removes it there; plain TCP to that engine and a CA that did not sign its certificate
/// are refused in one line that says what to do.
#[test]
fn a_server_makes_machines_on_a_remote_engine_over_tls() {
    let test = "a_server_makes_machines_on_a_remote_engine_over_tls";
    if !common::testbed(IMAGE_DOCKER) {
        return;
    }
    if unsafe { libc::geteuid() } != 0 {
        common::skip_or_fail(
            test,
            "it needs root (a route to the remote engine's container network)",
        );
        return;
    }
    if !common::have_programs(test, &["ip", "docker"]) {
        return;
    }

    // Fleet A: the machine whose TLS engine is "another machine".
    let a = Fleet::new();
    let engine = common::unique("tls-engine");
    a.create(&engine, &[]);
    let engine_ip = a.ok(&["ip", &engine]).trim().to_string();
    let engine_url = format!("tcp://{engine_ip}:2376");
    let certs = a.machine_dir(&engine);
    let config = a.ok(&["config", &engine]);
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        assert!(
            config.contains(&certs.join(f).display().to_string()),
            "`config` names another {f}: {config}"
        );
    }
    let certs = certs.display().to_string();

    // The engine host gets the host image, and a container network this machine routes
    // to through it; the engine host masquerades what comes in (the nested machines'
    // own dockerd takes 172.17.0.0/16, where this machine's address is).
    load_image(&a, &engine, IMAGE_DOCKER);
    let route = Route::add(&engine_ip);
    let network = "fl-tls-net";
    let bridge = "fltls0";
    let out = a.docker_on(
        &engine,
        &[
            "network",
            "create",
            "--subnet",
            &route.subnet,
            "-o",
            &format!("com.docker.network.bridge.name={bridge}"),
            network,
        ],
    );
    assert!(
        out.status.success(),
        "network create: {}",
        text(&out.stderr)
    );
    let out = a.ssh(
        &engine,
        &format!("iptables -t nat -I POSTROUTING -o {bridge} -j MASQUERADE"),
    );
    assert!(out.status.success(), "masquerade: {}", text(&out.stderr));

    // Fleet B: a server that refuses its own engine, pointed at A's over TLS.
    let server = Server::start_strict_with(&[
        "--container-host",
        &engine_url,
        "--container-cert-path",
        &certs,
    ]);
    let operator = server.client(&server.token("otto", "operator"));
    let name = common::unique("remote");
    let out = operator.run(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--container-network",
        network,
        &name,
    ]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    // "created NAME in 4.2s ...": how long a machine on the remote engine took.
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    if let Some(done) = said.lines().find(|l| l.starts_with("created ")) {
        eprintln!("{done}");
    }

    // It runs on A's engine, not on this machine's, at an address of A's network.
    let on_a = |name: &str| {
        let out = a.docker_on(
            &engine,
            &[
                "ps",
                "-q",
                "--filter",
                &format!("label=flotilla.machine={name}"),
            ],
        );
        assert!(
            out.status.success(),
            "ps on {engine}: {}",
            text(&out.stderr)
        );
        text(&out.stdout).lines().count()
    };
    assert_eq!(on_a(&name), 1, "{name} is not on {engine}'s engine");
    assert!(
        common::containers_of(&name).is_empty(),
        "{name} was made on this machine's engine"
    );
    let ls = operator.ok(&["ls"]);
    let row = ls
        .lines()
        .find(|l| l.starts_with(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name} not listed:\n{ls}"));
    assert!(row.contains("Running"), "{row}");
    assert!(
        row.contains(&format!("tcp://{}", route.prefix())),
        "not on {}: {row}",
        route.subnet
    );
    // `status` asks the driver now: over TLS to A's engine.
    assert_eq!(operator.ok(&["status", &name]).trim(), "Running");
    let out = operator.ssh(&name, "uname -n");
    assert!(out.status.success(), "ssh: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), name);

    // Removed through the server: gone from A's engine too.
    operator.ok(&["rm", "-y", &name]);
    assert_eq!(on_a(&name), 0, "{name} left a container on {engine}");

    // Plain TCP to an engine on another machine: refused before anything is sent, by a
    // server (a 400 naming the fix, nothing recorded) and by the CLI (one line).
    let plain = Server::start_strict_with(&["--container-host", &engine_url]);
    let http = plain.http();
    let token = plain.token("otto", "operator");
    let refused = http.json(
        "POST",
        "/v1/machines",
        &token,
        &serde_json::json!({"name": "plain-tcp", "driver": "container"}),
    );
    assert_eq!(refused.status, 400, "{}", refused.text);
    let msg = refused.body["message"].as_str().unwrap_or("");
    assert!(
        msg.contains(&format!(
            "refusing plain TCP to the Docker Engine at {engine_url} (flag --container-host)"
        )) && msg.contains("--container-cert-path"),
        "{msg}"
    );
    assert_eq!(http.get("/v1/machines", &token).body, serde_json::json!([]));
    drop(plain);
    let c = Fleet::new().with_env("FLOTILLA_CONTAINER_HOST", &engine_url);
    let err = c.fails(&["create", "-d", "container", "plain-tcp"]);
    let line = common::error_line(&err);
    assert!(
        line.starts_with(&format!(
            "error: refusing plain TCP to the Docker Engine at {engine_url}"
        )) && line.contains("FLOTILLA_CONTAINER_CERT_PATH"),
        "{err}"
    );

    // A ca.pem that did not sign the engine's certificate.
    let wrong = c.home().join("wrong-ca");
    let other = flotilla::provision::certs::Ca::generate("another CA").unwrap();
    let client = |f: &str| std::fs::read_to_string(Path::new(&certs).join(f)).unwrap();
    write_dir(
        &wrong,
        &[
            ("ca.pem", &other.cert_pem),
            ("cert.pem", &client("cert.pem")),
            ("key.pem", &client("key.pem")),
        ],
    );
    let w = Fleet::new()
        .with_env("FLOTILLA_CONTAINER_HOST", &engine_url)
        .with_env("FLOTILLA_CONTAINER_CERT_PATH", &wrong.display().to_string());
    let err = w.fails(&["create", "-d", "container", "wrong-ca"]);
    let line = common::error_line(&err);
    assert!(
        line.contains(&format!(
            "the Docker Engine at {engine_url} presented a certificate that {}/ca.pem does not vouch for",
            wrong.display()
        )),
        "{err}"
    );

    // The docker CLI's own variables name the same engine and files: the handshake
    // succeeds and the engine's own answer comes back (no such image there).
    let d = Fleet::new()
        .with_env("DOCKER_HOST", &engine_url)
        .with_env("DOCKER_TLS_VERIFY", "1")
        .with_env("DOCKER_CERT_PATH", &certs);
    let err = d.fails(&[
        "create",
        "-d",
        "container",
        "--container-image",
        "flotilla-absent:1",
        "docker-env",
    ]);
    let line = common::error_line(&err);
    assert!(line.contains("image flotilla-absent:1 not found"), "{err}");
    drop(server);
    drop(route);
}
