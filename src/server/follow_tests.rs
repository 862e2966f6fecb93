//! The one event follower (`api::follow`) against both backends, with what breaks
//! followers in practice: a consumer too slow for the live feed (a forced lag),
//! another process writing to the same store, and a server that goes away and comes
//! back. Nothing may be lost, nothing printed twice, and the follower must not end.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};

use crate::api::{
    follow, newest_event_id, AccessRole, Event, EventKind, Fleet, FleetAdmin, FollowFrom, TokenSpec,
};
use crate::client::{Remote, ServerSettings};
use crate::engine::Local;
use crate::paths::Paths;
use crate::server::{self, ServeOptions, TlsSource};

fn marker(i: usize) -> EventKind {
    EventKind::MachineCreated {
        machine: format!("m{i}"),
    }
}

/// Reads until `want` distinct markers arrived (or the bound passes), counting each.
async fn collect(
    stream: &mut (impl Stream<Item = crate::api::Result<Event>> + Unpin),
    want: usize,
    bound: Duration,
) -> (BTreeMap<String, usize>, usize) {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut errors = 0;
    let deadline = tokio::time::Instant::now() + bound;
    while seen.len() < want {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(ev))) => {
                if let EventKind::MachineCreated { machine } = ev.kind {
                    *seen.entry(machine).or_default() += 1;
                }
            }
            Ok(Some(Err(_))) => errors += 1,
            Ok(None) => panic!("the follower ended"),
            Err(_) => break,
        }
    }
    // Anything arriving late would be a duplicate: give it a moment to show.
    while let Ok(Some(Ok(ev))) =
        tokio::time::timeout(Duration::from_millis(1500), stream.next()).await
    {
        if let EventKind::MachineCreated { machine } = ev.kind {
            *seen.entry(machine).or_default() += 1;
        }
    }
    (seen, errors)
}

fn assert_exactly_once(seen: &BTreeMap<String, usize>, range: std::ops::Range<usize>) {
    let missing: Vec<usize> = range
        .clone()
        .filter(|i| !seen.contains_key(&format!("m{i}")))
        .collect();
    assert!(
        missing.is_empty(),
        "lost {} events: {missing:?}",
        missing.len()
    );
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");
    assert_eq!(seen.len(), range.len(), "unexpected extra events");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_follower_survives_a_lag_and_sees_other_processes() {
    let home = tempfile::tempdir().unwrap();
    let local = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    let fleet: Arc<dyn Fleet> = Arc::new(local.clone());
    let start = newest_event_id(&*fleet).await.unwrap();
    let stream = follow(fleet.clone(), FollowFrom::after(start));
    futures::pin_mut!(stream);

    // Far more than the live feed holds (1024), while nobody reads: a forced lag.
    for i in 0..3000 {
        local.emit_for_test(marker(i));
    }
    // Another process on the same store (its own engine, its own live feed): only the
    // log carries its events here.
    let other = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    for i in 3000..3200 {
        other.emit_for_test(marker(i));
    }
    other.flush_events_for_test().await;
    local.flush_events_for_test().await;

    let (seen, errors) = collect(&mut stream, 3200, Duration::from_secs(60)).await;
    assert_eq!(errors, 0);
    assert_exactly_once(&seen, 0..3200);
}

/// A new viewer token of the fleet, its secret.
pub(super) async fn viewer_token(local: &Local, name: &str) -> String {
    local
        .token_create(TokenSpec {
            name: name.into(),
            role: AccessRole::Viewer,
            ttl_secs: None,
        })
        .await
        .unwrap()
        .token
}

/// The product's client of `srv` with `token`, in a home of its own (kept alive by the
/// returned directory).
pub(super) async fn client(srv: &server::Server, token: &str) -> (Remote, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let remote = Remote::connect(
        &ServerSettings {
            url: format!("https://{}", srv.addr),
            more_urls: Vec::new(),
            token: Some(token.to_string()),
            fingerprint: Some(srv.fingerprint.clone()),
        },
        &Paths::at(home.path()),
        "xterm",
    )
    .await
    .expect("client connects");
    (remote, home)
}

pub(super) async fn serve(local: &Local, listen: SocketAddr) -> server::Server {
    server::start(
        local.clone(),
        ServeOptions {
            listen,
            tls: TlsSource::SelfSigned { extra_sans: vec![] },
            client_cert_ttl: Duration::from_secs(3600),
            ssh_cert_ttl: Duration::from_secs(3600),
            monitor: false,
            monitor_settings: Default::default(),
            replica_name: None,
        },
    )
    .await
    .expect("server starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_follower_survives_a_lag_and_a_server_restart() {
    let home = tempfile::tempdir().unwrap();
    let local = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    let token = local
        .token_create(TokenSpec {
            name: "watcher".into(),
            role: AccessRole::Viewer,
            ttl_secs: None,
        })
        .await
        .unwrap();
    let srv = serve(&local, "127.0.0.1:0".parse().unwrap()).await;
    let addr = srv.addr;
    let (remote, _client_home) = client(&srv, &token.token).await;
    let fleet: Arc<dyn Fleet> = Arc::new(remote);
    let start = newest_event_id(&*fleet).await.unwrap();
    let stream = follow(fleet.clone(), FollowFrom::after(start));
    futures::pin_mut!(stream);

    // A lag: more than the client's live feed holds, while nobody reads.
    for i in 0..2500 {
        local.emit_for_test(marker(i));
    }
    local.flush_events_for_test().await;
    let (seen, _) = collect(&mut stream, 2500, Duration::from_secs(60)).await;
    assert_exactly_once(&seen, 0..2500);

    // The server goes away; events keep being recorded meanwhile; it comes back on the
    // same address. The follower says it cannot reach the server, then resumes.
    srv.shutdown();
    srv.wait().await;
    for i in 2500..2700 {
        local.emit_for_test(marker(i));
    }
    local.flush_events_for_test().await;
    // Events may still come over the closing stream for a moment; then the follower
    // reports that it cannot reach the server (and does not end).
    let mut during: BTreeMap<String, usize> = BTreeMap::new();
    let mut outage_errors = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while outage_errors == 0 {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Err(e))) => {
                assert_eq!(e.kind(), crate::api::ErrorKind::Unavailable, "{e}");
                outage_errors += 1;
            }
            Ok(Some(Ok(ev))) => {
                if let EventKind::MachineCreated { machine } = ev.kind {
                    *during.entry(machine).or_default() += 1;
                }
            }
            Ok(None) => panic!("the follower ended"),
            Err(_) => panic!("the outage was not reported within 30s"),
        }
    }
    let srv = serve(&local, addr).await;
    for i in 2700..2800 {
        local.emit_for_test(marker(i));
    }
    local.flush_events_for_test().await;
    let (mut seen, _) = collect(&mut stream, 300 - during.len(), Duration::from_secs(60)).await;
    for (m, n) in during {
        *seen.entry(m).or_default() += n;
    }
    assert_exactly_once(&seen, 2500..2800);
    srv.shutdown();
}

/// Two replicas (two engines on one store, each serving): a client given both URLs
/// follows through the first; the first goes away; requests and the event stream move
/// to the second, which resumes after the last id seen: nothing lost, nothing twice.
/// The replicas see each other, and the one that left is gone from the list at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_follower_moves_to_the_next_replica() {
    let home = tempfile::tempdir().unwrap();
    let a = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    let b = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    let token = a
        .token_create(TokenSpec {
            name: "watcher".into(),
            role: AccessRole::Viewer,
            ttl_secs: None,
        })
        .await
        .unwrap();
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let srv_a = serve(&a, any).await;
    let srv_b = serve(&b, any).await;
    assert_eq!(
        srv_a.fingerprint, srv_b.fingerprint,
        "one certificate, from the store"
    );
    assert_ne!(srv_a.replica, srv_b.replica);
    let (url_a, url_b) = (
        format!("https://{}", srv_a.addr),
        format!("https://{}", srv_b.addr),
    );
    let client_home = tempfile::tempdir().unwrap();
    let remote = Remote::connect(
        &ServerSettings {
            url: url_a.clone(),
            more_urls: vec![url_b.clone()],
            token: Some(token.token.clone()),
            fingerprint: Some(srv_a.fingerprint.clone()),
        },
        &Paths::at(client_home.path()),
        "xterm",
    )
    .await
    .expect("client connects");
    let mut names: Vec<String> = remote
        .replicas()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    names.sort();
    let mut want = vec![srv_a.replica.clone(), srv_b.replica.clone()];
    want.sort();
    assert_eq!(names, want);

    let fleet: Arc<dyn Fleet> = Arc::new(remote.clone());
    let start = newest_event_id(&*fleet).await.unwrap();
    let stream = follow(fleet.clone(), FollowFrom::after(start));
    futures::pin_mut!(stream);
    for i in 0..300 {
        a.emit_for_test(marker(i));
    }
    a.flush_events_for_test().await;
    let (seen, _) = collect(&mut stream, 300, Duration::from_secs(60)).await;
    assert_exactly_once(&seen, 0..300);
    assert_eq!(remote.url(), url_a);

    // A goes away (its engine lives on and keeps recording, as a process on the same
    // store would); B records more.
    let gone = srv_a.replica.clone();
    srv_a.shutdown();
    srv_a.wait().await;
    for i in 300..450 {
        a.emit_for_test(marker(i));
        b.emit_for_test(marker(i + 150));
    }
    a.flush_events_for_test().await;
    b.flush_events_for_test().await;
    let (seen, _) = collect(&mut stream, 300, Duration::from_secs(60)).await;
    assert_exactly_once(&seen, 300..600);
    assert_eq!(
        remote.url(),
        url_b,
        "the client moved to the second replica"
    );
    let left: Vec<String> = remote
        .replicas()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        left,
        std::slice::from_ref(&srv_b.replica),
        "{gone} left the list"
    );
    // A request that finds no replica at all names each one it tried.
    srv_b.shutdown();
    srv_b.wait().await;
    let err = remote.list().await.unwrap_err();
    assert_eq!(err.kind(), crate::api::ErrorKind::Unavailable, "{err}");
    assert!(
        err.message.contains(&url_a) && err.message.contains(&url_b),
        "{err}"
    );
}
