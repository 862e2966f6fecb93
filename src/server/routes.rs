//! The routes: each maps one `FleetAdmin` call to HTTP. Paths, queries and bodies are
//! the `api` contract; each handler's `#[utoipa::path]` is its entry in the OpenAPI
//! document, and the router is built from the same list (`openapi::router`), so a
//! route cannot be served undocumented. The role a route needs is its `security`
//! scope, and the handler's extractor enforces that same role (a test checks both).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::auth::{Admin, AuditTarget, Body, Caller, Operator, Params, Viewer};
use super::error::ApiError;
use super::AppState;
use crate::api::rest::{
    routes, ForceQuery, HealthQuery, JoinBody, MachineListQuery, OperationsQuery, ProvisionBody,
    RegenerateBody,
};
use crate::api::{
    validate_name, validate_swarm_name, validate_token_name, AuditEntry, AuditPruned, AuditQuery,
    AuditRetention, AutoscaleBody, AutoscaleStatus, ClientConfig, EventPage, EventQuery, Grant,
    Health, HealthSample, Identity, Machine, MachineBrief, MachineLog, MachineSpec, MachineState,
    MonitorSettings, NewToken, Operation, OsProfileInfo, Replica, ScaleRequest, ServerInfo,
    SshAccess, SshCertRequest, Swarm, SwarmService, SwarmSpec, TokenInfo, TokenSpec,
};

type S = State<Arc<AppState>>;
type Answer<T> = Result<T, ApiError>;

fn name_ok(name: &str) -> Answer<()> {
    validate_name(name).map_err(ApiError::from)
}

fn swarm_ok(name: &str) -> Answer<()> {
    validate_swarm_name(name).map_err(ApiError::from)
}

fn accepted<T: Serialize>(v: T) -> Response {
    (StatusCode::ACCEPTED, Json(v)).into_response()
}

/// Credentials for the caller, valid for the server's lifetime of that kind.
fn grant(c: &Caller, valid_for: std::time::Duration) -> Grant {
    Grant {
        user: c.name.clone(),
        valid_for,
    }
}

/// API version of the server (no token needed).
#[utoipa::path(get, path = routes::VERSION.0, tag = "server", security(()),
    responses((status = 200, body = ServerInfo)))]
pub async fn version(State(st): S) -> Answer<Json<ServerInfo>> {
    Ok(Json(st.fleet.server_info().await?))
}

/// Who the token belongs to.
#[utoipa::path(get, path = routes::WHOAMI.0, tag = "server", security(("bearer" = ["viewer"])),
    responses((status = 200, body = Identity)))]
pub async fn whoami(Viewer(c): Viewer) -> Json<Identity> {
    Json(Identity {
        token_id: c.token_id,
        name: c.name,
        role: c.role,
    })
}

/// All machines as the store knows them, by name. Answers carry an ETag: send it back
/// in `If-None-Match` and an unchanged list is a 304; `Accept-Encoding: gzip` is
/// honoured. `?limit=&after=` pages the list (a `Link: rel="next"` header names the next
/// page); `?fields=name,state` narrows each machine to those fields.
#[utoipa::path(get, path = routes::MACHINES.0, tag = "machines", security(("bearer" = ["viewer"])),
    params(MachineListQuery),
    responses((status = 200, body = [Machine]), (status = 304, description = "Not modified since the ETag sent")))]
pub async fn list(
    State(st): S,
    _: Viewer,
    Params(query): Params<MachineListQuery>,
    versions: Option<axum::Extension<crate::api::StoreVersions>>,
    headers: HeaderMap,
) -> Answer<Response> {
    let version = versions.map(|axum::Extension(v)| v.machines);
    st.machine_list
        .answer(st.fleet.as_ref(), version, &query, &headers)
        .await
}

/// All machines in brief, by name, each with its health in brief: what `ls` and a
/// TUI's first frame show, read without specs, driver data or health metrics (a
/// fraction of the list and the health together). Answers carry an ETag and honour
/// `If-None-Match` and `Accept-Encoding` (gzip, zstd) as the list does.
#[utoipa::path(get, path = routes::MACHINE_BRIEFS.0, tag = "machines", security(("bearer" = ["viewer"])),
    responses((status = 200, body = [MachineBrief]), (status = 304, description = "Not modified since the ETag sent")))]
pub async fn briefs(State(st): S, _: Viewer, headers: HeaderMap) -> Answer<Response> {
    let briefs = st.fleet.list_brief().await?;
    let json = serde_json::to_vec(&briefs).map_err(|e| {
        crate::api::Error::internal(format!("cannot serialize the machines in brief: {e}"))
    })?;
    super::list_cache::respond_once(json, &headers)
}

/// Create a machine (runs on; follow the operation).
#[utoipa::path(post, path = routes::MACHINES.0, tag = "machines", security(("bearer" = ["operator"])),
    request_body = MachineSpec, responses((status = 202, body = Operation)))]
pub async fn create(State(st): S, _: Operator, Body(spec): Body<MachineSpec>) -> Answer<Response> {
    let target = AuditTarget(spec.name.clone());
    let mut resp = accepted(st.fleet.create(spec).await?);
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// One machine.
#[utoipa::path(get, path = routes::MACHINE.0, tag = "machines", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = Machine)))]
pub async fn machine(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.get(&name).await?).into_response())
}

/// Remove a machine (?force: even when its host cannot be reached).
#[utoipa::path(delete, path = routes::MACHINE.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path), ForceQuery), responses((status = 202, body = Operation)))]
pub async fn remove(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Params(q): Params<ForceQuery>,
) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(st.fleet.remove(&name, q.force).await?))
}

/// The machine's state, asked of its driver now.
#[utoipa::path(get, path = routes::MACHINE_STATUS.0, tag = "machines", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = MachineState)))]
pub async fn status(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.status(&name).await?).into_response())
}

macro_rules! power {
    ($fn:ident, $route:ident, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(post, path = routes::$route.0, tag = "machines", security(("bearer" = ["operator"])),
            params(("name" = String, Path)), responses((status = 200, body = Machine)))]
        pub async fn $fn(State(st): S, _: Operator, Path(name): Path<String>) -> Answer<Response> {
            name_ok(&name)?;
            Ok(Json(st.fleet.$fn(&name).await?).into_response())
        }
    };
}
power!(start, MACHINE_START, "Start a machine.");
power!(stop, MACHINE_STOP, "Stop a machine.");
power!(restart, MACHINE_RESTART, "Restart a machine.");
power!(kill, MACHINE_KILL, "Kill a machine.");

/// Rerun provisioning (converges).
#[utoipa::path(post, path = routes::MACHINE_PROVISION.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = ProvisionBody, responses((status = 202, body = Operation)))]
pub async fn provision(
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

/// Reissue the machine's server certificate (and the fleet's client certificate).
#[utoipa::path(post, path = routes::MACHINE_REGENERATE_CERTS.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = RegenerateBody, responses((status = 202, body = Operation)))]
pub async fn regenerate_certs(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<RegenerateBody>,
) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(st.fleet.regenerate_certs(&name, b.client).await?))
}

/// A client certificate made for the caller, valid for the server's short lifetime.
#[utoipa::path(post, path = routes::MACHINE_CLIENT_CONFIG.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 200, body = ClientConfig)))]
pub async fn client_config(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    name_ok(&name)?;
    let g = grant(&c, st.client_cert_ttl);
    Ok(Json(st.fleet.user_client_config(&name, &g).await?).into_response())
}

/// An OpenSSH user certificate for the caller's own key; no private key leaves.
#[utoipa::path(post, path = routes::MACHINE_SSH_ACCESS.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = SshCertRequest, responses((status = 200, body = SshAccess)))]
pub async fn ssh_access(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
    Body(b): Body<SshCertRequest>,
) -> Answer<Response> {
    name_ok(&name)?;
    let g = grant(&c, st.ssh_cert_ttl);
    let access = st.fleet.user_ssh_access(&name, &b.public_key, &g).await?;
    Ok(Json(access).into_response())
}

/// The machine's recent health samples, oldest first.
#[utoipa::path(get, path = routes::MACHINE_HEALTH_HISTORY.0, tag = "health", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = [HealthSample])))]
pub async fn health_history(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.health_history(&name).await?).into_response())
}

/// A log provisioning left on the host (cloud-init, cloud-init-output), as a JSON string.
#[utoipa::path(get, path = routes::MACHINE_LOG.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path), ("log" = String, Path, description = "cloud-init or cloud-init-output")),
    responses((status = 200, body = String)))]
pub async fn machine_log(
    State(st): S,
    _: Operator,
    Path((name, log)): Path<(String, String)>,
) -> Answer<Response> {
    name_ok(&name)?;
    let which = MachineLog::parse(&log).ok_or_else(|| {
        ApiError::from(crate::api::Error::invalid(format!(
            "no log named {log:?}: cloud-init or cloud-init-output"
        )))
    })?;
    Ok(Json(st.fleet.machine_log(&name, which).await?).into_response())
}

/// The machine's `--engine-env` with its values unsealed (they may be passwords:
/// operators only, on request, audited); everywhere else each value reads `<sealed>`.
#[utoipa::path(post, path = routes::MACHINE_ENGINE_ENV.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 200, body = crate::api::rest::EngineEnv)))]
pub async fn engine_env(State(st): S, _: Operator, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    let env = st.fleet.engine_env(&name).await?;
    Ok(Json(crate::api::rest::EngineEnv { env }).into_response())
}

/// The machine's sealed cloud-init user-data, or null (it may hold secrets: operators
/// only, on request).
#[utoipa::path(post, path = routes::MACHINE_USER_DATA.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 200, body = Option<String>)))]
pub async fn user_data(State(st): S, _: Operator, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(Json(st.fleet.user_data(&name).await?).into_response())
}

/// The OS profiles provisioning chooses from (built-in and the server's own).
#[utoipa::path(get, path = routes::OS_PROFILES.0, tag = "provisioning", security(("bearer" = ["viewer"])),
    responses((status = 200, body = [OsProfileInfo])))]
pub async fn os_profiles(State(st): S, _: Viewer) -> Answer<Response> {
    Ok(Json(st.fleet.os_profiles().await?).into_response())
}

/// Running and recent operations, newest first.
#[utoipa::path(get, path = routes::OPERATIONS.0, tag = "operations", security(("bearer" = ["viewer"])),
    params(OperationsQuery), responses((status = 200, body = [Operation])))]
pub async fn operations(
    State(st): S,
    _: Viewer,
    Params(q): Params<OperationsQuery>,
) -> Answer<Response> {
    Ok(Json(st.fleet.operations(q.limit).await?).into_response())
}

/// One operation, with its steps and outcome so far.
#[utoipa::path(get, path = routes::OPERATION.0, tag = "operations", security(("bearer" = ["viewer"])),
    params(("id" = String, Path)), responses((status = 200, body = Operation)))]
pub async fn operation(State(st): S, _: Viewer, Path(id): Path<String>) -> Answer<Response> {
    Ok(Json(st.fleet.operation(&id).await?).into_response())
}

/// Ask a running operation to stop at its next step.
#[utoipa::path(post, path = routes::OPERATION_CANCEL.0, tag = "operations", security(("bearer" = ["operator"])),
    params(("id" = String, Path)), responses((status = 204)))]
pub async fn cancel(State(st): S, _: Operator, Path(id): Path<String>) -> Answer<Response> {
    st.fleet.cancel(&id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Recorded events, oldest first.
#[utoipa::path(get, path = routes::EVENTS.0, tag = "events", security(("bearer" = ["viewer"])),
    params(EventQuery), responses((status = 200, body = EventPage)))]
pub async fn events(State(st): S, _: Viewer, Params(q): Params<EventQuery>) -> Answer<Response> {
    Ok(Json(st.fleet.events(q).await?).into_response())
}

/// The latest health of the named machines (every machine without ?names). Answers
/// carry an ETag and honour `If-None-Match` and `Accept-Encoding` (gzip, zstd).
#[utoipa::path(get, path = routes::HEALTH.0, tag = "health", security(("bearer" = ["viewer"])),
    params(HealthQuery), responses((status = 200, body = [Health]), (status = 304, description = "Not modified since the ETag sent")))]
pub async fn health(
    State(st): S,
    _: Viewer,
    Params(q): Params<HealthQuery>,
    headers: HeaderMap,
) -> Answer<Response> {
    let names = q.names()?;
    let health = st.fleet.health(&names, q.check_now).await?;
    // Every remote TUI asks for it on each refresh: compressed when asked (a fleet's
    // health is mostly the same words), revalidated like the list.
    let json = serde_json::to_vec(&health)
        .map_err(|e| crate::api::Error::internal(format!("cannot serialize health: {e}")))?;
    super::list_cache::respond_once(json, &headers)
}

/// Reconfigure the server's health monitor.
#[utoipa::path(post, path = routes::MONITOR.0, tag = "health", security(("bearer" = ["operator"])),
    request_body = MonitorSettings, responses((status = 204)))]
pub async fn start_monitor(
    State(st): S,
    _: Operator,
    Body(settings): Body<MonitorSettings>,
) -> Answer<Response> {
    // Refused here with the same rule as everywhere, before the engine sees it.
    settings.validate()?;
    st.fleet.start_monitor(settings).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The live server replicas sharing the fleet's store: which monitor, how many
/// machines each checks.
#[utoipa::path(get, path = routes::REPLICAS.0, tag = "server", security(("bearer" = ["viewer"])),
    responses((status = 200, body = [Replica])))]
pub async fn replicas(State(st): S, _: Viewer) -> Answer<Response> {
    Ok(Json(st.fleet.replicas().await?).into_response())
}

/// All swarms as the store knows them.
#[utoipa::path(get, path = routes::SWARMS.0, tag = "swarms", security(("bearer" = ["viewer"])),
    responses((status = 200, body = [Swarm])))]
pub async fn swarm_list(State(st): S, _: Viewer) -> Answer<Response> {
    Ok(Json(st.fleet.swarm_list().await?).into_response())
}

/// Create a swarm (runs on; follow the operation).
#[utoipa::path(post, path = routes::SWARMS.0, tag = "swarms", security(("bearer" = ["operator"])),
    request_body = SwarmSpec, responses((status = 202, body = Operation)))]
pub async fn swarm_create(
    State(st): S,
    _: Operator,
    Body(spec): Body<SwarmSpec>,
) -> Answer<Response> {
    let target = AuditTarget(spec.name.clone());
    let mut resp = accepted(st.fleet.swarm_create(spec).await?);
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// One swarm, with its nodes as a manager sees them.
#[utoipa::path(get, path = routes::SWARM.0, tag = "swarms", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = Swarm)))]
pub async fn swarm_get(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    swarm_ok(&name)?;
    Ok(Json(st.fleet.swarm_get(&name).await?).into_response())
}

/// Remove a swarm and its machines (?force: past hosts that cannot be reached).
#[utoipa::path(delete, path = routes::SWARM.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path), ForceQuery), responses((status = 202, body = Operation)))]
pub async fn swarm_remove(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Params(q): Params<ForceQuery>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    Ok(accepted(st.fleet.swarm_remove(&name, q.force).await?))
}

/// Change the swarm's desired counts and converge.
#[utoipa::path(post, path = routes::SWARM_SCALE.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = ScaleRequest, responses((status = 202, body = Operation)))]
pub async fn swarm_scale(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(req): Body<ScaleRequest>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    Ok(accepted(st.fleet.swarm_scale(&name, req).await?))
}

/// Adopt an existing machine into the swarm.
#[utoipa::path(post, path = routes::SWARM_JOIN.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = JoinBody, responses((status = 202, body = Operation)))]
pub async fn swarm_join(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<JoinBody>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    name_ok(&b.machine)?;
    Ok(accepted(
        st.fleet.swarm_join(&name, &b.machine, b.role).await?,
    ))
}

/// The swarm's autoscaling policy and its latest decisions, newest first.
#[utoipa::path(get, path = routes::SWARM_AUTOSCALE.0, tag = "swarms", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = AutoscaleStatus)))]
pub async fn swarm_autoscale(
    State(st): S,
    _: Viewer,
    Path(name): Path<String>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    Ok(Json(st.fleet.swarm_autoscale(&name).await?).into_response())
}

/// Set the swarm's autoscaling policy (checked at its type), or with `policy: null`
/// turn autoscaling off. The server's autoscaler applies it at its next round.
#[utoipa::path(put, path = routes::SWARM_AUTOSCALE.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), request_body = AutoscaleBody, responses((status = 200, body = AutoscaleStatus)))]
pub async fn set_swarm_autoscale(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
    Body(b): Body<AutoscaleBody>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    let target = AuditTarget(match &b.policy {
        Some(p) => format!("{name}: {}", p.describe()),
        None => format!("{name}: off"),
    });
    let mut resp = Json(st.fleet.set_swarm_autoscale(&name, b.policy).await?).into_response();
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// Issue new join tokens (the old ones stop working).
#[utoipa::path(post, path = routes::SWARM_ROTATE_TOKENS.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 204)))]
pub async fn swarm_rotate_tokens(
    State(st): S,
    _: Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    st.fleet.swarm_rotate_tokens(&name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The swarm's manager endpoint, with a client certificate made for the caller.
#[utoipa::path(post, path = routes::SWARM_CLIENT_CONFIG.0, tag = "swarms", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 200, body = ClientConfig)))]
pub async fn swarm_client_config(
    State(st): S,
    Operator(c): Operator,
    Path(name): Path<String>,
) -> Answer<Response> {
    swarm_ok(&name)?;
    let g = grant(&c, st.client_cert_ttl);
    Ok(Json(st.fleet.user_swarm_client_config(&name, &g).await?).into_response())
}

/// The swarm's services as a manager sees them.
#[utoipa::path(get, path = routes::SWARM_SERVICES.0, tag = "swarms", security(("bearer" = ["viewer"])),
    params(("name" = String, Path)), responses((status = 200, body = [SwarmService])))]
pub async fn swarm_services(State(st): S, _: Viewer, Path(name): Path<String>) -> Answer<Response> {
    swarm_ok(&name)?;
    Ok(Json(st.fleet.swarm_services(&name).await?).into_response())
}

/// Bearer tokens (never the secrets).
#[utoipa::path(get, path = routes::TOKENS.0, tag = "access", security(("bearer" = ["admin"])),
    responses((status = 200, body = [TokenInfo])))]
pub async fn tokens(State(st): S, _: Admin) -> Answer<Response> {
    Ok(Json(st.fleet.tokens().await?).into_response())
}

/// Make a token: the secret is in this answer only.
#[utoipa::path(post, path = routes::TOKENS.0, tag = "access", security(("bearer" = ["admin"])),
    request_body = TokenSpec, responses((status = 201, body = NewToken)))]
pub async fn token_create(State(st): S, _: Admin, Body(spec): Body<TokenSpec>) -> Answer<Response> {
    let new = st.fleet.token_create(spec).await?;
    let mut resp = (StatusCode::CREATED, Json(&new)).into_response();
    resp.extensions_mut()
        .insert(AuditTarget(new.info.id.clone()));
    Ok(resp)
}

/// Revoke a token by id, or every active token of a user by name.
#[utoipa::path(delete, path = routes::TOKEN.0, tag = "access", security(("bearer" = ["admin"])),
    params(("id" = String, Path)), responses((status = 200, body = TokenInfo)))]
pub async fn token_revoke(State(st): S, _: Admin, Path(id): Path<String>) -> Answer<Response> {
    validate_token_name(&id)?;
    let revoked = st.fleet.token_revoke(&id).await?;
    // Open event streams check their tokens now.
    st.revoked.notify_waiters();
    let ids: Vec<&str> = revoked.iter().map(|t| t.id.as_str()).collect();
    let target = AuditTarget(ids.join(","));
    let mut resp = match revoked.first() {
        Some(first) => Json(first).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// The audit log, oldest first.
#[utoipa::path(get, path = routes::AUDIT.0, tag = "access", security(("bearer" = ["admin"])),
    params(AuditQuery), responses((status = 200, body = [AuditEntry])))]
pub async fn audit(State(st): S, _: Admin, Params(q): Params<AuditQuery>) -> Answer<Response> {
    Ok(Json(st.fleet.audit(q).await?).into_response())
}

/// How long the audit log keeps its entries.
#[utoipa::path(get, path = routes::AUDIT_RETENTION.0, tag = "access", security(("bearer" = ["admin"])),
    responses((status = 200, body = AuditRetention)))]
pub async fn audit_retention(State(st): S, _: Admin) -> Answer<Response> {
    Ok(Json(st.fleet.audit_retention().await?).into_response())
}

/// Set how long the audit log keeps its entries; what it no longer keeps is pruned at
/// once (the change and the pruning are audited).
#[utoipa::path(put, path = routes::AUDIT_RETENTION.0, tag = "access", security(("bearer" = ["admin"])),
    request_body = AuditRetention, responses((status = 200, body = AuditPruned)))]
pub async fn set_audit_retention(
    State(st): S,
    _: Admin,
    Body(r): Body<AuditRetention>,
) -> Answer<Response> {
    let target = AuditTarget(r.describe());
    let mut resp = Json(st.fleet.set_audit_retention(r).await?).into_response();
    resp.extensions_mut().insert(target);
    Ok(resp)
}

/// Adopt a machine another tool made (docker-machine) as a generic machine; its key and
/// TLS material are sealed in the store.
#[utoipa::path(post, path = routes::IMPORTS.0, tag = "machines", security(("bearer" = ["operator"])),
    request_body = crate::api::ImportedMachine, responses((status = 200, body = Machine)))]
pub async fn import(
    State(st): S,
    _: Operator,
    Body(m): Body<crate::api::ImportedMachine>,
) -> Answer<Response> {
    let target = AuditTarget(m.name.clone());
    let mut resp = Json(st.fleet.import(m).await?).into_response();
    resp.extensions_mut().insert(target);
    Ok(resp)
}

// docker-machine parity

/// Upgrade the machine's Docker Engine through its OS profile's package method.
#[utoipa::path(post, path = routes::MACHINE_UPGRADE.0, tag = "machines", security(("bearer" = ["operator"])),
    params(("name" = String, Path)), responses((status = 202, body = Operation)))]
pub async fn upgrade(State(st): S, _: Operator, Path(name): Path<String>) -> Answer<Response> {
    name_ok(&name)?;
    Ok(accepted(st.fleet.upgrade(&name).await?))
}
