//! Unit tests of the SSH client that need no server: what the types promise, and the
//! errors for a refused or silent port on loopback. Everything that needs a real sshd
//! lives in tests/ssh.rs.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::*;

const CONNECT: Duration = Duration::from_secs(10);

#[test]
fn session_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Session>();
    check::<SshError>();
}

#[tokio::test]
async fn closed_port_is_connect_error() {
    // Bound but not listening: connections are refused, and no other test
    // (nor an outgoing connection) can take the port meanwhile.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let port = socket.local_addr().expect("addr").port();
    let kp = generate_ed25519("x").expect("generate");
    let target = Target {
        host: "127.0.0.1",
        port,
        user: "root",
        private_key_pem: &kp.private_pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    match Session::connect(&target, CONNECT).await {
        Err(SshError::Connect { addr, reason }) => {
            assert_eq!(addr, format!("127.0.0.1:{port}"));
            assert!(reason.to_lowercase().contains("refused"), "{reason}");
        }
        other => panic!("expected Connect, got {other:?}"),
    }
    // connect_retry keeps trying until the deadline, then reports a timeout.
    let start = Instant::now();
    match Session::connect_retry(&target, Duration::from_millis(1500)).await {
        Err(SshError::Timeout(d, addr)) => {
            assert_eq!(d, Duration::from_millis(1500));
            assert_eq!(addr, format!("127.0.0.1:{port}"));
        }
        other => panic!("expected Timeout, got {other:?}"),
    }
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(5),
        "{took:?}"
    );
    drop(socket);
}

#[tokio::test]
async fn silent_server_times_out() {
    // Accepts TCP but never speaks SSH: the connect timeout must fire.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let kp = generate_ed25519("x").expect("generate");
    let target = Target {
        host: "127.0.0.1",
        port,
        user: "root",
        private_key_pem: &kp.private_pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    let start = Instant::now();
    let r = Session::connect(&target, Duration::from_millis(500)).await;
    assert!(matches!(r, Err(SshError::Timeout(..))), "{r:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    drop(listener);
}
