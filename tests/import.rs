//! End to end: a store written the way docker-machine 0.16 writes it (config.json
//! version 3, its file names and modes, real keys and certificates made with openssl and
//! ssh-keygen) for a real host whose Docker Engine is set up as docker-machine sets it
//! up (its drop-in, its TLS files), imported and used; then provisioned by flotilla.

mod common;
mod generic_support;
mod server_support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use generic_support::{keypair, Host};

const PROGRAMS: &[&str] = &["docker", "ssh-keygen", "openssl", "ssh", "scp"];

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        text(&out.stderr)
    );
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// docker-machine's CA and client certificate in STORE/certs (ca.pem 0644, ca-key.pem
/// 0600, cert.pem 0644, key.pem 0600: RSA keys in PKCS#1, as it writes them).
fn make_certs(store: &Path) -> PathBuf {
    let certs = store.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    set_mode(&certs, 0o700);
    openssl(
        &certs,
        &["genrsa", "-traditional", "-out", "ca-key.pem", "2048"],
    );
    openssl(
        &certs,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "3",
            "-subj",
            "/O=tester",
        ],
    );
    openssl(
        &certs,
        &["genrsa", "-traditional", "-out", "key.pem", "2048"],
    );
    openssl(
        &certs,
        &[
            "req",
            "-new",
            "-key",
            "key.pem",
            "-out",
            "client.csr",
            "-subj",
            "/O=tester.<bootstrap>",
        ],
    );
    std::fs::write(certs.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        &certs,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "3",
            "-extfile",
            "client.ext",
        ],
    );
    for f in ["client.csr", "client.ext", "ca.srl"] {
        let _ = std::fs::remove_file(certs.join(f));
    }
    for (f, mode) in [
        ("ca.pem", 0o644),
        ("ca-key.pem", 0o600),
        ("cert.pem", 0o644),
        ("key.pem", 0o600),
    ] {
        set_mode(&certs.join(f), mode);
    }
    certs
}

/// STORE/machines/NAME as docker-machine leaves a generic machine: config.json (0600),
/// id_rsa (0600) and id_rsa.pub, copies of the CA and client files, the server's
/// certificate for `ip`. Returns the machine's directory.
fn write_machine(store: &Path, name: &str, ip: &str, ssh_port: u16) -> PathBuf {
    let certs = store.join("certs");
    let dir = store.join("machines").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    set_mode(&store.join("machines"), 0o700);
    set_mode(&dir, 0o700);
    keypair(&dir, "id_rsa", "rsa");
    set_mode(&dir.join("id_rsa"), 0o600);
    set_mode(&dir.join("id_rsa.pub"), 0o644);
    for f in ["ca.pem", "cert.pem", "key.pem"] {
        std::fs::copy(certs.join(f), dir.join(f)).unwrap();
    }
    openssl(
        &dir,
        &["genrsa", "-traditional", "-out", "server-key.pem", "2048"],
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-key",
            "server-key.pem",
            "-out",
            "server.csr",
            "-subj",
            &format!("/O=tester.{name}"),
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        format!("extendedKeyUsage=serverAuth\nsubjectAltName=IP:{ip},DNS:localhost\n"),
    )
    .unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &certs.join("ca.pem").display().to_string(),
            "-CAkey",
            &certs.join("ca-key.pem").display().to_string(),
            "-CAcreateserial",
            "-CAserial",
            "server.srl",
            "-out",
            "server.pem",
            "-days",
            "3",
            "-extfile",
            "server.ext",
        ],
    );
    for f in ["server.csr", "server.ext", "server.srl"] {
        let _ = std::fs::remove_file(dir.join(f));
    }
    set_mode(&dir.join("server-key.pem"), 0o600);
    let s = store.display();
    let d = dir.display();
    let config = serde_json::json!({
        "ConfigVersion": 3,
        "Driver": {
            "IPAddress": ip,
            "MachineName": name,
            "SSHUser": "root",
            "SSHPort": ssh_port,
            "SSHKeyPath": format!("{d}/id_rsa"),
            "StorePath": s.to_string(),
            "SwarmMaster": false,
            "SwarmHost": "tcp://0.0.0.0:3376",
            "SwarmDiscovery": "",
            "EnginePort": 2376,
            "SSHKey": "/home/tester/.ssh/id_rsa"
        },
        "DriverName": "generic",
        "HostOptions": {
            "Driver": "",
            "Memory": 0,
            "Disk": 0,
            "EngineOptions": {
                "ArbitraryFlags": [], "Dns": null, "GraphDir": "", "Env": [], "Ipv6": false,
                "InsecureRegistry": [], "Labels": [], "LogLevel": "", "StorageDriver": "",
                "SelinuxEnabled": false, "TlsVerify": true, "RegistryMirror": [],
                "InstallURL": "https://get.docker.com"
            },
            "SwarmOptions": {
                "IsSwarm": false, "Address": "", "Discovery": "", "Agent": false, "Master": false,
                "Host": "tcp://0.0.0.0:3376", "Image": "swarm:latest", "Strategy": "spread",
                "Heartbeat": 0, "Overcommit": 0, "ArbitraryFlags": [], "ArbitraryJoinFlags": [],
                "Env": null, "IsExperimental": false
            },
            "AuthOptions": {
                "CertDir": format!("{s}/certs"),
                "CaCertPath": format!("{s}/certs/ca.pem"),
                "CaPrivateKeyPath": format!("{s}/certs/ca-key.pem"),
                "CaCertRemotePath": "",
                "ServerCertPath": format!("{d}/server.pem"),
                "ServerKeyPath": format!("{d}/server-key.pem"),
                "ClientKeyPath": format!("{s}/certs/key.pem"),
                "ServerCertRemotePath": "",
                "ServerKeyRemotePath": "",
                "ClientCertPath": format!("{s}/certs/cert.pem"),
                "ServerCertSANs": [],
                "StorePath": d.to_string()
            }
        },
        "Name": name
    });
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(&config).unwrap(),
    )
    .unwrap();
    set_mode(&dir.join("config.json"), 0o600);
    dir
}

/// The host's engine as docker-machine configures it: its TLS files in /etc/docker and
/// its drop-in 10-machine.conf (with Debian's dockerd path, where docker-machine
/// itself would write /usr/bin/dockerd and fail).
fn docker_machine_engine(host: &Host, machine_dir: &Path, store: &Path) {
    for (src, dst) in [
        (store.join("certs/ca.pem"), "/etc/docker/ca.pem"),
        (machine_dir.join("server.pem"), "/etc/docker/server.pem"),
        (
            machine_dir.join("server-key.pem"),
            "/etc/docker/server-key.pem",
        ),
    ] {
        host.write(dst, &std::fs::read(src).unwrap(), "600");
    }
    host.write(
        "/etc/systemd/system/docker.service.d/10-machine.conf",
        b"[Service]\nExecStart=\nExecStart=/usr/sbin/dockerd -H fd:// -H tcp://0.0.0.0:2376 --tlsverify --tlscacert /etc/docker/ca.pem --tlscert /etc/docker/server.pem --tlskey /etc/docker/server-key.pem --label provider=generic\nEnvironment=\n",
        "644",
    );
    host.ok("systemctl daemon-reload && systemctl restart docker");
}

/// Every file under `dir` with its mode and contents: what must not change.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u32, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::metadata(&p).unwrap();
            if meta.is_dir() {
                todo.push(p.clone());
                out.insert(p, (meta.permissions().mode(), Vec::new()));
            } else {
                out.insert(
                    p.clone(),
                    (meta.permissions().mode(), std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    out
}

/// Whether any file under `dir` but `except` holds `needle`.
fn any_file_holds(dir: &Path, needle: &[u8], except: &Path) -> Option<PathBuf> {
    snapshot(dir).into_iter().find_map(|(p, (_, data))| {
        (p != except && data.windows(needle.len()).any(|w| w == needle)).then_some(p)
    })
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn env_value(fleet: &Fleet, name: &str, var: &str) -> String {
    fleet
        .env_vars(name)
        .into_iter()
        .find(|(k, _)| k == var)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("env {name} has no {var}"))
}

#[test]
fn a_docker_machine_store_is_imported_and_works_before_and_after_provisioning() {
    let test = "import_docker_machine";
    if !have_programs(test, PROGRAMS) || !testbed(IMAGE_DOCKER) {
        return;
    }
    let host = Host::start("dm-host", IMAGE_DOCKER);
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("machine");
    make_certs(&store);
    let name = unique("dm");
    let dir = write_machine(&store, &name, &host.ip, 22);
    write_machine(&store, "lost", "127.0.0.1", closed_port());
    let public = std::fs::read_to_string(dir.join("id_rsa.pub")).unwrap();
    host.authorize("root", "/root", &public);
    docker_machine_engine(&host, &dir, &store);
    let before = snapshot(&store);
    let storage = store.to_str().unwrap();

    let fleet = Fleet::new();
    // A dry run says what would be imported and imports nothing.
    let out = fleet.ok(&["import-docker-machine", "--from", storage, "--dry-run"]);
    assert!(
        out.contains(&format!("Would import {name} (generic")),
        "{out}"
    );
    assert!(out.contains("Would import lost"), "{out}");
    assert!(fleet.names().is_empty());

    let out = fleet.ok(&["import-docker-machine", "--from", storage]);
    assert!(out.contains(&format!("Imported {name}")), "{out}");
    assert!(
        out.contains("Imported lost") && out.contains("does not answer over SSH"),
        "{out}"
    );
    let m = fleet.machine_json(&name);
    assert_eq!(m["driver"], "generic");
    assert_eq!(m["state"], "running");
    assert_eq!(fleet.machine_json("lost")["state"], "error");
    let ls = fleet.ok(&["ls"]);
    assert!(ls.contains(&name) && ls.contains("lost"), "{ls}");

    // env + docker over TLS with docker-machine's own certificates, before provisioning.
    let out = fleet.docker_on(&name, &["info", "--format", "{{.ServerVersion}}"]);
    assert!(out.status.success(), "docker info: {}", text(&out.stderr));
    let cert_path = PathBuf::from(env_value(&fleet, &name, "DOCKER_CERT_PATH"));
    assert_eq!(
        std::fs::read(cert_path.join("ca.pem")).unwrap(),
        std::fs::read(store.join("certs/ca.pem")).unwrap()
    );
    let out = fleet.ssh(&name, "id -un");
    assert!(out.status.success(), "ssh: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim(), "root");

    // scp both ways with docker-machine's SSH key, before any provisioning: the system
    // scp reads the fleet's SSH config (the imported key, the host key pinned at import).
    let local = tmp.path().join("to-host.txt");
    std::fs::write(&local, "from here\n").unwrap();
    fleet.ok(&[
        "scp",
        "-q",
        local.to_str().unwrap(),
        &format!("{name}:/tmp/imported.txt"),
    ]);
    assert_eq!(host.ok("cat /tmp/imported.txt"), "from here\n");
    host.ok("mkdir -p /srv/tree/sub && echo deep > /srv/tree/sub/deep.txt");
    let back = tmp.path().join("back");
    fleet.ok(&[
        "scp",
        "-r",
        "-q",
        &format!("{name}:/srv/tree"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(back.join("sub/deep.txt")).unwrap(),
        "deep\n"
    );
    // Neither copy provisioned the host: docker-machine's drop-in is still in place.
    host.ok("test -e /etc/systemd/system/docker.service.d/10-machine.conf");

    // Sealed: the client key is in no file of the fleet but the docker CLI's copy.
    let key = std::fs::read(store.join("certs/key.pem")).unwrap();
    let body = &key[40..100];
    assert_eq!(
        any_file_holds(fleet.home(), body, &cert_path.join("key.pem")),
        None,
        "docker-machine's client key in the clear"
    );

    // Provisioning moves the engine to the fleet's certificates and sets docker-machine's
    // drop-in aside; Docker still answers through env.
    fleet.ok(&["provision", &name]);
    host.ok("test ! -e /etc/systemd/system/docker.service.d/10-machine.conf && test -e /etc/systemd/system/docker.service.d/10-machine.conf.flotilla-retired");
    let out = fleet.docker_on(&name, &["info", "--format", "{{.ServerVersion}}"]);
    assert!(
        out.status.success(),
        "docker info after provision: {}",
        text(&out.stderr)
    );
    assert_ne!(
        std::fs::read(cert_path.join("ca.pem")).unwrap(),
        std::fs::read(store.join("certs/ca.pem")).unwrap(),
        "after provisioning the fleet's CA is used"
    );

    // Importing again is refused by name; the originals were never touched.
    let err = fleet.fails(&["import-docker-machine", "--from", storage, &name]);
    assert!(err.contains("already exists"), "{err}");
    assert!(snapshot(&store) == before, "docker-machine's store changed");

    fleet.ok(&["rm", "-y", &name]);
    fleet.ok(&["rm", "-y", "-f", "lost"]);
    assert!(host.running(), "rm of an imported machine leaves its host");
}

#[test]
fn import_through_a_server_needs_an_operator() {
    let test = "import_through_a_server";
    if !have_programs(test, &["openssl", "ssh-keygen"]) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("machine");
    make_certs(&store);
    write_machine(&store, "far", "127.0.0.1", closed_port());
    let storage = store.to_str().unwrap();
    let server = server_support::Server::start(&[]);
    let viewer = server.client(&server.token("vic", "viewer"));
    let err = viewer.fails(&["import-docker-machine", "--from", storage, "far"]);
    assert!(err.contains("operator"), "{err}");
    let operator = server.client(&server.token("olga", "operator"));
    let out = operator.ok(&["import-docker-machine", "--from", storage, "far"]);
    assert!(out.contains("Imported far"), "{out}");
    assert_eq!(operator.machine_json("far")["state"], "error");
    operator.ok(&["rm", "-y", "-f", "far"]);
}
