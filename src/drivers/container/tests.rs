//! Unit tests of the container driver's pieces (no engine). The driver against a real
//! Docker Engine is tested in tests/container_driver.rs.

use std::io::Read;

use super::*;

const TEST_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw0cXrNRkZbCMnAWOYSQ1TGnw0xbNyhX0Rj7Cq9yPZv flotilla-driver-test";

#[test]
fn init_detection() {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert!(runs_init(None, Some(&v(&["/sbin/init"]))));
    assert!(runs_init(
        Some(&v(&["/lib/systemd/systemd"])),
        Some(&v(&["--log-level=info"]))
    ));
    assert!(runs_init(Some(&[]), Some(&v(&["/sbin/init"]))));
    assert!(!runs_init(None, Some(&v(&["/bin/sh"]))));
    assert!(!runs_init(
        Some(&v(&["/docker-entrypoint.sh"])),
        Some(&v(&["/sbin/init"]))
    ));
    assert!(!runs_init(None, None));
}

#[test]
fn build_hints_name_the_right_command() {
    assert_eq!(build_hint("flotilla-host:bookworm"), "flotilla image build");
    assert_eq!(
        build_hint("flotilla-host:bookworm-docker"),
        "flotilla image build --with-docker"
    );
    assert_eq!(
        build_hint("flotilla-host:trixie-docker"),
        "flotilla image build --suite trixie --with-docker"
    );
    assert_eq!(build_hint("mine:latest"), "flotilla image build");
}

#[test]
fn authorized_keys_archive_is_root_only() {
    let tar = authorized_keys_tar(&format!("  {TEST_KEY}  \n")).unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let header = entry.header();
        let (mode, uid, gid) = (
            header.mode().unwrap(),
            header.uid().unwrap(),
            header.gid().unwrap(),
        );
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        seen.push((path, mode, uid, gid, body));
    }
    assert_eq!(
        seen,
        [
            ("root/.ssh/".to_string(), 0o700, 0, 0, String::new()),
            (
                "root/.ssh/authorized_keys".to_string(),
                0o600,
                0,
                0,
                format!("{TEST_KEY}\n")
            ),
        ]
    );
}

#[test]
fn only_root_is_supported_and_resources_are_checked() {
    let mut spec = MachineSpec::new("a", "container");
    assert!(check_ssh_user(&spec).is_ok());
    spec.ssh_user = "debian".into();
    let err = check_ssh_user(&spec).unwrap_err();
    assert!(
        matches!(err, DriverError::Invalid(_)) && err.to_string().contains("root"),
        "{err}"
    );

    let mut spec = MachineSpec::new("a", "container");
    spec.container.memory = Some(1 << 30);
    spec.container.cpus = Some(1.5);
    assert!(check_resources(&spec).is_ok());
    spec.container.memory = Some(1000);
    assert!(matches!(
        check_resources(&spec),
        Err(DriverError::Invalid(_))
    ));
    spec.container.memory = None;
    spec.container.cpus = Some(0.0);
    assert!(matches!(
        check_resources(&spec),
        Err(DriverError::Invalid(_))
    ));
}

#[test]
fn local_engines_are_told_apart_from_remote_ones() {
    let at = |url: &str| Endpoint {
        url: url.into(),
        source: "test".into(),
        tls: None,
    };
    for local in [
        "unix:///var/run/docker.sock",
        "/var/run/docker.sock",
        "tcp://127.0.0.1:2375",
        "tcp://localhost:2375",
        "tcp://[::1]:2375",
        "tcp://0.0.0.0:2375",
    ] {
        let err = refuse_if_local(&at(local)).unwrap_err().to_string();
        assert!(
            err.contains("--unsafe-local-container-hosts"),
            "{local}: {err}"
        );
    }
    for remote in ["tcp://10.1.2.3:2375", "tcp://docker.example.com:2376"] {
        assert!(refuse_if_local(&at(remote)).is_ok(), "{remote}");
    }
}

/// `docker info`'s security options as a userns-remapped engine reports them (seen on a
/// dockerd started with `--userns-remap=default`) are refused with the reason; an
/// engine without them passes.
#[test]
fn userns_remapped_engines_are_refused_with_the_reason() {
    let remapped = vec![
        "name=seccomp,profile=default".to_string(),
        "name=userns".to_string(),
    ];
    let err = refuse_userns(&remapped).unwrap_err().to_string();
    assert!(
        err.contains("userns-remap") && err.contains("systemd"),
        "{err}"
    );
    let plain = vec![
        "name=apparmor".to_string(),
        "name=seccomp,profile=default".to_string(),
        "name=cgroupns".to_string(),
    ];
    assert!(refuse_userns(&plain).is_ok());
    assert!(refuse_userns(&[]).is_ok());
}

/// What connect_docker says when it refuses `at`.
async fn refusal(at: &Endpoint) -> String {
    match connect_docker(at).await {
        Ok(_) => panic!("{} was accepted", at.url),
        Err(e) => e.to_string(),
    }
}

fn tls_at(url: &str, dir: &std::path::Path) -> Endpoint {
    Endpoint {
        url: url.into(),
        source: "test".into(),
        tls: Some(TlsDir {
            path: dir.to_path_buf(),
            source: "env FLOTILLA_CONTAINER_CERT_PATH".into(),
        }),
    }
}

#[tokio::test]
async fn plain_tcp_to_another_machine_is_refused_with_how_to_set_tls_up() {
    let at = Endpoint {
        url: "tcp://192.0.2.7:2375".into(),
        source: "env DOCKER_HOST".into(),
        tls: None,
    };
    let err = refusal(&at).await;
    assert!(err.contains("refusing plain TCP"), "{err}");
    assert!(err.contains("FLOTILLA_CONTAINER_CERT_PATH"), "{err}");
    assert!(err.contains("env DOCKER_HOST"), "{err}");
}

#[tokio::test]
async fn missing_or_bad_cert_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let at = tls_at("tcp://192.0.2.7:2376", dir.path());
    let err = refusal(&at).await;
    assert!(
        err.contains(&dir.path().join("ca.pem").display().to_string()),
        "{err}"
    );
    assert!(err.contains("FLOTILLA_CONTAINER_CERT_PATH"), "{err}");

    let ca = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
    std::fs::write(dir.path().join("ca.pem"), ca.cert.pem()).unwrap();
    std::fs::write(dir.path().join("cert.pem"), ca.cert.pem()).unwrap();
    // A certificate where the key should be.
    std::fs::write(dir.path().join("key.pem"), ca.cert.pem()).unwrap();
    let err = refusal(&at).await;
    assert!(
        err.contains(&dir.path().join("key.pem").display().to_string())
            && err.contains("not a PEM client key"),
        "{err}"
    );
}

#[tokio::test]
async fn tls_files_with_a_local_socket_are_a_contradiction() {
    let dir = tempfile::tempdir().unwrap();
    let at = tls_at("unix:///var/run/docker.sock", dir.path());
    let err = refusal(&at).await;
    assert!(err.contains("local socket"), "{err}");
}

#[test]
fn a_servers_start_line_says_what_it_will_do_with_container_hosts() {
    let dir = std::path::Path::new("/etc/flotilla/engine-certs");
    let plain = |url: &str| Endpoint {
        url: url.into(),
        source: "flag --container-host".into(),
        tls: None,
    };
    let s = tls_at("tcp://192.0.2.7:2376", dir).summary(false);
    assert_eq!(
        s,
        "container hosts on tcp://192.0.2.7:2376 (test): TLS with /etc/flotilla/engine-certs (env FLOTILLA_CONTAINER_CERT_PATH)"
    );
    let s = plain("tcp://192.0.2.7:2376").summary(false);
    assert!(
        s.ends_with("refused: plain TCP to another machine (give --container-cert-path)"),
        "{s}"
    );
    for local in ["unix:///var/run/docker.sock", "tcp://127.0.0.1:2375"] {
        let s = plain(local).summary(false);
        assert!(s.contains("--unsafe-local-container-hosts"), "{s}");
        let s = plain(local).summary(true);
        assert!(s.ends_with("no TLS (an engine on this machine)"), "{s}");
    }
    let s = tls_at("tcp://127.0.0.1:2376", dir).summary(false);
    assert!(s.contains("refused: this machine's own engine"), "{s}");
}
