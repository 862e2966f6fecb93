//! Token checks kept between requests. A token's check is reused while the store's
//! `tokens_version` stands still (any process that makes, revokes or removes a token
//! moves it) and for at most [`RECHECK`], so expiry is met within a second and a
//! revocation, wherever it happens, at the next request. One read of the store's
//! counters then serves a request that used to need a token lookup as well.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::api::{FleetAdmin, Identity, Result, StoreVersions};

/// The longest a check is reused (expiry is checked again after it).
const RECHECK: Duration = Duration::from_secs(1);
/// Tokens remembered at most; past it the memory starts over.
const MAX_ENTRIES: usize = 4096;

struct Checked {
    identity: Identity,
    tokens: u64,
    at: Instant,
}

#[derive(Default)]
pub(crate) struct AuthCache {
    checked: Mutex<HashMap<[u8; 32], Checked>>,
}

impl AuthCache {
    /// Who `secret` is: from a recent check while no token changed, else from the store.
    pub async fn identity(
        &self,
        fleet: &dyn FleetAdmin,
        secret: &str,
        versions: Option<StoreVersions>,
    ) -> Result<Identity> {
        let Some(versions) = versions else {
            return fleet.authenticate(secret).await;
        };
        let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        if let Ok(checked) = self.checked.lock() {
            if let Some(c) = checked.get(&key) {
                if c.tokens == versions.tokens && c.at.elapsed() < RECHECK {
                    return Ok(c.identity.clone());
                }
            }
        }
        let found = fleet.authenticate(secret).await;
        if let Ok(mut checked) = self.checked.lock() {
            match &found {
                Ok(identity) => {
                    if checked.len() >= MAX_ENTRIES {
                        checked.clear();
                    }
                    checked.insert(
                        key,
                        Checked {
                            identity: identity.clone(),
                            tokens: versions.tokens,
                            at: Instant::now(),
                        },
                    );
                }
                Err(_) => {
                    checked.remove(&key);
                }
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;

    use crate::client::{http_client, tls_config};
    use crate::engine::Local;
    use crate::paths::Paths;
    use crate::store::Store;

    /// A token revoked by another process sharing the store (another replica, the
    /// CLI) is refused at this server's next request, though its check was kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_kept_token_check_ends_when_any_process_revokes_the_token() {
        let home = tempfile::tempdir().unwrap();
        let local = Local::open(Paths::at(home.path()), Default::default())
            .await
            .unwrap();
        let token = super::super::follow_tests::viewer_token(&local, "reader").await;
        let srv = super::super::follow_tests::serve(&local, "127.0.0.1:0".parse().unwrap()).await;
        let (tls, _) = tls_config(Some(&srv.fingerprint)).unwrap();
        let http = http_client(tls).unwrap();
        let url = format!("https://{}/v1/machines", srv.addr);
        let status = |http: reqwest::Client, url: String, token: String| async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .expect("the server answers")
                .status()
        };
        for _ in 0..3 {
            assert_eq!(
                status(http.clone(), url.clone(), token.clone()).await,
                StatusCode::OK
            );
        }
        let other = Store::open(home.path()).await.unwrap();
        assert_eq!(other.revoke_token("reader").await.unwrap().len(), 1);
        assert_eq!(
            status(http.clone(), url.clone(), token.clone()).await,
            StatusCode::UNAUTHORIZED
        );
        // Nor does a wrong secret ride on a kept check.
        let wrong = format!("{}0", &token[..token.len() - 1]);
        assert_eq!(status(http, url, wrong).await, StatusCode::UNAUTHORIZED);
    }
}
