//! `GET /v1/machines` from the cache, on a real server over HTTPS: an unchanged list is
//! a 304, gzip is the same list, and a change made by any process sharing the store
//! (here a second store handle, as another CLI or replica would) is served at once.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use super::follow_tests::serve;
use crate::api::{AccessRole, Fleet, FleetAdmin, MachineState, TokenSpec};
use crate::client::{http_client, tls_config, Remote, ServerSettings};
use crate::engine::Local;
use crate::paths::Paths;
use crate::store::tests::sample_machine;
use crate::store::Store;

fn names(body: &[u8]) -> Vec<String> {
    let list: Vec<serde_json::Value> = serde_json::from_slice(body).expect("a JSON list");
    list.iter()
        .map(|m| {
            format!(
                "{}:{}",
                m["name"].as_str().unwrap(),
                m["state"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_list_is_revalidated_zipped_and_follows_every_change() {
    let home = tempfile::tempdir().unwrap();
    let local = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    local
        .store()
        .insert_machine(&sample_machine("a"))
        .await
        .unwrap();
    // Settled, so the server keeps its serialized list (a transitional one is redone).
    local
        .store()
        .set_state("a", MachineState::Running, None)
        .await
        .unwrap();
    let token = local
        .token_create(TokenSpec {
            name: "reader".into(),
            role: AccessRole::Viewer,
            ttl_secs: None,
        })
        .await
        .unwrap()
        .token;
    let srv = serve(&local, "127.0.0.1:0".parse().unwrap()).await;
    let (tls, _) = tls_config(Some(&srv.fingerprint)).unwrap();
    let http = http_client(tls).unwrap();
    let url = format!("https://{}/v1/machines", srv.addr);
    let get = |headers: Vec<(reqwest::header::HeaderName, String)>| {
        let mut req = http.get(&url).bearer_auth(&token);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        async move {
            let resp = req.send().await.expect("the server answers");
            let status = resp.status();
            let header = |n| {
                resp.headers()
                    .get(n)
                    .map(|v: &reqwest::header::HeaderValue| v.to_str().unwrap().to_string())
            };
            let (etag, encoding) = (header(ETAG), header(CONTENT_ENCODING));
            let body = resp.bytes().await.unwrap().to_vec();
            (status, etag, encoding, body)
        }
    };

    let (status, etag, encoding, plain) = get(vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding, None);
    assert_eq!(names(&plain), ["a:running"]);
    let etag = etag.expect("an ETag");

    // Unchanged: a 304 without a body, the same tag.
    let (status, again, _, body) = get(vec![(IF_NONE_MATCH, etag.clone())]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(again.as_deref(), Some(etag.as_str()));

    // gzip, when asked: the same bytes once unpacked.
    let (status, zipped_tag, encoding, zipped) =
        get(vec![(ACCEPT_ENCODING, "br, gzip".into())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding.as_deref(), Some("gzip"));
    assert_eq!(zipped_tag.as_deref(), Some(etag.as_str()));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);

    // Another process changes a machine: the old tag no longer matches.
    let other = Store::open(home.path()).await.unwrap();
    other
        .set_state("a", MachineState::Stopped, None)
        .await
        .unwrap();
    let (status, changed, _, body) = get(vec![(IF_NONE_MATCH, etag.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["a:stopped"]);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));

    // The client keeps its list between calls and still sees every change.
    let client_home = tempfile::tempdir().unwrap();
    let remote = Remote::connect(
        &ServerSettings {
            url: format!("https://{}", srv.addr),
            more_urls: Vec::new(),
            token: Some(token.clone()),
            fingerprint: Some(srv.fingerprint.clone()),
        },
        &Paths::at(client_home.path()),
        "xterm",
    )
    .await
    .unwrap();
    let listed = |list: Vec<crate::api::Machine>| -> Vec<String> {
        list.into_iter()
            .map(|m| format!("{}:{}", m.name, m.state.as_str()))
            .collect()
    };
    assert_eq!(listed(remote.list().await.unwrap()), ["a:Stopped"]);
    assert_eq!(listed(remote.list().await.unwrap()), ["a:Stopped"]);
    other.insert_machine(&sample_machine("b")).await.unwrap();
    assert_eq!(
        listed(remote.list().await.unwrap()),
        ["a:Stopped", "b:Creating"]
    );
    srv.shutdown();
    tokio::time::timeout(Duration::from_secs(10), srv.wait())
        .await
        .expect("the server stops");
}
