//! Who is asking and what they may do: bearer tokens, roles, and the audit log of every
//! change and every credential handed out. Also the request extractors that turn bad
//! input into JSON errors.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{
    ConnectInfo, FromRequest, FromRequestParts, MatchedPath, RawPathParams, Request,
};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use super::error::{ApiError, ErrorLine};
use super::{limits, AppState};
use crate::api::rest::{routes, LAST_EVENT_HEADER, VERSION_HEADER};
use crate::api::{AccessRole, AuditRecord, API_VERSION, TOKEN_PREFIX};

/// The token behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: String,
    pub name: String,
    pub role: AccessRole,
}

/// What a handler tells the audit log beyond the route: the object it acted on when
/// the path does not name it (a new machine, a new token).
#[derive(Debug, Clone)]
pub struct AuditTarget(pub String);

macro_rules! role_extractor {
    ($name:ident, $role:expr) => {
        /// The caller, if their role is at least this one (403 otherwise).
        #[allow(dead_code)]
        pub struct $name(pub Caller);

        impl<S: Send + Sync> FromRequestParts<S> for $name {
            type Rejection = ApiError;
            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
                let caller = parts
                    .extensions
                    .get::<Caller>()
                    .cloned()
                    .ok_or_else(|| ApiError::unauthorized("no valid token"))?;
                if caller.role < $role {
                    return Err(ApiError::forbidden(&caller.name, caller.role, $role));
                }
                Ok($name(caller))
            }
        }
    };
}

role_extractor!(Viewer, AccessRole::Viewer);
role_extractor!(Operator, AccessRole::Operator);
role_extractor!(Admin, AccessRole::Admin);

/// `Json` whose rejections are JSON errors: 400 for malformed or unknown fields, 413
/// for an oversized body, 415 without a JSON content type.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = match r.status() {
        s @ (StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE) => s,
        _ => StatusCode::BAD_REQUEST,
    };
    let text = match &r {
        JsonRejection::MissingJsonContentType(_) => {
            "the body must be JSON: send Content-Type: application/json".to_string()
        }
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => {
            format!("the body is larger than {} bytes", super::MAX_BODY_BYTES)
        }
        other => format!("invalid JSON body: {}", other.body_text()),
    };
    ApiError::new(status, crate::api::Error::invalid(text))
}

/// `Query` whose rejections are JSON errors (400).
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("invalid query: {}", r.body_text()))
}

/// Requests that need no token.
fn is_public(path: &str) -> bool {
    path == routes::VERSION.0 || path == routes::OPENAPI.0
}

/// Every request: check the API version, find the token, run the route, stamp the
/// answer with the version and the newest event id, and audit what changes things.
/// Requests refused for want of a valid token (any method) are audited once per client
/// and window, then counted (`limits`); past the limit they are answered 429.
pub async fn middleware(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let audited = req.method() != Method::GET && req.method() != Method::HEAD;
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| req.uri().path().to_string());
    let client = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let remote = client.map(|ip| ip.to_string());
    let mut record = AuditRecord {
        remote,
        action: action_name(req.method(), &path),
        ..Default::default()
    };
    let (mut parts, body) = req.into_parts();
    if let Ok(params) = RawPathParams::from_request_parts(&mut parts, &()).await {
        record.target = params
            .iter()
            .next()
            .map(|(_, v)| limits::cap(v, limits::MAX_TARGET_CHARS));
    }
    let mut req = Request::from_parts(parts, body);

    // A body announced too large is refused before it is read.
    let announced = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let too_large = announced.is_some_and(|n| n > super::MAX_BODY_BYTES as u64);
    // A client past its refusals is turned away before any check, unless it shows a
    // token (a legitimate client behind the same address keeps working).
    let shows_token = req.headers().contains_key(header::AUTHORIZATION);
    if !shows_token && !is_public(&path) {
        if let Some(wait) = state.failures.blocked(client, Instant::now()) {
            state.failures.note(client, Instant::now(), &mut Vec::new());
            return too_many(wait);
        }
    }
    let mut audited = audited;
    // The store's counters, read once: the token check and the machine list use them.
    let versions = match state.fleet.store_versions().await {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("cannot read the store's versions: {e}");
            None
        }
    };
    if let Some(v) = versions {
        req.extensions_mut().insert(v);
    }
    let response = match authenticate(&state, req.headers(), &path, versions).await {
        _ if too_large => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            crate::api::Error::invalid(format!(
                "the body is larger than {} bytes",
                super::MAX_BODY_BYTES
            )),
        )
        .into_response(),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            let mut summaries = Vec::new();
            let noted = state.failures.note(client, Instant::now(), &mut summaries);
            write_summaries(&state, summaries).await;
            // Only the first refusal of a window gets its own row, whatever the method.
            audited = noted.first;
            match noted.retry_after {
                Some(wait) => too_many(wait),
                None => e.into_response(),
            }
        }
        Err(e) => e.into_response(),
        Ok(caller) => {
            if let Some(c) = &caller {
                record.token_id = Some(c.token_id.clone());
                record.actor = Some(c.name.clone());
                req.extensions_mut().insert(c.clone());
            }
            next.run(req).await
        }
    };
    let mut response = response;
    let headers = response.headers_mut();
    headers.insert(VERSION_HEADER, HeaderValue::from_static(API_VERSION));
    if let Ok(v) = HeaderValue::from_str(&state.last_event().to_string()) {
        headers.insert(LAST_EVENT_HEADER, v);
    }
    if audited {
        if let Some(t) = response.extensions().get::<AuditTarget>() {
            record.target = Some(t.0.clone());
        }
        record.status = response.status().as_u16();
        record.outcome = match response.extensions().get::<ErrorLine>() {
            Some(line) if !response.status().is_success() => {
                limits::cap(&line.0, limits::MAX_OUTCOME_CHARS)
            }
            _ if !response.status().is_success() => response
                .status()
                .canonical_reason()
                .unwrap_or("error")
                .to_string(),
            _ => "ok".into(),
        };
        if let Err(e) = state.fleet.audit_append(&record).await {
            tracing::error!("cannot write the audit log: {e}");
        }
    }
    response
}

/// 429 with `Retry-After` (whole seconds, at least one).
fn too_many(wait: Duration) -> Response {
    let secs = wait.as_secs().max(1);
    let mut resp = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        crate::api::Error::unavailable(format!(
            "too many requests without a valid token from this address: retry in {secs}s"
        )),
    )
    .into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    resp
}

/// One audit row per client whose refusals went past the first in a window.
async fn write_summaries(state: &AppState, summaries: Vec<limits::Summary>) {
    for s in summaries {
        let record = AuditRecord {
            remote: s.client.map(|ip| ip.to_string()),
            action: "auth.refused".into(),
            status: StatusCode::UNAUTHORIZED.as_u16(),
            outcome: format!(
                "{} more request(s) without a valid token in {}s",
                s.more,
                limits::WINDOW.as_secs()
            ),
            ..Default::default()
        };
        if let Err(e) = state.fleet.audit_append(&record).await {
            tracing::error!("cannot write the audit log: {e}");
        }
    }
}

/// Writes the summaries of finished windows, once per window, until the server stops.
pub async fn summarise_refusals(state: Arc<AppState>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(limits::WINDOW) => {}
        }
        let done = state.failures.drain_finished(Instant::now());
        write_summaries(&state, done).await;
    }
}

/// The bearer secret of a request, if it sent one of the right shape.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX) && t.len() < 256)
}

async fn authenticate(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    path: &str,
    versions: Option<crate::api::StoreVersions>,
) -> Result<Option<Caller>, ApiError> {
    if let Some(v) = headers.get(VERSION_HEADER) {
        let theirs = v.to_str().unwrap_or("?");
        if theirs != API_VERSION {
            return Err(ApiError::bad_request(format!(
                "this server speaks API v{API_VERSION} and the client speaks v{theirs}: use a flotilla of the server's version ({})",
                env!("CARGO_PKG_VERSION")
            )));
        }
    }
    if is_public(path) {
        return Ok(None);
    }
    if !headers.contains_key(header::AUTHORIZATION) {
        return Err(ApiError::unauthorized(
            "no token: send Authorization: Bearer flt_... (login stores one)",
        ));
    }
    let secret = bearer(headers).ok_or_else(|| {
        ApiError::unauthorized("the Authorization header is not `Bearer flt_...`")
    })?;
    let me = state
        .auth_cache
        .identity(state.fleet.as_ref(), secret, versions)
        .await?;
    Ok(Some(Caller {
        token_id: me.token_id,
        name: me.name,
        role: me.role,
    }))
}

/// `machine.create`, `machine.client_config`, `token.revoke` ... from the route.
pub fn action_name(method: &Method, route: &str) -> String {
    let parts: Vec<&str> = route
        .trim_start_matches("/v1/")
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let resource = parts.first().map(|r| r.trim_end_matches('s')).unwrap_or("");
    let verb = match (method, parts.len()) {
        (&Method::POST, 1) => "create".to_string(),
        (&Method::DELETE, 2) if resource == "token" => "revoke".to_string(),
        (&Method::DELETE, 2) => "remove".to_string(),
        // A setting of a resource: `audit.retention`.
        (&Method::PUT, 2) => parts[1].replace('-', "_"),
        (_, n) if n >= 3 => parts[n - 1].replace('-', "_"),
        _ => method.as_str().to_ascii_lowercase(),
    };
    format!("{resource}.{verb}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_from_routes() {
        assert_eq!(action_name(&Method::POST, "/v1/machines"), "machine.create");
        assert_eq!(
            action_name(&Method::DELETE, "/v1/machines/{name}"),
            "machine.remove"
        );
        assert_eq!(
            action_name(&Method::POST, "/v1/machines/{name}/client-config"),
            "machine.client_config"
        );
        assert_eq!(
            action_name(&Method::PUT, "/v1/audit/retention"),
            "audit.retention"
        );
        assert_eq!(
            action_name(&Method::DELETE, "/v1/tokens/{id}"),
            "token.revoke"
        );
        assert_eq!(
            action_name(&Method::POST, "/v1/swarms/{name}/scale"),
            "swarm.scale"
        );
        assert_eq!(
            action_name(&Method::POST, "/v1/operations/{id}/cancel"),
            "operation.cancel"
        );
    }
}
