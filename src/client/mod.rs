//! `client::Remote`: `api::Fleet` over HTTPS against `flotilla serve`. The faces cannot
//! tell it from the embedded engine. TLS is rustls (ring); a self-signed server is
//! trusted by its pinned fingerprint.

mod events;
pub mod login;
mod pin;
pub mod settings;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::broadcast;

pub use pin::{fingerprint, normalize_fingerprint, PinVerifier};
pub use settings::ServerSettings;

use crate::api::rest::{
    routes, ForceQuery, HealthQuery, JoinBody, OperationsQuery, ProvisionBody, RegenerateBody,
    LAST_EVENT_HEADER, VERSION_HEADER,
};
use crate::api::{
    validate_operations_limit, AuditEntry, AuditPruned, AuditQuery, AuditRecord, AuditRetention,
    Backend, ClientConfig, Error, ErrorKind, Event, EventPage, EventQuery, Fleet, FleetAdmin,
    Grant, Health, HealthSample, Hint, Identity, Machine, MachineBrief, MachineSpec, MachineState,
    MonitorSettings, NewToken, Operation, Result, Role, ScaleRequest, ServerInfo, SshAccess,
    SshCertRequest, SshLogin, Subject, Swarm, SwarmService, SwarmSpec, TokenInfo, TokenSpec,
    API_VERSION,
};
use crate::paths::{ensure_private_dir, write_private, Paths};

/// A fleet behind a server.
#[derive(Clone)]
pub struct Remote {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The server's replicas in the order given (one for a lone server): requests go
    /// to `active`, and move to the next when it cannot be reached.
    urls: Vec<String>,
    active: AtomicUsize,
    token: Option<String>,
    http: reqwest::Client,
    /// The newest event id the server reported: where a new subscription starts.
    last_event: AtomicU64,
    feed: Mutex<Option<broadcast::Sender<Event>>>,
    /// Short-lived client certificates, per machine (files 0600).
    cert_cache: PathBuf,
    /// The terminal type interactive SSH sessions ask for.
    terminal: String,
    /// The last machine list with its ETag: revalidated, a 304 when unchanged.
    machine_list: Mutex<Option<(String, Arc<Vec<Machine>>)>>,
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
        let mut urls = vec![settings.url.clone()];
        urls.extend(settings.more_urls.iter().cloned());
        let remote = Remote {
            inner: Arc::new(Inner {
                urls,
                active: AtomicUsize::new(0),
                token: settings.token.clone(),
                http,
                last_event: AtomicU64::new(0),
                feed: Mutex::new(None),
                cert_cache: paths.data_dir.join("remote").join(key).join("certs"),
                terminal: terminal.to_string(),
                machine_list: Mutex::new(None),
            }),
        };
        let info = remote.server_info().await?;
        if info.api_version != API_VERSION {
            return Err(version_mismatch(&info.api_version));
        }
        Ok(remote)
    }

    /// The replica requests go to now.
    pub fn url(&self) -> &str {
        self.inner.base().1
    }

    /// `GET /v1/version` (no token needed).
    pub async fn server_info(&self) -> Result<ServerInfo> {
        self.get_json(&routes::VERSION.at(&[])).await
    }

    /// Who the token belongs to.
    pub async fn whoami(&self) -> Result<Identity> {
        self.get_json(&routes::WHOAMI.at(&[])).await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.inner
            .call(Method::GET, path, None::<&()>, None::<&()>)
            .await
    }

    /// GET with a query string serialized from the api's query struct.
    async fn get_query<T: DeserializeOwned, Q: Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T> {
        self.inner
            .call(Method::GET, path, Some(query), None::<&()>)
            .await
    }

    async fn delete_query<T: DeserializeOwned, Q: Serialize>(
        &self,
        path: &str,
        query: &Q,
    ) -> Result<T> {
        self.inner
            .call(Method::DELETE, path, Some(query), None::<&()>)
            .await
    }

    async fn post_json<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T> {
        self.inner
            .call(Method::POST, path, None::<&()>, Some(body))
            .await
    }
}

fn version_mismatch(theirs: &str) -> Error {
    Error::invalid(format!(
        "the server speaks API v{theirs} and this flotilla ({}) speaks v{API_VERSION}: use a flotilla of the server's version",
        env!("CARGO_PKG_VERSION")
    ))
}

/// A server's whole answer: what `Inner::send` hands back.
struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: axum::body::Bytes,
}

impl Inner {
    /// The replica in use: its index and base URL.
    fn base(&self) -> (usize, &str) {
        let i = self.active.load(Ordering::Relaxed) % self.urls.len();
        (i, &self.urls[i])
    }

    /// Moves from replica `i` to the next when `i` is still the one in use (several
    /// requests may find it down at once: it moves once).
    fn fail_over(&self, i: usize) {
        let n = self.urls.len();
        if n < 2 {
            return;
        }
        let next = (i + 1) % n;
        if self
            .active
            .compare_exchange(i, next, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            tracing::warn!(
                "the flotilla server at {} cannot be reached: using {}",
                self.urls[i],
                self.urls[next]
            );
        }
    }

    /// A request to `path` on the replica at `base`, carrying `token` (not necessarily
    /// this client's).
    fn request_at(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{base}{path}"))
            .header(VERSION_HEADER, API_VERSION);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req
    }

    /// A request with this client's token to the replica in use (the event stream).
    fn request(&self, method: Method, path: &str) -> (usize, reqwest::RequestBuilder) {
        let (i, base) = self.base();
        (
            i,
            self.request_at(base, method, path, self.token.as_deref()),
        )
    }

    fn unreachable(&self, failures: &[(String, String)]) -> Error {
        let msg = match failures {
            [(url, why)] => format!("cannot reach the flotilla server at {url}: {why}"),
            _ => format!(
                "cannot reach any replica of the flotilla server: {}",
                failures
                    .iter()
                    .map(|(u, why)| format!("{u}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        let url = failures
            .first()
            .map(|(u, _)| u.clone())
            .unwrap_or_else(|| self.urls[0].clone());
        Error::unavailable(msg)
            .about(Subject::Server(url))
            .hint(Hint::Retry)
    }

    /// Sends the request `build` makes for a replica's base URL to the replica in use
    /// and reads the answer. When nothing answers (the connection failed) it moves to
    /// the next replica and sends again, each replica at most once; an HTTP answer,
    /// whatever its status, is the answer. A connection that broke after the request
    /// went out is sent again only when `idempotent` (a POST may have been done).
    async fn send(
        &self,
        idempotent: bool,
        build: impl Fn(&str) -> reqwest::RequestBuilder,
    ) -> Result<Answer> {
        let n = self.urls.len();
        let (mut i, _) = self.base();
        let mut failures: Vec<(String, String)> = Vec::new();
        for _ in 0..n {
            let base = self.urls[i].as_str();
            let broke = match build(base).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let headers = resp.headers().clone();
                    match resp.bytes().await {
                        Ok(body) => {
                            return self.answer(Answer {
                                status,
                                headers,
                                body,
                            })
                        }
                        // The connection broke in the middle of the answer.
                        Err(e) => (e, true),
                    }
                }
                Err(e) => {
                    let sent = !e.is_connect();
                    (e, sent)
                }
            };
            let (e, sent) = broke;
            failures.push((base.to_string(), chain(&e)));
            self.fail_over(i);
            if sent && !idempotent {
                break;
            }
            i = (i + 1) % n;
        }
        Err(self.unreachable(&failures))
    }

    /// Checks an answer: the API version, the newest event id, and an error status as
    /// the contract's error.
    fn answer(&self, a: Answer) -> Result<Answer> {
        if let Some(v) = a.headers.get(VERSION_HEADER) {
            let theirs = v.to_str().unwrap_or("?");
            if theirs != API_VERSION {
                return Err(version_mismatch(theirs));
            }
        }
        if let Some(id) = a
            .headers
            .get(LAST_EVENT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
        {
            self.last_event.fetch_max(id, Ordering::Relaxed);
        }
        // 304 answers a request that sent If-None-Match: the caller keeps what it has.
        if a.status.is_success() || a.status == StatusCode::NOT_MODIFIED {
            return Ok(a);
        }
        let status = a.status;
        let text = String::from_utf8_lossy(&a.body);
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

    async fn call<T: DeserializeOwned, Q: Serialize, B: Serialize>(
        &self,
        method: Method,
        path: &str,
        query: Option<&Q>,
        body: Option<&B>,
    ) -> Result<T> {
        let idempotent = method != Method::POST;
        let token = self.token.as_deref();
        let a = self
            .send(idempotent, |base| {
                let mut req = self.request_at(base, method.clone(), path, token);
                if let Some(q) = query {
                    req = req.query(q);
                }
                if let Some(b) = body {
                    req = req.json(b);
                }
                req
            })
            .await?;
        decode(path, &a.body)
    }

    /// The machine list, revalidated: the last one is kept with its ETag, and an
    /// unchanged list comes back as a 304 (a TUI asks every few seconds), gzipped
    /// otherwise.
    async fn list_machines(&self, path: &str) -> Result<Vec<Machine>> {
        use reqwest::header::{ACCEPT_ENCODING, CONTENT_ENCODING, ETAG, IF_NONE_MATCH};
        let known = self.machine_list.lock().ok().and_then(|k| k.clone());
        let token = self.token.as_deref();
        let resp = self
            .send(true, |base| {
                let mut req = self
                    .request_at(base, Method::GET, path, token)
                    .header(ACCEPT_ENCODING, "gzip");
                if let Some((etag, _)) = &known {
                    req = req.header(IF_NONE_MATCH, etag);
                }
                req
            })
            .await?;
        if resp.status == StatusCode::NOT_MODIFIED {
            return match known {
                Some((_, list)) => Ok(list.as_ref().clone()),
                None => Err(Error::internal(format!(
                    "the server answered 304 to {path}, which this client never asked conditionally"
                ))),
            };
        }
        let header = |name| {
            resp.headers
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header(ETAG);
        let gzipped = header(CONTENT_ENCODING).is_some_and(|c| c.eq_ignore_ascii_case("gzip"));
        let bytes = &resp.body;
        let list: Vec<Machine> = if gzipped {
            decode(path, &gunzip(path, bytes)?)?
        } else {
            decode(path, bytes)?
        };
        if let (Some(tag), Ok(mut slot)) = (etag, self.machine_list.lock()) {
            *slot = Some((tag, Arc::new(list.clone())));
        }
        Ok(list)
    }

    async fn call_empty<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<()> {
        let idempotent = method != Method::POST;
        let token = self.token.as_deref();
        self.send(idempotent, |base| {
            let mut req = self.request_at(base, method.clone(), path, token);
            if let Some(b) = body {
                req = req.json(b);
            }
            req
        })
        .await
        .map(|_| ())
    }
}

/// A server's answer decoded as the contract's type.
fn decode<T: DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::internal(format!(
            "the server's answer to {path} is not what this flotilla expects ({e}): are both the same version?"
        ))
    })
}

/// The most a gzipped answer may unpack to (a list of 100,000 machines is ~70 MB).
const MAX_UNZIPPED: u64 = 512 << 20;

fn gunzip(path: &str, bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .take(MAX_UNZIPPED + 1)
        .read_to_end(&mut out)
        .map_err(|e| Error::internal(format!("the server's gzipped answer to {path}: {e}")))?;
    if out.len() as u64 > MAX_UNZIPPED {
        return Err(Error::internal(format!(
            "the server's answer to {path} unpacks past {} MiB",
            MAX_UNZIPPED >> 20
        )));
    }
    Ok(out)
}

/// A cached certificate is renewed when less than this share of its life is left.
const RENEW_AT: f64 = 0.2;

impl Remote {
    fn cached_cert(&self, name: &str) -> Option<ClientConfig> {
        let path = cert_cache_file(&self.inner.cert_cache, name).ok()?;
        let text = std::fs::read_to_string(path).ok()?;
        let cfg: ClientConfig = serde_json::from_str(&text).ok()?;
        let (from, until) = validity(&cfg.cert_pem)?;
        let now = crate::api::now_ms() / 1000;
        let left = until - now;
        let life = (until - from).max(1);
        (left as f64 > life as f64 * RENEW_AT && left > 30).then_some(cfg)
    }

    /// Caches under the name the caller asked for (validated), never a name from the
    /// server's answer: a server cannot make the client write outside its cache.
    fn cache_cert(&self, name: &str, cfg: &ClientConfig) {
        let dir = &self.inner.cert_cache;
        let saved = cert_cache_file(dir, name)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))
            .and_then(|path| {
                ensure_private_dir(dir)?;
                let json = serde_json::to_vec(cfg).unwrap_or_default();
                write_private(&path, &json)
            });
        if let Err(e) = saved {
            tracing::warn!("cannot cache the certificate in {}: {e}", dir.display());
        }
    }
}

/// The cache file of machine `name`'s certificate: `name` must be a machine name (a
/// DNS label), so the file is always directly in `dir`.
fn cert_cache_file(dir: &std::path::Path, name: &str) -> Result<PathBuf> {
    crate::api::validate_name(name)?;
    Ok(dir.join(format!("{name}.json")))
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
        self.inner.list_machines(&routes::MACHINES.at(&[])).await
    }

    async fn get(&self, name: &str) -> Result<Machine> {
        self.get_json(&routes::MACHINE.at(&[name])).await
    }

    async fn create(&self, spec: MachineSpec) -> Result<Operation> {
        self.post_json(&routes::MACHINES.at(&[]), &spec).await
    }

    async fn remove(&self, name: &str, force: bool) -> Result<Operation> {
        self.delete_query(&routes::MACHINE.at(&[name]), &ForceQuery { force })
            .await
    }

    async fn provision(&self, name: &str, trust_new_host_key: bool) -> Result<Operation> {
        self.post_json(
            &routes::MACHINE_PROVISION.at(&[name]),
            &ProvisionBody { trust_new_host_key },
        )
        .await
    }

    async fn regenerate_certs(&self, name: &str, client: bool) -> Result<Operation> {
        self.post_json(
            &routes::MACHINE_REGENERATE_CERTS.at(&[name]),
            &RegenerateBody { client },
        )
        .await
    }

    async fn os_profiles(&self) -> Result<Vec<crate::api::OsProfileInfo>> {
        self.get_json(routes::OS_PROFILES.pattern()).await
    }

    async fn machine_log(&self, name: &str, log: crate::api::MachineLog) -> Result<String> {
        self.get_json(&routes::MACHINE_LOG.at(&[name, log.as_str()]))
            .await
    }

    async fn engine_env(&self, name: &str) -> Result<Vec<(String, String)>> {
        let got: crate::api::rest::EngineEnv = self
            .post_json(&routes::MACHINE_ENGINE_ENV.at(&[name]), &())
            .await?;
        Ok(got.env)
    }

    async fn user_data(&self, name: &str) -> Result<Option<String>> {
        self.post_json(&routes::MACHINE_USER_DATA.at(&[name]), &())
            .await
    }

    async fn start(&self, name: &str) -> Result<Machine> {
        self.post_json(&routes::MACHINE_START.at(&[name]), &())
            .await
    }

    async fn stop(&self, name: &str) -> Result<Machine> {
        self.post_json(&routes::MACHINE_STOP.at(&[name]), &()).await
    }

    async fn restart(&self, name: &str) -> Result<Machine> {
        self.post_json(&routes::MACHINE_RESTART.at(&[name]), &())
            .await
    }

    async fn kill(&self, name: &str) -> Result<Machine> {
        self.post_json(&routes::MACHINE_KILL.at(&[name]), &()).await
    }

    async fn status(&self, name: &str) -> Result<MachineState> {
        self.get_json(&routes::MACHINE_STATUS.at(&[name])).await
    }

    /// A client certificate made for this token's user, valid for a short time: cached
    /// under the data dir (0600) and renewed when most of its life is gone.
    async fn client_config(&self, name: &str) -> Result<ClientConfig> {
        crate::api::validate_name(name)?;
        if let Some(cfg) = self.cached_cert(name) {
            return Ok(cfg);
        }
        let cfg: ClientConfig = self
            .post_json(&routes::MACHINE_CLIENT_CONFIG.at(&[name]), &())
            .await?;
        self.cache_cert(name, &cfg);
        Ok(cfg)
    }

    /// A fresh key made here and an OpenSSH certificate for it signed by the server:
    /// the machine's own key never leaves the server.
    async fn ssh_access(&self, name: &str) -> Result<SshAccess> {
        let key = crate::ssh::generate_ed25519("flotilla-remote-session")
            .map_err(|e| Error::internal(e.to_string()))?;
        let mut access = self.request_ssh_cert(name, &key.public_line).await?;
        access.private_key_pem = key.private_pem;
        Ok(access)
    }

    async fn ssh_attach(
        &self,
        name: &str,
        login: Option<&SshLogin>,
        command: &[String],
    ) -> Result<u32> {
        // The server still hands out the address and pinned host key (and records the
        // access); another login's key never leaves this process.
        let access = self.ssh_access(name).await?;
        let access = match login {
            Some(login) => login.apply(access),
            None => access,
        };
        crate::ssh::attach(&access, command, &self.inner.terminal)
            .await
            .map_err(|e| crate::ssh::api_error(name, e))
    }

    async fn backend(&self) -> Result<Backend> {
        let (info, me) = tokio::try_join!(self.server_info(), self.whoami())?;
        Ok(Backend {
            location: self.url().to_string(),
            user: Some(me.name),
            role: me.role,
            fleet_id: info.fleet_id,
        })
    }

    async fn operation(&self, id: &str) -> Result<Operation> {
        self.get_json(&routes::OPERATION.at(&[id])).await
    }

    async fn operations(&self, limit: u32) -> Result<Vec<Operation>> {
        let limit = validate_operations_limit(limit)?;
        self.get_query(&routes::OPERATIONS.at(&[]), &OperationsQuery { limit })
            .await
    }

    async fn cancel(&self, id: &str) -> Result<()> {
        self.inner
            .call_empty(
                Method::POST,
                &routes::OPERATION_CANCEL.at(&[id]),
                None::<&()>,
            )
            .await
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        events::subscribe(&self.inner)
    }

    async fn events(&self, query: EventQuery) -> Result<EventPage> {
        self.get_query(&routes::EVENTS.at(&[]), &query).await
    }

    async fn list_brief(&self) -> Result<Vec<MachineBrief>> {
        match self.get_json(&routes::MACHINE_BRIEFS.at(&[])).await {
            // A server older than the route: the list and the health, joined here.
            Err(e) if e.is(ErrorKind::NotFound) => {
                crate::api::briefs_from_list_and_health(self).await
            }
            answer => answer,
        }
    }

    async fn health(&self, names: &[String], check_now: bool) -> Result<Vec<Health>> {
        self.get_query(&routes::HEALTH.at(&[]), &HealthQuery::new(names, check_now))
            .await
    }

    async fn health_history(&self, name: &str) -> Result<Vec<HealthSample>> {
        self.get_json(&routes::MACHINE_HEALTH_HISTORY.at(&[name]))
            .await
    }

    /// A server runs its own monitor; this reconfigures it (operator).
    async fn start_monitor(&self, settings: MonitorSettings) -> Result<()> {
        self.inner
            .call_empty(Method::POST, &routes::MONITOR.at(&[]), Some(&settings))
            .await
    }

    async fn replicas(&self) -> Result<Vec<crate::api::Replica>> {
        self.get_json(&routes::REPLICAS.at(&[])).await
    }

    async fn swarm_create(&self, spec: SwarmSpec) -> Result<Operation> {
        self.post_json(&routes::SWARMS.at(&[]), &spec).await
    }

    async fn swarm_list(&self) -> Result<Vec<Swarm>> {
        self.get_json(&routes::SWARMS.at(&[])).await
    }

    async fn swarm_get(&self, name: &str) -> Result<Swarm> {
        self.get_json(&routes::SWARM.at(&[name])).await
    }

    async fn swarm_scale(&self, name: &str, req: ScaleRequest) -> Result<Operation> {
        self.post_json(&routes::SWARM_SCALE.at(&[name]), &req).await
    }

    async fn swarm_join(&self, name: &str, machine: &str, role: Role) -> Result<Operation> {
        self.post_json(
            &routes::SWARM_JOIN.at(&[name]),
            &JoinBody {
                machine: machine.to_string(),
                role,
            },
        )
        .await
    }

    async fn swarm_rotate_tokens(&self, name: &str) -> Result<()> {
        self.inner
            .call_empty(
                Method::POST,
                &routes::SWARM_ROTATE_TOKENS.at(&[name]),
                None::<&()>,
            )
            .await
    }

    async fn swarm_remove(&self, name: &str, force: bool) -> Result<Operation> {
        self.delete_query(&routes::SWARM.at(&[name]), &ForceQuery { force })
            .await
    }

    async fn swarm_client_config(&self, name: &str) -> Result<ClientConfig> {
        self.post_json(&routes::SWARM_CLIENT_CONFIG.at(&[name]), &())
            .await
    }

    async fn swarm_services(&self, name: &str) -> Result<Vec<SwarmService>> {
        self.get_json(&routes::SWARM_SERVICES.at(&[name])).await
    }

    async fn swarm_autoscale(&self, name: &str) -> Result<crate::api::AutoscaleStatus> {
        self.get_json(&routes::SWARM_AUTOSCALE.at(&[name])).await
    }

    async fn set_swarm_autoscale(
        &self,
        name: &str,
        policy: Option<crate::api::AutoscalePolicy>,
    ) -> Result<crate::api::AutoscaleStatus> {
        if let Some(p) = &policy {
            p.validate()?;
        }
        self.inner
            .call(
                Method::PUT,
                &routes::SWARM_AUTOSCALE.at(&[name]),
                None::<&()>,
                Some(&crate::api::AutoscaleBody { policy }),
            )
            .await
    }

    async fn start_autoscaler(&self) -> Result<()> {
        // A server runs its autoscaler always, beside its monitor.
        Ok(())
    }

    async fn import(&self, machine: crate::api::ImportedMachine) -> Result<Machine> {
        self.post_json(&routes::IMPORTS.at(&[]), &machine).await
    }

    // docker-machine parity
    async fn upgrade(&self, name: &str) -> Result<Operation> {
        self.post_json(&routes::MACHINE_UPGRADE.at(&[name]), &())
            .await
    }
}

impl Remote {
    /// `POST .../ssh-access`: the server signs `public_key` for this token's user.
    async fn request_ssh_cert(&self, name: &str, public_key: &str) -> Result<SshAccess> {
        self.post_json(
            &routes::MACHINE_SSH_ACCESS.at(&[name]),
            &SshCertRequest {
                public_key: public_key.to_string(),
            },
        )
        .await
    }
}

/// The server's admin routes. The server decides whose credentials it makes and how
/// long they last (the token's user, its own lifetimes), so a `Grant` is not sent.
#[async_trait]
impl FleetAdmin for Remote {
    fn as_fleet(self: Arc<Self>) -> Arc<dyn Fleet> {
        self
    }

    async fn server_info(&self) -> Result<ServerInfo> {
        Remote::server_info(self).await
    }

    async fn whoami(&self) -> Result<Identity> {
        Remote::whoami(self).await
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        self.get_json(&routes::TOKENS.at(&[])).await
    }

    async fn token_create(&self, spec: TokenSpec) -> Result<NewToken> {
        self.post_json(&routes::TOKENS.at(&[]), &spec).await
    }

    /// The server answers with the first token it revoked.
    async fn token_revoke(&self, id_or_name: &str) -> Result<Vec<TokenInfo>> {
        let first: TokenInfo = self
            .inner
            .call(
                Method::DELETE,
                &routes::TOKEN.at(&[id_or_name]),
                None::<&()>,
                None::<&()>,
            )
            .await?;
        Ok(vec![first])
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        self.get_query(&routes::AUDIT.at(&[]), &query).await
    }

    async fn audit_retention(&self) -> Result<AuditRetention> {
        self.get_json(&routes::AUDIT_RETENTION.at(&[])).await
    }

    async fn set_audit_retention(&self, retention: AuditRetention) -> Result<AuditPruned> {
        retention.validate()?;
        self.inner
            .call(
                Method::PUT,
                &routes::AUDIT_RETENTION.at(&[]),
                None::<&()>,
                Some(&retention),
            )
            .await
    }

    async fn user_client_config(&self, machine: &str, _: &Grant) -> Result<ClientConfig> {
        self.post_json(&routes::MACHINE_CLIENT_CONFIG.at(&[machine]), &())
            .await
    }

    async fn user_swarm_client_config(&self, swarm: &str, _: &Grant) -> Result<ClientConfig> {
        self.post_json(&routes::SWARM_CLIENT_CONFIG.at(&[swarm]), &())
            .await
    }

    async fn user_ssh_access(
        &self,
        machine: &str,
        public_key: &str,
        _: &Grant,
    ) -> Result<SshAccess> {
        self.request_ssh_cert(machine, public_key).await
    }

    /// Asks the server whose token `secret` is (`whoami` with that token).
    async fn authenticate(&self, secret: &str) -> Result<Identity> {
        let path = routes::WHOAMI.at(&[]);
        let a = self
            .inner
            .send(true, |base| {
                self.inner
                    .request_at(base, Method::GET, &path, Some(secret))
            })
            .await?;
        serde_json::from_slice(&a.body)
            .map_err(|e| Error::internal(format!("the server's whoami answer: {e}")))
    }

    /// The server audits every request it answers; nothing to add here.
    async fn audit_append(&self, _: &AuditRecord) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cache file is named from the validated request: `../` or a path from a
    /// server's answer cannot leave the cache directory.
    #[test]
    fn cert_cache_files_stay_in_the_cache() {
        let dir = std::path::Path::new("/cache");
        assert_eq!(cert_cache_file(dir, "web1").unwrap(), dir.join("web1.json"));
        for bad in ["../evil", "a/b", "..", "/etc/passwd", ""] {
            assert!(cert_cache_file(dir, bad).is_err(), "{bad}");
        }
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
