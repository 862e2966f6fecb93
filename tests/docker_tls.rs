//! A machine's Docker API (`flotilla::docker`) against a real dockerd started here with
//! --tlsverify: TLS both ways, API version negotiation, ping, info, wait_ready.
//! Needs root, dockerd, unshare and ip (scripts/deps installs them): without them the
//! test says why it is skipped; with FLOTILLA_E2E=1 it fails instead.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flotilla::docker::{DockerError, MachineDocker};
use flotilla::provision::certs::{Ca, CertPair};

fn write_client_dir(dir: &Path, ca_pem: &str, client: &CertPair) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &client.key_pem).unwrap();
}

/// A dockerd of our own, stopped (SIGTERM, so it stops its containerd too) on drop.
struct Daemon {
    child: std::process::Child,
    log: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        for _ in 0..100 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `f` on a thread inside the network namespace of process `pid`, with its own
/// current-thread runtime (sockets it opens live in that namespace).
fn in_netns_of<T: Send + 'static>(pid: u32, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    std::thread::spawn(move || {
        let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Real check of connect_tls / negotiation / ping / info / wait_ready against a dockerd
/// started here with --tlsverify, in a network namespace of its own (`unshare --net`):
/// a dockerd with `--bridge none` in this machine's namespace DELETES the machine's
/// docker0 (moby's removeDefaultBridgeInterface), breaking every container here.
/// Needs root, dockerd, unshare and ip; skipped otherwise unless FLOTILLA_E2E=1, which
/// makes missing prerequisites a failure.
#[test]
fn real_dockerd_over_tls() {
    let test = "real_dockerd_over_tls";
    if unsafe { libc::geteuid() } != 0 {
        common::skip_or_fail(test, "it needs root (a dockerd and a network namespace)");
        return;
    }
    if !common::have_programs(test, &["dockerd", "unshare", "ip"]) {
        return;
    }
    let dockerd = common::which("dockerd");
    let tmp = tempfile::Builder::new()
        .prefix("fl-dk")
        .tempdir_in("/tmp")
        .unwrap();
    let t = tmp.path().to_path_buf();
    let ca = Ca::generate("flotilla test CA").unwrap();
    let server = ca
        .issue_server("flotilla-test", &["127.0.0.1".into(), "localhost".into()])
        .unwrap();
    let sdir = t.join("server");
    std::fs::create_dir_all(&sdir).unwrap();
    std::fs::write(sdir.join("ca.pem"), &ca.cert_pem).unwrap();
    std::fs::write(sdir.join("cert.pem"), &server.cert_pem).unwrap();
    std::fs::write(sdir.join("key.pem"), &server.key_pem).unwrap();
    std::fs::write(t.join("daemon.json"), "{}\n").unwrap();
    let port = 23760;
    let log = t.join("dockerd.log");
    let logf = std::fs::File::create(&log).unwrap();
    let p = |s: &str| t.join(s).display().to_string();
    let child = std::process::Command::new("unshare")
        .args([
            "--net",
            "sh",
            "-c",
            "ip link set lo up && exec \"$0\" \"$@\"",
        ])
        .arg(dockerd.unwrap())
        .args(["--config-file", &p("daemon.json")])
        .args([
            "--tlsverify",
            "--tlscacert",
            &p("server/ca.pem"),
            "--tlscert",
            &p("server/cert.pem"),
        ])
        .args(["--tlskey", &p("server/key.pem")])
        .args([
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "-H",
            &format!("unix://{}", p("docker.sock")),
        ])
        .args([
            "--data-root",
            &p("data"),
            "--exec-root",
            &p("exec"),
            "--pidfile",
            &p("docker.pid"),
        ])
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--ip-masq=false",
            "--storage-driver",
            "vfs",
        ])
        .args([
            "--containerd-namespace",
            "flotilla-test",
            "--containerd-plugins-namespace",
            "flotilla-test-plugins",
        ])
        .args([
            "--label",
            "flotilla.test=yes",
            "--insecure-registry",
            "10.1.2.3:5000",
        ])
        .args(["--registry-mirror", "https://mirror.example.com"])
        .stdout(logf.try_clone().unwrap())
        .stderr(logf)
        .spawn()
        .unwrap();
    let pid = child.id();
    let daemon = Daemon { child, log };
    // wait until the process is in its own namespace
    let own = std::fs::read_link("/proc/self/ns/net").unwrap();
    let t0 = Instant::now();
    while std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .as_ref()
        == Some(&own)
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "dockerd never left this network namespace"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let result = std::panic::catch_unwind(|| {
        in_netns_of(pid, move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(check_tls_daemon(t, ca, port))
        })
    });
    if let Err(e) = result {
        eprintln!(
            "--- dockerd log ---\n{}",
            std::fs::read_to_string(&daemon.log).unwrap_or_default()
        );
        std::panic::resume_unwind(e);
    }
    drop(daemon);
}

async fn check_tls_daemon(t: PathBuf, ca: Ca, port: u16) {
    let good = t.join("client");
    write_client_dir(&good, &ca.cert_pem, &ca.issue_client("tester").unwrap());
    let url = format!("tcp://127.0.0.1:{port}");
    let md = MachineDocker::connect_tls(&url, &good).unwrap();
    let info = md.wait_ready(Duration::from_secs(60)).await.unwrap();
    eprintln!("{info:?}");
    assert!(!info.server_version.is_empty());
    assert!(!info.api_version.is_empty());
    assert_eq!(info.storage_driver, "vfs");
    assert!(
        info.labels.contains(&"flotilla.test=yes".to_string()),
        "{:?}",
        info.labels
    );
    assert!(
        info.insecure_registries
            .contains(&"10.1.2.3:5000".to_string()),
        "{:?}",
        info.insecure_registries
    );
    assert!(
        info.registry_mirrors
            .iter()
            .any(|m| m.starts_with("https://mirror.example.com")),
        "{:?}",
        info.registry_mirrors
    );
    assert_eq!(info.containers_running, 0);
    assert!(!info.name.is_empty());
    md.ping().await.unwrap();
    // the raw client speaks the negotiated version too
    let v = md.api().version().await.unwrap();
    assert_eq!(v.api_version.as_deref(), Some(info.api_version.as_str()));
    md.negotiated()
        .await
        .unwrap()
        .list_images(None::<bollard::query_parameters::ListImagesOptions>)
        .await
        .unwrap();

    // a client certificate from another CA is refused by the daemon
    let other = Ca::generate("another CA").unwrap();
    let foreign = t.join("foreign-client");
    write_client_dir(
        &foreign,
        &ca.cert_pem,
        &other.issue_client("mallory").unwrap(),
    );
    let md2 = MachineDocker::connect_tls(&url, &foreign).unwrap();
    let err = md2
        .wait_ready(Duration::from_millis(1500))
        .await
        .unwrap_err();
    eprintln!("foreign client: {err}");
    match &err {
        DockerError::Timeout { last, .. } => assert!(last.contains("BadCertificate"), "{last}"),
        other => panic!("{other}"),
    }

    // a server the client's CA did not sign is refused by the client
    let wrong_ca = t.join("wrong-ca");
    write_client_dir(
        &wrong_ca,
        &other.cert_pem,
        &ca.issue_client("tester").unwrap(),
    );
    let md3 = MachineDocker::connect_tls(&url, &wrong_ca).unwrap();
    let err = md3.ping().await.unwrap_err();
    eprintln!("wrong CA: {err}");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}
