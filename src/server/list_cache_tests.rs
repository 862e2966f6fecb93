//! `GET /v1/machines` from the cache, on a real server over HTTPS: an unchanged list is
//! a 304, gzip is the same list, and a change made by any process sharing the store
//! (here a second store handle, as another CLI or replica would) is served at once.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use super::follow_tests::serve;
use crate::api::{Fleet, MachineState};
use crate::client::{http_client, tls_config};
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
    let token = super::follow_tests::viewer_token(&local, "reader").await;
    let srv = serve(&local, "127.0.0.1:0".parse().unwrap()).await;
    let (tls, _) = tls_config(Some(&srv.fingerprint)).unwrap();
    // The product's client asks for zstd and unpacks it; this one shows the wire.
    let product = http_client(tls.clone()).unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_zstd()
        .build()
        .unwrap();
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
    // Other bytes, so another strong tag (RFC 9110 8.8.3), made from the same digest.
    let zipped_tag = zipped_tag.expect("an ETag");
    assert_ne!(zipped_tag, etag);
    assert_eq!(zipped_tag, format!("{}-gzip\"", etag.trim_end_matches('"')));
    let mut unpacked = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut unpacked)
        .unwrap();
    assert_eq!(unpacked, plain);
    // zstd, when preferred (or tied with gzip): the same bytes once unpacked.
    let (status, zstd_tag, encoding, packed) =
        get(vec![(ACCEPT_ENCODING, "gzip, zstd".into())]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding.as_deref(), Some("zstd"));
    let zstd_tag = zstd_tag.expect("an ETag");
    assert!(![etag.as_str(), zipped_tag.as_str()].contains(&zstd_tag.as_str()));
    assert_eq!(zstd::decode_all(&packed[..]).unwrap(), plain);
    // A client holding the list in any coding has the current content: 304, with the
    // tag of the coding it asks for now.
    for held in [&etag, &zipped_tag, &zstd_tag] {
        let (status, tag, _, body) = get(vec![
            (ACCEPT_ENCODING, "zstd".into()),
            (IF_NONE_MATCH, held.clone()),
        ])
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "holding {held}");
        assert!(body.is_empty());
        assert_eq!(tag.as_deref(), Some(zstd_tag.as_str()));
    }
    // A tag that only looks like one of ours does not match.
    let (status, _, _, _) = get(vec![(
        IF_NONE_MATCH,
        format!("{}-br\"", etag.trim_end_matches('"')),
    )])
    .await;
    assert_eq!(status, StatusCode::OK);
    // flotilla's own client takes the list in zstd and reads the same bytes.
    let resp = product.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap().to_vec(), plain);

    // Another process changes a machine: the old tag no longer matches.
    let other = Store::open(home.path()).await.unwrap();
    other
        .set_state("a", MachineState::Stopped, None)
        .await
        .unwrap();
    let (status, changed, _, body) = get(vec![(IF_NONE_MATCH, etag.clone())]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, _, _) = get(vec![
        (ACCEPT_ENCODING, "zstd".into()),
        (IF_NONE_MATCH, zstd_tag.clone()),
    ])
    .await;
    assert_eq!(status, StatusCode::OK, "an old zstd tag no longer matches");
    assert_eq!(names(&body), ["a:stopped"]);
    assert_ne!(changed.as_deref(), Some(etag.as_str()));

    // The client keeps its list between calls and still sees every change.
    let (remote, _client_home) = super::follow_tests::client(&srv, &token).await;
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

/// Pages by name with a `Link` to the next, narrowed fields, each page revalidated by
/// its own ETag, and bad queries refused with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_machine_list_comes_in_pages_of_the_fields_asked_for() {
    let home = tempfile::tempdir().unwrap();
    let local = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    for i in 0..7 {
        let name = format!("m{i}");
        local
            .store()
            .insert_machine(&sample_machine(&name))
            .await
            .unwrap();
        local
            .store()
            .set_state(&name, MachineState::Running, None)
            .await
            .unwrap();
    }
    let token = super::follow_tests::viewer_token(&local, "reader").await;
    let srv = serve(&local, "127.0.0.1:0".parse().unwrap()).await;
    let (tls, _) = tls_config(Some(&srv.fingerprint)).unwrap();
    let http = http_client(tls).unwrap();
    let get = |path: String, etag: Option<String>| {
        let mut req = http
            .get(format!("https://{}{path}", srv.addr))
            .bearer_auth(&token);
        if let Some(tag) = etag {
            req = req.header(IF_NONE_MATCH, tag);
        }
        async move {
            let resp = req.send().await.expect("the server answers");
            let status = resp.status();
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .map(|v| v.to_str().unwrap().to_string())
            };
            let (etag, link) = (header("etag"), header("link"));
            let body = resp.bytes().await.unwrap().to_vec();
            (status, etag, link, body)
        }
    };

    // Follow the links from the first page of 3: every machine once, in name order.
    let mut path = "/v1/machines?limit=3&fields=name,state".to_string();
    let mut seen = Vec::new();
    let mut first_etag = None;
    for _ in 0..10 {
        let (status, etag, link, body) = get(path.clone(), None).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
        first_etag.get_or_insert(etag.expect("an ETag"));
        let page: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_slice(&body).unwrap();
        for m in &page {
            let keys: Vec<&String> = m.keys().collect();
            assert_eq!(keys, ["name", "state"], "only the fields asked for");
            seen.push(m["name"].as_str().unwrap().to_string());
        }
        match link {
            Some(link) => {
                let next = link
                    .strip_prefix('<')
                    .and_then(|l| l.split_once(">; rel=\"next\""))
                    .map(|(p, _)| p.to_string())
                    .expect("a next link");
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(seen, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);

    // A page is revalidated like the whole list.
    let first = "/v1/machines?limit=3&fields=name,state".to_string();
    let (status, _, _, body) = get(first.clone(), first_etag.clone()).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    local
        .store()
        .set_state("m1", MachineState::Stopped, None)
        .await
        .unwrap();
    let (status, _, _, body) = get(first, first_etag).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8_lossy(&body).contains("\"stopped\""));

    // After a name, every field; past the end, an empty page without a link.
    let (_, _, link, body) = get("/v1/machines?after=m5".into(), None).await;
    let rest: Vec<crate::api::Machine> = serde_json::from_slice(&body).unwrap();
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].name, "m6");
    assert_eq!(link, None);
    let (_, _, _, body) = get("/v1/machines?after=zz".into(), None).await;
    assert_eq!(body, b"[]");

    for (bad, says) in [
        ("/v1/machines?limit=0", "out of range"),
        ("/v1/machines?limit=10001", "out of range"),
        ("/v1/machines?fields=name,secret", "no field \\\"secret\\\""),
        ("/v1/machines?after=..%2Fx", "not a machine name"),
        ("/v1/machines?page=2", "page"),
    ] {
        let (status, _, _, body) = get(bad.into(), None).await;
        let text = String::from_utf8_lossy(&body).to_string();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {text}");
        assert!(text.contains(says), "{bad}: {text}");
    }
}

/// GET `url` asking for zstd: the answer is zstd, and this is the JSON list in it.
async fn zstd_json(http: &reqwest::Client, url: &str, token: &str) -> Vec<serde_json::Value> {
    let zstd = http
        .get(url)
        .bearer_auth(token)
        .header(ACCEPT_ENCODING, "zstd")
        .send()
        .await
        .unwrap();
    assert_eq!(
        zstd.headers()
            .get(CONTENT_ENCODING)
            .map(|v| v.to_str().unwrap()),
        Some("zstd"),
        "{url}"
    );
    let packed = zstd.bytes().await.unwrap();
    serde_json::from_slice(&zstd::decode_all(&packed[..]).unwrap()).unwrap()
}

/// `GET /v1/machine-briefs`: the machines in brief with their health in brief, in one
/// request, as the server's fleet reads them, without specs, driver data or metrics; revalidated and compressed as the list is. The client's `list_brief`
/// (what `ls` and the TUI's first frame read) uses it. `GET /v1/health` is compressed
/// the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn machines_in_brief_are_one_request_as_the_servers_fleet_reads_them() {
    use crate::api::{Health, HealthStatus, MachineBrief, Metrics};
    let home = tempfile::tempdir().unwrap();
    let local = Local::open(Paths::at(home.path()), Default::default())
        .await
        .unwrap();
    for (name, state) in [("a", MachineState::Running), ("b", MachineState::Stopped)] {
        let store = local.store();
        store.insert_machine(&sample_machine(name)).await.unwrap();
        store.set_state(name, state, None).await.unwrap();
    }
    local
        .store()
        .put_health(&[Health {
            status: HealthStatus::Degraded,
            observed: HealthStatus::Degraded,
            reasons: vec!["disk 93% full".into()],
            checked_ms: 1_700_000_000_000,
            metrics: Some(Metrics {
                cpu_percent: Some(42.0),
                ..Default::default()
            }),
            ..Health::unknown("a", None)
        }])
        .await
        .unwrap();
    let token = super::follow_tests::viewer_token(&local, "reader").await;
    let srv = serve(&local, "127.0.0.1:0".parse().unwrap()).await;

    let (remote, _client_home) = super::follow_tests::client(&srv, &token).await;
    let briefs = remote.list_brief().await.unwrap();
    // What the server's own fleet says in brief: a remote `ls` shows what a local one
    // does (a machine never checked has no health in brief, not an "unknown" made up).
    assert_eq!(briefs, local.list_brief().await.unwrap());
    assert!(briefs[1].health.is_none(), "{:?}", briefs[1]);
    // And the list and the health joined agree on every machine and its state.
    let joined = MachineBrief::with_health(
        &local.list().await.unwrap(),
        &local.health(&[], false).await.unwrap(),
    );
    let facts = |b: &[MachineBrief]| -> Vec<(String, MachineState)> {
        b.iter().map(|m| (m.name.clone(), m.state)).collect()
    };
    assert_eq!(facts(&briefs), facts(&joined));
    assert_eq!(briefs.len(), 2);
    let a = briefs[0].health.as_ref().expect("a's health in brief");
    assert_eq!(
        (a.status, a.reasons.as_slice()),
        (HealthStatus::Degraded, &["disk 93% full".to_string()][..])
    );

    // On the wire: no spec, driver data or metrics; an ETag to revalidate; zstd.
    let (tls, _) = tls_config(Some(&srv.fingerprint)).unwrap();
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .no_zstd()
        .build()
        .unwrap();
    let url = format!("https://{}/v1/machine-briefs", srv.addr);
    let resp = http.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let etag = resp.headers()[ETAG].to_str().unwrap().to_string();
    let body: Vec<serde_json::Value> = resp.json().await.unwrap();
    for m in &body {
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        for absent in ["spec", "driver_data", "ssh_user"] {
            assert!(!keys.contains(&absent), "{absent} in {m}");
        }
    }
    assert!(body[0]["health"].get("metrics").is_none(), "{}", body[0]);
    let again = http
        .get(&url)
        .bearer_auth(&token)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let unpacked = zstd_json(&http, &url, &token).await;
    assert_eq!(unpacked, body);
    // Without a token: refused, as every route but the version is.
    let anonymous = http.get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    // The whole health (what a remote TUI reads on every refresh) is compressed when
    // asked, and the same health.
    let health_url = format!("https://{}/v1/health", srv.addr);
    let plain: Vec<serde_json::Value> = http
        .get(&health_url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let unpacked = zstd_json(&http, &health_url, &token).await;
    assert_eq!(unpacked, plain);
    assert_eq!(plain.len(), 2, "{plain:?}");
    assert_eq!(
        remote.health(&[], false).await.unwrap(),
        local.health(&[], false).await.unwrap(),
        "the product's client reads it as the server's fleet has it"
    );

    srv.shutdown();
    tokio::time::timeout(Duration::from_secs(10), srv.wait())
        .await
        .expect("the server stops");
}
