//! The routes: each maps one `Fleet` call (or a server-only one: tokens, audit,
//! per-user credentials) to HTTP. Bodies are the `api` types.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::auth::{Admin, AuditTarget, Body, Operator, Params, Viewer};
use super::error::ApiError;
use super::AppState;
use crate::api::{
    validate_name, validate_token_name, AuditQuery, EventQuery, Identity, MachineSpec,
    MonitorSettings, Role, ScaleRequest, ServerInfo, SshCertRequest, SwarmSpec, TokenSpec,
    API_VERSION,
};

type S = State<Arc<AppState>>;
type Answer<T> = Result<T, ApiError>;

pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/version", get(version))
        .route("/v1/openapi.json", get(super::openapi::document))
        .route("/v1/whoami", get(whoami))
        .route("/v1/machines", get(list).post(create))
        .route("/v1/machines/{name}", get(machine).delete(remove))
        .route("/v1/machines/{name}/status", get(status))
        .route("/v1/machines/{name}/start", post(start))
        .route("/v1/machines/{name}/stop", post(stop))
        .route("/v1/machines/{name}/restart", post(restart))
        .route("/v1/machines/{name}/kill", post(kill))
        .route("/v1/machines/{name}/provision", post(provision))
        .route(
            "/v1/machines/{name}/regenerate-certs",
            post(regenerate_certs),
        )
        .route("/v1/machines/{name}/client-config", post(client_config))
        .route("/v1/machines/{name}/ssh-access", post(ssh_access))
        .route("/v1/machines/{name}/health-history", get(health_history))
        .route("/v1/operations", get(operations))
        .route("/v1/operations/{id}", get(operation))
        .route("/v1/operations/{id}/cancel", post(cancel))
        .route("/v1/events", get(events))
        .route("/v1/events/stream", get(super::events::stream))
        .route("/v1/health", get(health))
        .route("/v1/monitor", post(start_monitor))
        .route("/v1/swarms", get(swarm_list).post(swarm_create))
        .route("/v1/swarms/{name}", get(swarm_get).delete(swarm_remove))
        .route("/v1/swarms/{name}/scale", post(swarm_scale))
        .route("/v1/swarms/{name}/join", post(swarm_join))
        .route("/v1/swarms/{name}/rotate-tokens", post(swarm_rotate_tokens))
        .route("/v1/swarms/{name}/client-config", post(swarm_client_config))
        .route("/v1/swarms/{name}/services", get(swarm_services))
        .route("/v1/tokens", get(tokens).post(token_create))
        .route("/v1/tokens/{id}", axum::routing::delete(token_revoke))
        .route("/v1/audit", get(audit))
}

fn name_ok(name: &str) -> Answer<()> {
    validate_name(name).map_err(ApiError::from)
}

fn accepted<T: Serialize>(v: T) -> Response {
    (StatusCode::ACCEPTED, Json(v)).into_response()
}

async fn version(State(st): S) -> Json<ServerInfo> {
    Json(ServerInfo {
        api_version: API_VERSION.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        fleet_id: st.engine.fleet_id().to_string(),
    })
}

async fn whoami(Viewer(c): Viewer) -> Json<Identity> {
    Json(Identity {
        token_id: c.token_id,
        name: c.name,
        role: c.role,
    })
}

async fn list(State(st): S, _: Viewer) -> Answer<Response> {
    Ok(Json(st.fleet.list().await?).into_response())
}

async fn machine(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.get(&name).await?).into_response())
}

async fn create(State(st): S, _: Operator, Body(spec): Body<MachineSpec>) -> Answer<Response> {
    let target = AuditTarget(spec.name.clone());
    let mut resp = accepted(st.fleet.create(spec).await?);
    resp.extensions_mut().insert(target);
    Ok(resp)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForceQuery {
    #[serde(default)]
    pub force: bool,
}

async fn remove(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Params(q): Params<ForceQuery>,
) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(st.fleet.remove(&name, q.force).await?))
}

async fn status(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.status(&name).await?).into_response())
}

macro_rules! power {
    ($fn:ident) => {
        async fn $fn(State(st): S, _: Operator, Path(name): Path<String>) -> Answer<Response> {
            name_ok(&name)?;
            Ok(Json(st.fleet.$fn(&name).await?).into_response())
        }
    };
}
power!(start);
power!(stop);
power!(restart);
power!(kill);

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionBody {
    #[serde(default)]
    pub trust_new_host_key: bool,
}

async fn provision(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<ProvisionBody>,
) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(
        st.fleet.provision(&name, b.trust_new_host_key).await?,
    ))
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegenerateBody {
    #[serde(default)]
    pub client: bool,
}

async fn regenerate_certs(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<RegenerateBody>,
) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(st.fleet.regenerate_certs(&name, b.client).await?))
}

/// A client certificate made for the caller, valid for the server's short lifetime.
async fn client_config(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    name_ok(&name)?;
    let cfg = st
        .engine
        .user_client_config(&name, &c.name, st.client_cert_ttl)
        .await?;
    Ok(Json(cfg).into_response())
}

/// An OpenSSH user certificate for the caller's own key; no private key leaves.
async fn ssh_access(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
    Body(b): Body<SshCertRequest>,
) -> Answer<Response> {
    name_ok(&name)?;
    let access = st
        .engine
        .user_ssh_access(&name, &c.name, &b.public_key, st.ssh_cert_ttl)
        .await?;
    Ok(Json(access).into_response())
}

async fn health_history(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.health_history(&name).await?).into_response())
}

async fn operation(State(st): S, _: Viewer, Path(id): Path<String>) -> Answer<Response> {
    Ok(Json(st.fleet.operation(&id).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperationsQuery {
    #[serde(default = "default_operations_limit")]
    pub limit: u32,
}

fn default_operations_limit() -> u32 {
    100
}

async fn operations(
    State(st): S,
    _: Viewer,
    Params(q): Params<OperationsQuery>,
) -> Answer<Response> {
    Ok(Json(st.fleet.operations(q.limit).await?).into_response())
}

async fn swarm_services(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.swarm_services(&name).await?).into_response())
}

async fn cancel(State(st): S, _: Operator, Path(id): Path<String>) -> Answer<Response> {
    st.fleet.cancel(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub after: Option<u64>,
    pub since_ms: Option<i64>,
    #[serde(default)]
    pub limit: u32,
}

async fn events(State(st): S, _: Viewer, Params(q): Params<EventsQuery>) -> Answer<Response> {
    let page = st
        .fleet
        .events(EventQuery {
            after: q.after,
            since_ms: q.since_ms,
            limit: q.limit,
        })
        .await?;
    Ok(Json(page).into_response())
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthQuery {
    /// Comma-separated machine names; none: every machine.
    pub names: Option<String>,
    #[serde(default)]
    pub check_now: bool,
}

async fn health(State(st): S, _: Viewer, Params(q): Params<HealthQuery>) -> Answer<Response> {
    let names: Vec<String> = q
        .names
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect();
    for n in &names {
        name_ok(n)?;
    }
    Ok(Json(st.fleet.health(&names, q.check_now).await?).into_response())
}

async fn start_monitor(
    State(st): S,
    _: Operator,
    Body(settings): Body<MonitorSettings>,
) -> Answer<Response> {
    st.fleet.start_monitor(settings).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn swarm_list(State(st): S, _: Viewer) -> Answer<Response> {
    Ok(Json(st.fleet.swarm_list().await?).into_response())
}

async fn swarm_create(State(st): S, _: Operator, Body(spec): Body<SwarmSpec>) -> Answer<Response> {
    let target = AuditTarget(spec.name.clone());
    let mut resp = accepted(st.fleet.swarm_create(spec).await?);
    resp.extensions_mut().insert(target);
    Ok(resp)
}

async fn swarm_get(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    Ok(Json(st.fleet.swarm_get(&name).await?).into_response())
}

async fn swarm_remove(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Params(q): Params<ForceQuery>,
) -> Answer<Response> {
    Ok(accepted(st.fleet.swarm_remove(&name, q.force).await?))
}

async fn swarm_scale(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(req): Body<ScaleRequest>,
) -> Answer<Response> {
    Ok(accepted(st.fleet.swarm_scale(&name, req).await?))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    pub machine: String,
    pub role: Role,
}

async fn swarm_join(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<JoinBody>,
) -> Answer<Response> {
    name_ok(&b.machine)?;
    Ok(accepted(
        st.fleet.swarm_join(&name, &b.machine, b.role).await?,
    ))
}

async fn swarm_rotate_tokens(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    st.fleet.swarm_rotate_tokens(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The swarm's manager endpoint, with a client certificate made for the caller.
async fn swarm_client_config(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    let base = st.fleet.swarm_client_config(&name).await?;
    let pair = st
        .engine
        .user_client_pair(&c.name, st.client_cert_ttl)
        .await?;
    Ok(Json(crate::api::ClientConfig {
        cert_pem: pair.cert_pem,
        key_pem: pair.key_pem,
        ..base
    })
    .into_response())
}

async fn tokens(State(st): S, _: Admin) -> Answer<Response> {
    Ok(Json(st.fleet.tokens().await?).into_response())
}

async fn token_create(State(st): S, _: Admin, Body(spec): Body<TokenSpec>) -> Answer<Response> {
    validate_token_name(&spec.name)?;
    let new = st.engine.create_token(&spec).await?;
    let mut resp = (StatusCode::CREATED, Json(&new)).into_response();
    resp.extensions_mut()
        .insert(AuditTarget(new.info.id.clone()));
    Ok(resp)
}

async fn token_revoke(State(st): S, _: Admin, Path(id): Path<String>) -> Answer<Response> {
    validate_token_name(&id)?;
    let revoked = st.engine.revoke_tokens(&id).await?;
    let Some(first) = revoked.first() else {
        return Err(
            crate::api::Error::missing(format!("no active token {id:?}"))
                .about(crate::api::Subject::Token(id.clone()))
                .hint(crate::api::Hint::List)
                .into(),
        );
    };
    let mut resp = Json(first).into_response();
    let ids: Vec<&str> = revoked.iter().map(|t| t.id.as_str()).collect();
    resp.extensions_mut().insert(AuditTarget(ids.join(",")));
    Ok(resp)
}

async fn audit(State(st): S, _: Admin, Params(q): Params<AuditQuery>) -> Answer<Response> {
    Ok(Json(st.fleet.audit(q).await?).into_response())
}
