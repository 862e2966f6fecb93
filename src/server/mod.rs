//! `flotilla serve`: the fleet as a shared REST API over HTTPS. Routes map to one
//! `api::FleetAdmin` (the embedded engine); bearer tokens with roles decide who may do what; every change and
//! every credential handed out is audited; the fleet's keys never leave.

mod auth;
mod auth_cache;
pub mod command;
mod error;
mod events;
#[cfg(test)]
mod follow_tests;
mod limits;
mod list_cache;
#[cfg(test)]
mod list_cache_tests;
pub mod openapi;
mod panic;
mod routes;
mod tls;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, DefaultBodyLimit};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub use tls::TlsSource;

use crate::api::{EventQuery, FleetAdmin, MonitorSettings};
use crate::engine::Local;

/// The largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// Event streams open at once; past it a new one is answered 503 (each holds a
/// connection and a follower).
pub const MAX_EVENT_STREAMS: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source} (is another server running there?)")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("tls: {0}")]
    Tls(String),
    #[error(transparent)]
    Engine(#[from] crate::api::Error),
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub tls: TlsSource,
    /// How long a client certificate handed to a user is valid.
    pub client_cert_ttl: Duration,
    /// How long an SSH user certificate is valid.
    pub ssh_cert_ttl: Duration,
    /// Run the health monitor in the server.
    pub monitor: bool,
    /// Its settings (checked when the monitor starts).
    pub monitor_settings: MonitorSettings,
    /// This server's name among the replicas sharing its store (`--replica-name`);
    /// None: HOST:PORT it listens on.
    pub replica_name: Option<String>,
}

pub(crate) struct AppState {
    /// The fleet every route works on: the server's one handle.
    pub fleet: Arc<dyn FleetAdmin>,
    pub client_cert_ttl: Duration,
    pub ssh_cert_ttl: Duration,
    last_event: AtomicU64,
    /// Told when the server revokes a token, so open event streams check theirs at once.
    pub revoked: tokio::sync::Notify,
    /// One permit per open event stream.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// Requests refused for want of a valid token, per client.
    pub failures: limits::Failures,
    /// The machine list as last serialized.
    pub machine_list: list_cache::ListCache,
    /// Token checks reused while no token changes.
    pub auth_cache: auth_cache::AuthCache,
}

impl AppState {
    pub fn new(
        fleet: Arc<dyn FleetAdmin>,
        client_cert_ttl: Duration,
        ssh_cert_ttl: Duration,
        last_event: u64,
    ) -> AppState {
        AppState {
            fleet,
            client_cert_ttl,
            ssh_cert_ttl,
            last_event: AtomicU64::new(last_event),
            revoked: tokio::sync::Notify::new(),
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_EVENT_STREAMS)),
            failures: limits::Failures::default(),
            machine_list: list_cache::ListCache::default(),
            auth_cache: auth_cache::AuthCache::default(),
        }
    }

    pub fn last_event(&self) -> u64 {
        self.last_event.load(Ordering::Relaxed)
    }
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// `sha256:...` of the server's certificate: what `login` pins.
    pub fingerprint: String,
    /// Its name among the replicas sharing the store.
    pub replica: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    engine: Local,
}

impl Server {
    /// Stops accepting connections (running operations go on in the engine).
    pub fn shutdown(&self) {
        self.stop.cancel();
    }
    /// Waits until the accept loop ends, then leaves the replicas (the others take
    /// its machines at once).
    pub async fn wait(self) {
        let _ = self.task.await;
        self.engine.leave_replicas().await;
    }
}

/// The router with its state: what `start` serves (tests can drive it directly).
pub(crate) fn app(state: Arc<AppState>) -> axum::Router {
    openapi::router()
        // Inside the audit layer, so a panicking handler's request is still audited.
        .route_layer(axum::middleware::from_fn(panic::catch))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::middleware,
        ))
        .fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                crate::api::Error::missing("no such route: see /v1/openapi.json"),
            )
        })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                crate::api::Error::invalid(
                    "method not allowed on this route: see /v1/openapi.json",
                ),
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(read_body_first))
        .layer(axum::middleware::from_fn(panic::catch))
        .with_state(state)
}

/// How long a client may take to send a request body.
const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the whole request body (bounded in size and time) before anything answers.
/// A refusal sent while the client is still sending (a 401 or 403 decided from the
/// headers) would close the connection under it, and the client would see a broken
/// connection instead of the answer. A body announced larger than the limit is refused
/// at once, unread.
async fn read_body_first(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let too_large = || {
        error::ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::api::Error::invalid(format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes"
            )),
        )
        .into_response()
    };
    if announced.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let read = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, MAX_BODY_BYTES));
    match read.await {
        Ok(Ok(bytes)) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Ok(Err(_)) => too_large(),
        Err(_) => error::ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            crate::api::Error::invalid(format!(
                "the request body did not arrive within {}s",
                BODY_TIMEOUT.as_secs()
            )),
        )
        .into_response(),
    }
}

/// Binds, prepares TLS, fails operations a previous server left unfinished, starts the
/// monitor, and serves until `shutdown`.
pub async fn start(engine: Local, opts: ServeOptions) -> Result<Server, ServerError> {
    let (tls, fingerprint) = tls::load(&engine, &opts.tls).await?;
    let listener = TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: opts.listen,
        source,
    })?;
    // Among the replicas of the store first: a name a live server holds is refused
    // before this one touches anything.
    let replica = match &opts.replica_name {
        Some(n) => n.clone(),
        None => format!("{}:{}", host_name(), addr.port()),
    };
    engine.join_replicas(&replica).await?;
    let failed = engine.fail_interrupted_operations().await?;
    if failed > 0 {
        tracing::warn!(
            "{failed} operation(s) were interrupted by the last stop and are marked failed"
        );
    }
    let engine = engine.serving();
    let stop = CancellationToken::new();
    tokio::spawn(prune_audit(engine.clone(), stop.clone()));
    let fleet: Arc<dyn FleetAdmin> = Arc::new(engine.clone());
    if opts.monitor {
        if let Err(e) = fleet.start_monitor(opts.monitor_settings.clone()).await {
            tracing::warn!("the health monitor did not start: {e}");
        }
    }
    // The autoscaler runs always, beside the monitor (whose CPU and memory it reads
    // when it runs): swarms without a policy cost it nothing.
    if let Err(e) = fleet.start_autoscaler().await {
        tracing::warn!("the autoscaler did not start: {e}");
    }
    // The other replicas learn at their next heartbeat (not this one's) that it monitors.
    if let Err(e) = engine.heartbeat_now().await {
        tracing::warn!("replica {replica}: cannot heartbeat: {e}");
    }
    let first = fleet
        .events(EventQuery {
            after: None,
            since_ms: None,
            limit: 1,
        })
        .await
        .map(|p| p.last_id)
        .unwrap_or(0);
    let state = Arc::new(AppState::new(
        fleet.clone(),
        opts.client_cert_ttl,
        opts.ssh_cert_ttl,
        first,
    ));
    tokio::spawn(track_last_event(state.clone(), stop.clone()));
    tokio::spawn(auth::summarise_refusals(state.clone(), stop.clone()));
    let app = app(state);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let task = tokio::spawn(accept_loop(listener, acceptor, app, stop.clone()));
    Ok(Server {
        addr,
        fingerprint,
        replica,
        stop,
        task,
        engine,
    })
}

/// This machine's host name, for the default replica name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// How often the server applies the audit retention (setting it applies it at once).
const AUDIT_PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Keeps the audit log within its retention while the server runs: a log that only a
/// setting bounds would still grow between two changes of it.
async fn prune_audit(engine: Local, stop: CancellationToken) {
    loop {
        if let Err(e) = engine.prune_audit().await {
            tracing::warn!("cannot prune the audit log: {e}");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(AUDIT_PRUNE_EVERY) => {}
        }
    }
}

async fn track_last_event(state: Arc<AppState>, stop: CancellationToken) {
    let mut rx = state.fleet.subscribe();
    loop {
        let ev = tokio::select! {
            _ = stop.cancelled() => return,
            ev = rx.recv() => ev,
        };
        match ev {
            Ok(ev) => {
                state.last_event.fetch_max(ev.seq, Ordering::Relaxed);
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    stop: CancellationToken,
) {
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: back off, then go on.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let tls =
                match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                    Ok(Ok(s)) => s,
                    Ok(Err(e)) => {
                        tracing::debug!("tls handshake with {peer}: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let svc = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    app.clone().oneshot(req.map(axum::body::Body::new))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), svc)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
                }
            }
        });
    }
}
