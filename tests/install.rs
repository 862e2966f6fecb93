//! Installing the Docker Engine on a host that has none: from the OS's packages, and
//! through `--engine-install-url`.

mod common;

use common::*;
use std::io::{Read, Write};

#[test]
fn create_installs_docker_from_the_distribution() {
    if !testbed(IMAGE_BARE) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("bare");
    fleet.ok(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_BARE,
        &name,
    ]);
    let out = fleet.ssh(&name, "dpkg -s docker.io | grep '^Status'");
    assert!(
        text(&out.stdout).contains("install ok installed"),
        "{}",
        text(&out.stdout)
    );
    let out = fleet.docker_on(&name, &["info", "--format", "{{.ServerVersion}}"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Converges: the second provision finds docker and installs nothing.
    let err = text(&fleet.run(&["provision", &name]).stderr);
    assert!(!err.contains("error"), "{err}");
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

/// The Docker bridge's gateway: the address test hosts reach this machine at.
fn bridge_gateway() -> String {
    let out = docker(&[
        "network",
        "inspect",
        "bridge",
        "--format",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
    ]);
    let gw = text(&out.stdout).trim().to_string();
    if !gw.is_empty() {
        return gw;
    }
    // The engine leaves Gateway empty when docker0 existed before it: read the bridge's address.
    let out = std::process::Command::new("ip")
        .args(["-4", "-o", "addr", "show", "docker0"])
        .output()
        .unwrap();
    let addr = text(&out.stdout);
    let cidr = addr
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .expect("docker0 has an IPv4 address");
    cidr.split('/').next().unwrap().to_string()
}

#[test]
fn engine_install_url_runs_that_script() {
    if !testbed(IMAGE_BARE) {
        return;
    }
    // Serves one script to the test host, on the bridge address only.
    let gateway = bridge_gateway();
    let listener =
        std::net::TcpListener::bind((gateway.as_str(), 0)).expect("bind on the docker bridge");
    let port = listener.local_addr().unwrap().port();
    let script = "#!/bin/sh\nset -e\necho installing-by-url\napt-get update -qq\n\
                  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null\n\
                  touch /root/installed-by-url\n";
    let server = std::thread::spawn(move || {
        // Bounded: serve a few requests, then stop.
        for stream in listener.incoming().take(3) {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 2048];
            let _ = s.read(&mut buf);
            let body = script.as_bytes();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = s.write_all(body);
            return;
        }
    });
    let fleet = Fleet::new();
    let name = unique("byurl");
    let url = format!("http://{gateway}:{port}/install.sh");
    fleet.ok(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_BARE,
        "--engine-install-url",
        &url,
        &name,
    ]);
    server.join().unwrap();
    assert!(
        fleet
            .ssh(&name, "test -f /root/installed-by-url")
            .status
            .success(),
        "the script ran"
    );
    assert!(fleet.docker_on(&name, &["version"]).status.success());
    fleet.ok(&["rm", "-y", &name]);
    assert_gone(&fleet, &name);
}

#[test]
fn a_bad_engine_option_fails_with_the_daemon_s_own_words() {
    if !testbed(IMAGE_DOCKER) {
        return;
    }
    let fleet = Fleet::new();
    let name = unique("badopt");
    let err = fleet.fails(&[
        "create",
        "-d",
        "container",
        "--container-image",
        IMAGE_DOCKER,
        "--engine-opt",
        "log-level=shouting",
        &name,
    ]);
    assert!(
        err.contains("log-level") || err.contains("shouting"),
        "the daemon's complaint is shown: {err}"
    );
    assert_eq!(fleet.machine_json(&name)["state"], "error");
    fleet.ok(&["rm", "-f", "-y", &name]);
    assert_gone(&fleet, &name);
}
