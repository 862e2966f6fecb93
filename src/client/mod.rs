//! `client::Remote`: `api::Fleet` over HTTPS against `flotilla serve`. The faces cannot
//! tell it from the embedded engine. TLS is rustls (ring); a self-signed server is
//! trusted by its pinned fingerprint.

mod events;
pub mod login;
mod pin;
pub mod settings;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::broadcast;

pub use pin::{fingerprint, normalize_fingerprint, PinVerifier};
pub use settings::ServerSettings;

use crate::api::{
    validate_operations_limit, AuditEntry, AuditQuery, Backend, ClientConfig, Error, Event,
    EventPage, EventQuery, Fleet, Health, HealthSample, Hint, Identity, Machine, MachineSpec,
    MachineState, MonitorSettings, NewToken, Operation, Result, Role, ScaleRequest, ServerInfo,
    SshAccess, SshCertRequest, Subject, Swarm, SwarmService, SwarmSpec, TokenInfo, TokenSpec,
    API_VERSION,
};
use crate::paths::{ensure_private_dir, write_private, Paths};

const VERSION_HEADER: &str = "flotilla-api-version";
const LAST_EVENT_HEADER: &str = "flotilla-last-event";

/// A fleet behind a server.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    url: String,
    token: Option<String>,
    http: reqwest::Client,
    /// The newest event id the server reported: where a new subscription starts.
    last_event: AtomicU64,
    feed: Mutex<Option<broadcast::Sender<Event>>>,
    /// Short-lived client certificates, per machine (files 0600).
    cert_cache: PathBuf,
    /// The terminal type interactive SSH sessions ask for.
    terminal: String,
}

/// The rustls client configuration: the pinned fingerprint when there is one, the
/// system's CAs otherwise. Returns the verifier too (for `login` to read what it saw).
pub fn tls_config(pin: Option<&str>) -> Result<(rustls::ClientConfig, Option<Arc<PinVerifier>>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("tls: {e}")))?;
    match pin {
        Some(p) => {
            let fp = normalize_fingerprint(p)
                .ok_or_else(|| Error::invalid(format!("{p:?} is not a sha256 fingerprint")))?;
            let verifier = Arc::new(PinVerifier::new(Some(fp), provider));
            let cfg = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth();
            Ok((cfg, Some(verifier)))
        }
        None => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            Ok((
                builder.with_root_certificates(roots).with_no_client_auth(),
                None,
            ))
        }
    }
}

/// A TLS configuration that accepts any certificate while recording its fingerprint:
/// `login` uses it once, to show the user what to pin.
pub fn tls_config_capture() -> Result<(rustls::ClientConfig, Arc<PinVerifier>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(PinVerifier::new(None, provider.clone()));
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::internal(format!("tls: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(verifier.clone())
        .with_no_client_auth();
    Ok((cfg, verifier))
}

pub fn http_client(tls: rustls::ClientConfig) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        .connect_timeout(Duration::from_secs(10))
        .tcp_keepalive(Duration::from_secs(30))
        .user_agent(concat!("flotilla/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| Error::internal(format!("cannot make an HTTP client: {e}")))
}

/// Every cause of an error, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        cur = s.source();
    }
    out
}

/// Percent-encodes one path segment.
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Remote {
    /// Connects to the server and checks it speaks this client's API version.
    /// `terminal` is the terminal type interactive SSH sessions ask hosts for.
    pub async fn connect(
        settings: &ServerSettings,
        paths: &Paths,
        terminal: &str,
    ) -> Result<Remote> {
        let (tls, _) = tls_config(settings.fingerprint.as_deref())?;
        let http = http_client(tls)?;
        let key =
            hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(settings.url.as_bytes())[..6]);
        let remote = Remote {
            inner: Arc::new(Inner {
                url: settings.url.clone(),
                token: settings.token.clone(),
                http,
                last_event: AtomicU64::new(0),
                feed: Mutex::new(None),
                cert_cache: paths.data_dir.join("remote").join(key).join("certs"),
                terminal: terminal.to_string(),
            }),
        };
        let info = remote.server_info().await?;
        if info.api_version != API_VERSION {
            return Err(version_mismatch(&info.api_version));
        }
        Ok(remote)
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// `GET /v1/version` (no token needed).
    pub async fn server_info(&self) -> Result<ServerInfo> {
        self.inner
            .call(Method::GET, "/v1/version", None::<&()>)
            .await
    }

    /// Who the token belongs to.
    pub async fn whoami(&self) -> Result<Identity> {
        self.inner
            .call(Method::GET, "/v1/whoami", None::<&()>)
            .await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.inner.call(Method::GET, path, None::<&()>).await
    }

    async fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.inner.call(Method::POST, path, Some(body)).await
    }
}

fn version_mismatch(theirs: &str) -> Error {
    Error::invalid(format!(
        "the server speaks API v{theirs} and this flotilla ({}) speaks v{API_VERSION}: use a flotilla of the server's version",
        env!("CARGO_PKG_VERSION")
    ))
}

impl Inner {
    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .header(VERSION_HEADER, API_VERSION);
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        req
    }

    fn unreachable(&self, e: &reqwest::Error) -> Error {
        Error::unavailable(format!(
            "cannot reach the flotilla server at {}: {}",
            self.url,
            chain(e)
        ))
        .about(Subject::Server(self.url.clone()))
        .hint(Hint::Retry)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        if let Some(v) = resp.headers().get(VERSION_HEADER) {
            let theirs = v.to_str().unwrap_or("?");
            if theirs != API_VERSION {
                return Err(version_mismatch(theirs));
            }
        }
        if let Some(id) = resp
            .headers()
            .get(LAST_EVENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.last_event.fetch_max(id, Ordering::Relaxed);
        }
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        Err(match serde_json::from_str::<Error>(&text) {
            Ok(e) => e,
            Err(_) => {
                let text: String = text.chars().take(200).collect();
                match status {
                    StatusCode::UNAUTHORIZED => {
                        Error::unauthorized(format!("the server refused the token: {text}"))
                    }
                    _ => Error::internal(format!("the server answered {status}: {text}")),
                }
            }
        })
    }

    async fn call<T: DeserializeOwned, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = self.send(req).await?;
        let bytes = resp.bytes().await.map_err(|e| self.unreachable(&e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::internal(format!(
                "the server's answer to {path} is not what this flotilla expects ({e}): are both the same version?"
            ))
        })
    }

    async fn call_empty<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<()> {
        let mut req = self.request(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await.map(|_| ())
    }
}

/// A cached certificate is renewed when less than this share of its life is left.
const RENEW_AT: f64 = 0.2;

impl Remote {
    fn cached_cert(&self, name: &str) -> Option<ClientConfig> {
        let path = self.inner.cert_cache.join(format!("{name}.json"));
        let text = std::fs::read_to_string(path).ok()?;
        let cfg: ClientConfig = serde_json::from_str(&text).ok()?;
        let (from, until) = validity(&cfg.cert_pem)?;
        let now = crate::api::now_ms() / 1000;
        let left = until - now;
        let life = (until - from).max(1);
        (left as f64 > life as f64 * RENEW_AT && left > 30).then_some(cfg)
    }

    fn cache_cert(&self, cfg: &ClientConfig) {
        let dir = &self.inner.cert_cache;
        let saved = ensure_private_dir(dir).and_then(|_| {
            let json = serde_json::to_vec(cfg).unwrap_or_default();
            write_private(&dir.join(format!("{}.json", cfg.machine)), &json)
        });
        if let Err(e) = saved {
            tracing::warn!("cannot cache the certificate in {}: {e}", dir.display());
        }
    }
}

/// notBefore and notAfter (Unix seconds) of a PEM certificate.
pub fn validity(cert_pem: &str) -> Option<(i64, i64)> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    let v = cert.validity();
    Some((v.not_before.timestamp(), v.not_after.timestamp()))
}

#[async_trait]
impl Fleet for Remote {
    async fn list(&self) -> Result<Vec<Machine>> {
        self.get_json("/v1/machines").await
    }

    async fn get(&self, name: &str) -> Result<Machine> {
        self.get_json(&format!("/v1/machines/{}", seg(name))).await
    }

    async fn create(&self, spec: MachineSpec) -> Result<Operation> {
        self.post_json("/v1/machines", &spec).await
    }

    async fn remove(&self, name: &str, force: bool) -> Result<Operation> {
        self.inner
            .call(
                Method::DELETE,
                &format!("/v1/machines/{}?force={force}", seg(name)),
                None::<&()>,
            )
            .await
    }

    async fn provision(&self, name: &str, trust_new_host_key: bool) -> Result<Operation> {
        self.post_json(
            &format!("/v1/machines/{}/provision", seg(name)),
            &serde_json::json!({ "trust_new_host_key": trust_new_host_key }),
        )
        .await
    }

    async fn regenerate_certs(&self, name: &str, client: bool) -> Result<Operation> {
        self.post_json(
            &format!("/v1/machines/{}/regenerate-certs", seg(name)),
            &serde_json::json!({ "client": client }),
        )
        .await
    }

    async fn start(&self, name: &str) -> Result<Machine> {
        self.post_json(&format!("/v1/machines/{}/start", seg(name)), &())
            .await
    }

    async fn stop(&self, name: &str) -> Result<Machine> {
        self.post_json(&format!("/v1/machines/{}/stop", seg(name)), &())
            .await
    }

    async fn restart(&self, name: &str) -> Result<Machine> {
        self.post_json(&format!("/v1/machines/{}/restart", seg(name)), &())
            .await
    }

    async fn kill(&self, name: &str) -> Result<Machine> {
        self.post_json(&format!("/v1/machines/{}/kill", seg(name)), &())
            .await
    }

    async fn status(&self, name: &str) -> Result<MachineState> {
        self.get_json(&format!("/v1/machines/{}/status", seg(name)))
            .await
    }

    /// A client certificate made for this token's user, valid for a short time: cached
    /// under the data dir (0600) and renewed when most of its life is gone.
    async fn client_config(&self, name: &str) -> Result<ClientConfig> {
        if let Some(cfg) = self.cached_cert(name) {
            return Ok(cfg);
        }
        let cfg: ClientConfig = self
            .post_json(&format!("/v1/machines/{}/client-config", seg(name)), &())
            .await?;
        self.cache_cert(&cfg);
        Ok(cfg)
    }

    /// A fresh key made here and an OpenSSH certificate for it signed by the server:
    /// the machine's own key never leaves the server.
    async fn ssh_access(&self, name: &str) -> Result<SshAccess> {
        let key = crate::ssh::generate_ed25519("flotilla-remote-session")
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut access: SshAccess = self
            .post_json(
                &format!("/v1/machines/{}/ssh-access", seg(name)),
                &SshCertRequest {
                    public_key: key.public_line.clone(),
                },
            )
            .await?;
        access.private_key_pem = key.private_pem;
        Ok(access)
    }

    async fn ssh_attach(&self, name: &str, command: &[String]) -> Result<u32> {
        let access = self.ssh_access(name).await?;
        crate::ssh::attach(&access, command, &self.inner.terminal)
            .await
            .map_err(|e| crate::ssh::api_error(name, e))
    }

    async fn backend(&self) -> Result<Backend> {
        let (info, me) = tokio::try_join!(self.server_info(), self.whoami())?;
        Ok(Backend {
            location: self.inner.url.clone(),
            user: Some(me.name),
            role: me.role,
            fleet_id: info.fleet_id,
        })
    }

    async fn operation(&self, id: &str) -> Result<Operation> {
        self.get_json(&format!("/v1/operations/{}", seg(id))).await
    }

    async fn operations(&self, limit: u32) -> Result<Vec<Operation>> {
        let limit = validate_operations_limit(limit)?;
        self.get_json(&format!("/v1/operations?limit={limit}"))
            .await
    }

    async fn cancel(&self, id: &str) -> Result<()> {
        self.inner
            .call_empty(
                Method::POST,
                &format!("/v1/operations/{}/cancel", seg(id)),
                None::<&()>,
            )
            .await
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        events::subscribe(&self.inner)
    }

    async fn events(&self, query: EventQuery) -> Result<EventPage> {
        let mut q = vec![format!("limit={}", query.limit)];
        if let Some(a) = query.after {
            q.push(format!("after={a}"));
        }
        if let Some(s) = query.since_ms {
            q.push(format!("since_ms={s}"));
        }
        self.get_json(&format!("/v1/events?{}", q.join("&"))).await
    }

    async fn health(&self, names: &[String], check_now: bool) -> Result<Vec<Health>> {
        let names: Vec<String> = names.iter().map(|n| seg(n)).collect();
        self.get_json(&format!(
            "/v1/health?names={}&check_now={check_now}",
            names.join(",")
        ))
        .await
    }

    async fn health_history(&self, name: &str) -> Result<Vec<HealthSample>> {
        self.get_json(&format!("/v1/machines/{}/health-history", seg(name)))
            .await
    }

    /// A server runs its own monitor; this reconfigures it (operator).
    async fn start_monitor(&self, settings: MonitorSettings) -> Result<()> {
        self.inner
            .call_empty(Method::POST, "/v1/monitor", Some(&settings))
            .await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.get_json("/v1/tokens").await
    }

    async fn token_create(&self, spec: TokenSpec) -> Result<NewToken> {
        self.post_json("/v1/tokens", &spec).await
    }

    async fn token_revoke(&self, id_or_name: &str) -> Result<TokenInfo> {
        self.inner
            .call(
                Method::DELETE,
                &format!("/v1/tokens/{}", seg(id_or_name)),
                None::<&()>,
            )
            .await
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        let mut q = Vec::new();
        if let Some(s) = query.since_ms {
            q.push(format!("since_ms={s}"));
        }
        if let Some(l) = query.limit {
            q.push(format!("limit={l}"));
        }
        self.get_json(&format!("/v1/audit?{}", q.join("&"))).await
    }

    async fn swarm_create(&self, spec: SwarmSpec) -> Result<Operation> {
        self.post_json("/v1/swarms", &spec).await
    }

    async fn swarm_list(&self) -> Result<Vec<Swarm>> {
        self.get_json("/v1/swarms").await
    }

    async fn swarm_get(&self, name: &str) -> Result<Swarm> {
        self.get_json(&format!("/v1/swarms/{}", seg(name))).await
    }

    async fn swarm_scale(&self, name: &str, req: ScaleRequest) -> Result<Operation> {
        self.post_json(&format!("/v1/swarms/{}/scale", seg(name)), &req)
            .await
    }

    async fn swarm_join(&self, name: &str, machine: &str, role: Role) -> Result<Operation> {
        self.post_json(
            &format!("/v1/swarms/{}/join", seg(name)),
            &serde_json::json!({ "machine": machine, "role": role }),
        )
        .await
    }

    async fn swarm_rotate_tokens(&self, name: &str) -> Result<()> {
        self.inner
            .call_empty(
                Method::POST,
                &format!("/v1/swarms/{}/rotate-tokens", seg(name)),
                None::<&()>,
            )
            .await
    }

    async fn swarm_remove(&self, name: &str, force: bool) -> Result<Operation> {
        self.inner
            .call(
                Method::DELETE,
                &format!("/v1/swarms/{}?force={force}", seg(name)),
                None::<&()>,
            )
            .await
    }

    async fn swarm_client_config(&self, name: &str) -> Result<ClientConfig> {
        self.post_json(&format!("/v1/swarms/{}/client-config", seg(name)), &())
            .await
    }

    async fn swarm_services(&self, name: &str) -> Result<Vec<SwarmService>> {
        self.get_json(&format!("/v1/swarms/{}/services", seg(name)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("web-1"), "web-1");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }

    #[test]
    fn errors_with_extra_fields_still_parse() {
        let e: Error = serde_json::from_str(
            r#"{"kind":"forbidden","message":"needs operator","required_role":"operator"}"#,
        )
        .unwrap();
        assert_eq!(e, Error::forbidden("needs operator"));
    }
}
