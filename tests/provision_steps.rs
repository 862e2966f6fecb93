//! Provisioning's steps one by one, for real, over SSH against a testbed host (a system
//! container from flotilla-host:bookworm-docker), then the daemon over TLS: detect, set
//! the hostname, install and configure the engine, break it and fix it, new certificates.
//! Needs the testbed: skipped without it, unless FLOTILLA_E2E=1 makes that a failure.

mod common;

use common::{docker, e2e_required, testbed};
use flotilla::api::EngineOptions;
use flotilla::docker::MachineDocker;
use flotilla::provision::engine_config::ValidEngineOptions;
use flotilla::provision::*;
use flotilla::ssh::{HostKeyCheck, Session, Target};
use std::time::{Duration, Instant};

const IMAGE: &str = "flotilla-host:bookworm-docker";

/// A command's output as the comparisons below read it: without the trailing newline.
fn trimmed(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim().to_string()
}

/// A system container, removed on drop.
struct Host {
    name: String,
    ip: String,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", "-v", &self.name]);
    }
}

fn start_host(prefix: &str, image: &str, public_line: &str) -> Host {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("{prefix}-{:05x}", (nanos ^ std::process::id()) & 0xfffff);
    let out = docker(&[
        "run",
        "-d",
        "--name",
        &name,
        "--hostname",
        "initial-name",
        "--label",
        "flotilla.test=provision",
        "--stop-signal",
        "SIGRTMIN+3",
        "--cap-add=ALL",
        "--cap-drop=SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "--security-opt",
        "apparmor=unconfined",
        "--tmpfs",
        "/run",
        "--tmpfs",
        "/run/lock",
        "-v",
        "/sys/fs/cgroup:/sys/fs/cgroup:rw",
        "--tmpfs",
        "/var/lib/docker:exec",
        image,
    ]);
    assert!(out.status.success(), "docker run: {}", trimmed(&out.stderr));
    let mut host = Host {
        name: name.clone(),
        ip: String::new(),
    };
    let ip = trimmed(&docker(&["inspect", "-f", "{{.NetworkSettings.IPAddress}}", &name]).stdout);
    let script = format!("mkdir -p /root/.ssh && echo '{public_line}' >> /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys");
    let out = docker(&["exec", &name, "sh", "-c", &script]);
    assert!(out.status.success(), "{}", trimmed(&out.stderr));
    host.ip = ip;
    host
}

fn host_sh(h: &Host, script: &str) -> String {
    let out = docker(&["exec", &h.name, "sh", "-c", script]);
    format!("{}{}", trimmed(&out.stdout), trimmed(&out.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provision_a_real_host_twice_then_break_and_fix_it() {
    if !testbed(IMAGE) {
        return;
    }
    let key = flotilla::ssh::generate_ed25519("flotilla-test").unwrap();
    let host = start_host("fl-prov", IMAGE, &key.public_line);
    let machine = host.name.clone();
    let target = Target {
        host: &host.ip,
        port: 22,
        user: "root",
        private_key_pem: &key.private_pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    let s = Session::connect_retry(&target, Duration::from_secs(60))
        .await
        .unwrap();
    // systemd needs a moment before docker is up: provisioning must cope either way
    let profiles = os::Profiles::builtin();

    let t0 = Instant::now();
    let mut facts = detect(&s, &machine, &profiles).await.unwrap();
    eprintln!("detect: {:?} in {:?}", facts, t0.elapsed());
    assert_eq!(facts.os.id, "debian");
    assert_eq!(facts.profile.name, "debian");
    assert_eq!(facts.hostname, "initial-name");
    assert_eq!(facts.dockerd.as_deref(), Some("/usr/sbin/dockerd"));
    assert!(facts.file_hashes.is_empty(), "{:?}", facts.file_hashes);

    assert!(set_hostname(&s, &machine, &facts).await.unwrap());
    assert_eq!(
        host_sh(&host, "hostname; cat /etc/hostname"),
        format!("{machine}\n{machine}")
    );
    assert!(host_sh(&host, "getent hosts $(hostname)").contains(&machine));
    assert!(!install_engine(
        &s,
        &machine,
        &mut facts,
        &valid(&EngineOptions::default()),
        &mut |_| {}
    )
    .await
    .unwrap());

    let ca = certs::Ca::generate("test CA").unwrap();
    let server = ca
        .issue_server(&machine, &[host.ip.clone(), machine.clone()])
        .unwrap();
    let client = ca.issue_client("tester").unwrap();
    let tls = TlsFiles {
        ca_pem: &ca.cert_pem,
        server: &server,
    };
    let opts = EngineOptions {
        labels: vec!["env=test".into()],
        insecure_registries: vec!["10.9.8.7:5000".into()],
        opts: vec![
            ("--log-level".into(), "warn".into()),
            ("dns".into(), "9.9.9.9".into()),
        ],
        env: vec![("FLOTILLA_TEST".into(), "a \"quoted\" 100% value".into())],
        ..Default::default()
    };
    let t0 = Instant::now();
    assert!(configure_engine(&s, &machine, &facts, &valid(&opts), &tls)
        .await
        .unwrap());
    eprintln!("first configure: {:?}", t0.elapsed());

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &client.key_pem).unwrap();
    let md = MachineDocker::connect_tls(&format!("tcp://{}:2376", host.ip), dir.path()).unwrap();
    let info = md.wait_ready(Duration::from_secs(30)).await.unwrap();
    eprintln!("{info:?}");
    assert_eq!(info.name, machine);
    assert!(
        info.labels.contains(&"env=test".to_string()),
        "{:?}",
        info.labels
    );
    assert!(info
        .insecure_registries
        .contains(&"10.9.8.7:5000".to_string()));
    // the local socket answers too (socket activation kept), and the environment is set
    assert!(host_sh(&host, "docker version --format '{{.Server.Version}}'").starts_with("20.10"));
    let env = host_sh(&host, "tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value docker)/environ | grep FLOTILLA_TEST");
    assert_eq!(env, "FLOTILLA_TEST=a \"quoted\" 100% value");
    assert_eq!(host_sh(&host, "stat -c %a /etc/docker/flotilla /etc/docker/flotilla/server-key.pem /etc/docker/daemon.json"), "700\n600\n644");

    // the second provisioning changes nothing (how quick it is: benches/machines.rs)
    let pid = host_sh(&host, "systemctl show -p MainPID --value docker");
    let t0 = Instant::now();
    let mut facts = detect(&s, &machine, &profiles).await.unwrap();
    assert!(!set_hostname(&s, &machine, &facts).await.unwrap());
    assert!(
        !install_engine(&s, &machine, &mut facts, &valid(&opts), &mut |_| {})
            .await
            .unwrap()
    );
    assert!(!configure_engine(&s, &machine, &facts, &valid(&opts), &tls)
        .await
        .unwrap());
    let took = t0.elapsed();
    eprintln!("second provisioning: {took:?}");
    assert_eq!(
        host_sh(&host, "systemctl show -p MainPID --value docker"),
        pid
    );
    assert_eq!(facts.file_hashes.len(), 5);

    // a bad --engine-opt: the daemon does not start, the error shows its log
    let bad = EngineOptions {
        opts: vec![("no-such-option".into(), "1".into())],
        ..opts.clone()
    };
    let err = configure_engine(&s, &machine, &facts, &valid(&bad), &tls)
        .await
        .unwrap_err()
        .to_string();
    eprintln!("bad opt: {err}");
    assert!(
        err.contains("configure engine failed on") && err.contains("no-such-option"),
        "{err}"
    );

    // the host was not left without an engine: the previous files are back and the
    // daemon runs with them, so the next run with good options has nothing to change
    md.wait_ready(Duration::from_secs(30)).await.unwrap();
    assert!(!host_sh(&host, "cat /etc/docker/daemon.json").contains("no-such-option"));
    assert_eq!(
        host_sh(&host, "ls /etc/docker | grep -c flotilla-prev || true").trim(),
        "0"
    );
    let facts = detect(&s, &machine, &profiles).await.unwrap();
    assert!(!configure_engine(&s, &machine, &facts, &valid(&opts), &tls)
        .await
        .unwrap());

    // new certificates: only they change; restart_engine restarts the daemon
    let server2 = ca
        .issue_server(&machine, std::slice::from_ref(&host.ip))
        .unwrap();
    let tls2 = TlsFiles {
        ca_pem: &ca.cert_pem,
        server: &server2,
    };
    let facts = detect(&s, &machine, &profiles).await.unwrap();
    assert!(configure_engine(&s, &machine, &facts, &valid(&opts), &tls2)
        .await
        .unwrap());
    let pid = host_sh(&host, "systemctl show -p MainPID --value docker");
    restart_engine(&s, &machine).await.unwrap();
    assert_ne!(
        host_sh(&host, "systemctl show -p MainPID --value docker"),
        pid
    );
    md.wait_ready(Duration::from_secs(30)).await.unwrap();

    s.close().await;
    drop(host);
}

/// A host without Docker: the profile installs docker.io from Debian's mirror (slow:
/// runs only with FLOTILLA_E2E=1), then the daemon is configured and answers over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn install_then_configure_on_a_bare_host() {
    const BARE: &str = "flotilla-host:bookworm";
    if !e2e_required() {
        eprintln!("SKIPPED: installs docker.io from the network; set FLOTILLA_E2E=1 to run");
        return;
    }
    assert!(testbed(BARE));
    let key = flotilla::ssh::generate_ed25519("flotilla-test").unwrap();
    let host = start_host("fl-inst", BARE, &key.public_line);
    let machine = host.name.clone();
    let target = Target {
        host: &host.ip,
        port: 22,
        user: "root",
        private_key_pem: &key.private_pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    let s = Session::connect_retry(&target, Duration::from_secs(60))
        .await
        .unwrap();
    let profiles = os::Profiles::builtin();
    let mut facts = detect(&s, &machine, &profiles).await.unwrap();
    assert!(facts.dockerd.is_none(), "{facts:?}");
    // a broken install URL fails with the output's tail
    let bad = EngineOptions {
        install_url: Some("http://127.0.0.1:9/install.sh".into()),
        ..Default::default()
    };
    let err = install_engine(&s, &machine, &mut facts, &valid(&bad), &mut |_| {})
        .await
        .unwrap_err()
        .to_string();
    eprintln!("bad url: {err}");
    assert!(
        err.starts_with(&format!(
            "install engine failed on {machine}: the install command exited with status"
        )),
        "{err}"
    );
    let t0 = Instant::now();
    assert!(install_engine(
        &s,
        &machine,
        &mut facts,
        &valid(&EngineOptions::default()),
        &mut |_| {}
    )
    .await
    .unwrap());
    eprintln!("install: {:?}", t0.elapsed());
    assert_eq!(facts.dockerd.as_deref(), Some("/usr/sbin/dockerd"));
    assert!(set_hostname(&s, &machine, &facts).await.unwrap());

    let ca = certs::Ca::generate("test CA").unwrap();
    let server = ca
        .issue_server(&machine, std::slice::from_ref(&host.ip))
        .unwrap();
    let client = ca.issue_client("tester").unwrap();
    let tls = TlsFiles {
        ca_pem: &ca.cert_pem,
        server: &server,
    };
    let opts = EngineOptions {
        labels: vec!["fresh=yes".into()],
        ..Default::default()
    };
    assert!(configure_engine(&s, &machine, &facts, &valid(&opts), &tls)
        .await
        .unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &ca.cert_pem).unwrap();
    std::fs::write(dir.path().join("cert.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.path().join("key.pem"), &client.key_pem).unwrap();
    let md = MachineDocker::connect_tls(&format!("tcp://{}:2376", host.ip), dir.path()).unwrap();
    let info = md.wait_ready(Duration::from_secs(30)).await.unwrap();
    assert!(info.labels.contains(&"fresh=yes".to_string()), "{info:?}");
    let facts = detect(&s, &machine, &profiles).await.unwrap();
    assert!(!configure_engine(&s, &machine, &facts, &valid(&opts), &tls)
        .await
        .unwrap());
    s.close().await;
}

/// Options as provisioning takes them: through the one validation.
fn valid(opts: &EngineOptions) -> ValidEngineOptions {
    engine_config::validate(opts).expect("valid engine options")
}
