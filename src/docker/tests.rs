use super::*;
use crate::provision::certs::{Ca, CertPair};

#[test]
fn tls_addr_accepts_docker_machine_urls() {
    assert_eq!(
        tls_addr("tcp://172.17.0.5:2376").unwrap(),
        "172.17.0.5:2376"
    );
    assert_eq!(tls_addr("https://10.0.0.1:2377/").unwrap(), "10.0.0.1:2377");
    assert_eq!(tls_addr("10.0.0.1").unwrap(), "10.0.0.1:2376");
    assert_eq!(
        tls_addr("tcp://web1.example.com").unwrap(),
        "web1.example.com:2376"
    );
    assert_eq!(tls_addr("tcp://[::1]:2376").unwrap(), "[::1]:2376");
    assert_eq!(tls_addr("tcp://[fe80::1]").unwrap(), "[fe80::1]:2376");
    assert_eq!(tls_addr("fe80::1").unwrap(), "[fe80::1]:2376");
    for bad in [
        "",
        "unix:///var/run/docker.sock",
        "tcp://host:port",
        "tcp://a b:1",
        "tcp://h:2376/x",
        "tcp://h:99999",
    ] {
        assert!(tls_addr(bad).is_err(), "{bad}");
    }
}

#[test]
fn versions_from_engine_refusals() {
    let v = max_supported_version(
        "client version 1.49 is too new. Maximum supported API version is 1.41",
    )
    .unwrap();
    assert_eq!((v.major_version, v.minor_version), (1, 41));
    assert!(max_supported_version("something else").is_none());
    assert!(parse_version("1.x").is_none());
    assert!(older(&parse_version("1.41").unwrap(), API_DEFAULT_VERSION));
    assert!(!older(&parse_version("1.99").unwrap(), API_DEFAULT_VERSION));
}

#[test]
fn connect_tls_names_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let err = MachineDocker::connect_tls("tcp://127.0.0.1:2376", dir.path())
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(
        msg.contains("ca.pem") && msg.contains("CA certificate"),
        "{msg}"
    );
    let err = MachineDocker::connect_tls("unix:///x", dir.path())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("expected tcp://HOST:PORT"),
        "{err}"
    );
}

#[tokio::test]
async fn wait_ready_times_out_with_the_last_error() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::generate("ca").unwrap();
    write_client_dir(dir.path(), &ca.cert_pem, &ca.issue_client("c").unwrap());
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let md = MachineDocker::connect_tls(&format!("tcp://127.0.0.1:{port}"), dir.path()).unwrap();
    let t0 = Instant::now();
    let err = md.wait_ready(Duration::from_millis(800)).await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(3));
    match &err {
        DockerError::Timeout { last, .. } => {
            assert!(last.to_lowercase().contains("refused"), "{last}")
        }
        other => panic!("{other}"),
    }
}

fn write_client_dir(dir: &Path, ca_pem: &str, client: &CertPair) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("ca.pem"), ca_pem).unwrap();
    std::fs::write(dir.join("cert.pem"), &client.cert_pem).unwrap();
    std::fs::write(dir.join("key.pem"), &client.key_pem).unwrap();
}
