//! Swarm lifecycles: create, scale, join, rotate-tokens, rm, and the endpoint that
//! `env --swarm` points at. A swarm operation holds the busy lock on the swarm's name
//! and on every machine of it, so nothing else touches them meanwhile.
//!
//! The desired shape is stored first; `converge` then makes it real step by step and
//! records what each step made, so any run (a rerun after a crash included) ends in
//! the same place.

mod cluster;
mod converge;
pub(crate) mod probe;
mod shrink;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use self::cluster::{control, local_swarm, observe, stored, within, within_for, Manager};
use self::converge::{converge, save_tokens, STEPS};
use self::shrink::Opts;
use super::{errors, machines, Inner};
use crate::api::now_ms;
use crate::api::{
    validate_managers, validate_swarm_name, ClientConfig, Error, ErrorKind, Hint, MachineSpec,
    MachineState, Operation, OperationKind, Result, Role, ScaleRequest, ServiceMode, Subject,
    Swarm, SwarmService, SwarmSpec, SwarmState,
};

/// Default `--drain-timeout`.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

const STEP_REMOVE_MACHINES: &str = "remove machines";
const STEP_FORGET: &str = "forget swarm";

pub(crate) async fn create(inner: &Arc<Inner>, mut spec: SwarmSpec) -> Result<Operation> {
    validate_swarm_name(&spec.name)?;
    validate_managers(spec.managers, spec.force)?;
    crate::api::validate_counts(spec.managers, spec.workers)?;
    if spec.driver.is_empty() {
        spec.driver = inner.default_driver().await?;
    }
    check_template(inner, &spec).await?;
    let mut user_data = take_user_data(&mut spec)?;
    user_data.extend(take_engine_env(&mut spec)?);
    let name = spec.name.clone();
    let mut inserted = false;
    match inner.store.swarm(&name).await? {
        Some(existing) => {
            // A rerun converges to the stored shape; a different shape is a scale.
            let s = &existing.spec;
            if (s.managers, s.workers, &s.driver) != (spec.managers, spec.workers, &spec.driver) {
                return Err(Error::already_exists(format!(
                    "swarm {name} exists with {} manager(s) and {} worker(s) on {}: scale it to change its shape, or pick another name",
                    s.managers, s.workers, s.driver
                ))
                .about(Subject::Swarm(name.clone()))
                .hint(Hint::Converge {
                    managers: Some(spec.managers),
                    workers: Some(spec.workers),
                    force: spec.force,
                }));
            }
        }
        None => {
            check_prefix(inner, &name).await?;
            let swarm = Swarm::planned(&spec, now_ms());
            if !inner.store.insert_swarm(&swarm).await? {
                return Err(Error::already_exists(format!(
                    "swarm {name} was just created by someone else"
                ))
                .about(Subject::Swarm(name.clone()))
                .hint(Hint::Inspect));
            }
            inserted = true;
            for (kind, text) in &user_data {
                if let Err(e) = inner
                    .store
                    .put_secret(&crate::store::swarm_owner(&name), kind, text)
                    .await
                {
                    let _ = inner.store.delete_swarm(&name).await;
                    return Err(e.into());
                }
            }
        }
    }
    // Scaling to the shape asked for finishes what a failed create left.
    let rerun = Hint::Converge {
        managers: Some(spec.managers),
        workers: Some(spec.workers),
        force: spec.force,
    };
    let target = name.clone();
    let started = inner
        .run_op(
            OperationKind::SwarmCreate,
            &name,
            STEPS,
            move |mut ctx| async move {
                let opts = Opts {
                    drain_timeout: DEFAULT_DRAIN_TIMEOUT,
                    replacing: None,
                };
                let mut report = Vec::new();
                let result = converge(&mut ctx, &target, &opts, &mut report).await;
                finish(&ctx.inner, &target, &rerun, result, &report).await
            },
        )
        .await;
    if started.is_err() && inserted {
        // Nothing was made: leave no row behind.
        let _ = inner.store.delete_swarm(&name).await;
    }
    started
}

/// The secret kind of the user-data of a role's machines (`user_data` for the template).
fn user_data_kind(role: Option<Role>) -> String {
    match role {
        None => "user_data".into(),
        Some(r) => format!("user_data:{r}"),
    }
}

/// Takes the user-data out of the templates (leaving its digest), checked, by secret kind.
fn take_user_data(spec: &mut SwarmSpec) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let templates = std::iter::once((None, &mut spec.template))
        .chain(spec.role_templates.iter_mut().map(|(r, t)| (Some(*r), t)));
    for (role, t) in templates {
        if let Some(ci) = t.cloud_init.as_mut() {
            if let Some(text) = ci.user_data.take() {
                crate::api::validate_user_data(&text)?;
                use sha2::Digest;
                ci.sha256 = Some(hex::encode(sha2::Sha256::digest(text.as_bytes())));
                out.push((user_data_kind(role), text));
            }
        }
    }
    Ok(out)
}

/// The secret kind of the engine env of a role's machines (`engine_env` for the template).
fn engine_env_kind(role: Option<Role>) -> String {
    let base = crate::engine::engine_env::ENGINE_ENV;
    match role {
        None => base.into(),
        Some(r) => format!("{base}:{r}"),
    }
}

/// Takes the engine env values out of the templates (leaving the keys), by secret kind.
pub(crate) fn take_engine_env(spec: &mut SwarmSpec) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let templates = std::iter::once((None, &mut spec.template))
        .chain(spec.role_templates.iter_mut().map(|(r, t)| (Some(*r), t)));
    for (role, t) in templates {
        if let Some(json) = crate::engine::engine_env::take(&mut t.engine)? {
            out.push((engine_env_kind(role), json));
        }
    }
    Ok(out)
}

/// Puts the sealed engine env of `role`'s template back into a new machine's spec.
pub(crate) async fn restore_engine_env(
    inner: &Arc<Inner>,
    swarm: &Swarm,
    role: Role,
    engine: &mut crate::api::EngineOptions,
) -> Result<()> {
    let kind = if swarm.spec.role_templates.contains_key(&role) {
        engine_env_kind(Some(role))
    } else {
        engine_env_kind(None)
    };
    let owner = crate::store::swarm_owner(&swarm.name);
    crate::engine::engine_env::restore(&inner.store, &owner, &kind, engine).await
}

/// The sealed user-data a machine of `role` gets.
pub(crate) async fn sealed_user_data(
    inner: &Arc<Inner>,
    swarm: &str,
    role: Role,
) -> Result<Option<String>> {
    let owner = crate::store::swarm_owner(swarm);
    if let Some(text) = inner
        .store
        .secret(&owner, &user_data_kind(Some(role)))
        .await?
    {
        return Ok(Some(text));
    }
    Ok(inner.store.secret(&owner, &user_data_kind(None)).await?)
}

/// The template's options are checked once, before anything is recorded, as a
/// machine's would be.
async fn check_template(inner: &Arc<Inner>, spec: &SwarmSpec) -> Result<()> {
    for t in std::iter::once(&spec.template).chain(spec.role_templates.values()) {
        t.engine.validate()?;
        if let Some(text) = t.cloud_init.as_ref().and_then(|c| c.user_data.as_deref()) {
            crate::api::validate_user_data(text)?;
        }
    }
    crate::api::validate_tls_sans(&spec.template.tls_san)?;
    for t in spec.role_templates.values() {
        crate::api::validate_tls_sans(&t.tls_san)?;
    }
    let driver = inner.driver(&spec.driver).await?;
    let mut sample = MachineSpec::new(format!("{}-m1", spec.name), spec.driver.clone());
    sample.engine = spec.template.engine.clone();
    sample.container = spec.template.container.clone();
    driver.precheck(&sample).await.map_err(errors::driver)
}

/// A swarm names its machines NAME-m1.., NAME-w1..: a machine outside the swarm with
/// that prefix would make every name ambiguous.
async fn check_prefix(inner: &Arc<Inner>, name: &str) -> Result<()> {
    let prefix = format!("{name}-");
    let clashes: Vec<String> = inner
        .store
        .machines()
        .await?
        .into_iter()
        .filter(|m| m.name.starts_with(&prefix) && m.swarm.as_deref() != Some(name))
        .map(|m| m.name)
        .collect();
    if let Some(first) = clashes.first() {
        return Err(Error::conflict(format!(
            "swarm name {name:?} clashes with machine {first}{}: a swarm's machines are named {name}-m1, {name}-w1, ...; pick another swarm name",
            if clashes.len() > 1 {
                format!(" (and {} more)", clashes.len() - 1)
            } else {
                String::new()
            }
        )));
    }
    Ok(())
}

/// Records how a swarm operation ended and what it reports; turns an interruption
/// into what to run next.
async fn finish(
    inner: &Arc<Inner>,
    name: &str,
    rerun: &Hint,
    result: Result<()>,
    report: &[String],
) -> Result<()> {
    for line in report {
        tracing::info!("swarm {name}: {line}");
    }
    if let Err(e) = inner.store.set_swarm_report(name, report).await {
        tracing::warn!("cannot record the report of swarm {name}: {e}");
    }
    let result = match result {
        Err(e) if e.is(ErrorKind::Interrupted) => Err(Error::interrupted(
            "interrupted: what was made is recorded; running it again converges, removing the swarm removes it",
        )
        .about(Subject::Swarm(name.to_string()))
        .hint(rerun.clone())),
        other => other,
    };
    let (state, error) = match &result {
        Ok(()) => (SwarmState::Ready, None),
        Err(e) => (SwarmState::Degraded, Some(e.to_string())),
    };
    if let Err(e) = inner
        .store
        .set_swarm_state(name, state, error.as_deref())
        .await
    {
        tracing::warn!("cannot record the state of swarm {name}: {e}");
    }
    result
}

/// The stored swarms, after ending an operation a dead process left on one (a swarm
/// shown Creating, Scaling or Removing has a live operation).
pub(crate) async fn list(inner: &Arc<Inner>) -> Result<Vec<Swarm>> {
    let swarms = inner.store.swarms().await?;
    let mut changed = false;
    for s in swarms.iter().filter(|s| s.state.is_transitional()) {
        changed |= inner.settle_abandoned(&s.name).await?;
    }
    if changed {
        return Ok(inner.store.swarms().await?);
    }
    Ok(swarms)
}

/// The stored swarm, refreshed from a manager when one answers within a few seconds.
pub(crate) async fn get(inner: &Arc<Inner>, name: &str) -> Result<Swarm> {
    let mut swarm = stored(inner, name).await?;
    if swarm.state.is_transitional() && inner.settle_abandoned(name).await? {
        swarm = stored(inner, name).await?;
    }
    let refreshed = tokio::time::timeout(Duration::from_secs(15), async {
        let mgr = control(inner, &swarm, &[]).await?;
        observe(inner, name, &mgr).await
    })
    .await;
    match refreshed {
        Ok(Ok(_)) => stored(inner, name).await,
        Ok(Err(e)) => {
            tracing::info!("swarm {name}: showing the stored view: {e}");
            Ok(swarm)
        }
        Err(_) => Ok(swarm),
    }
}

/// The swarm's services as a reachable manager sees them now.
pub(crate) async fn services(inner: &Arc<Inner>, name: &str) -> Result<Vec<SwarmService>> {
    let swarm = stored(inner, name).await?;
    let mgr = control(inner, &swarm, &[]).await?;
    let services = within(&mgr.machine, async {
        mgr.docker
            .services()
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?;
    Ok(services
        .into_iter()
        .map(|s| SwarmService {
            id: s.id,
            name: s.name,
            mode: match s.mode {
                "global" => ServiceMode::Global,
                "replicated" => ServiceMode::Replicated,
                _ => ServiceMode::Other,
            },
            running: s.running,
            desired: s.desired,
            image: s.image,
        })
        .collect())
}

pub(crate) async fn scale(inner: &Arc<Inner>, name: &str, req: ScaleRequest) -> Result<Operation> {
    req.validate()?;
    let swarm = stored(inner, name).await?;
    let managers = req.managers.unwrap_or(swarm.spec.managers);
    let workers = req.workers.unwrap_or(swarm.spec.workers);
    if req.managers.is_some() {
        validate_managers(managers, req.force)?;
    }
    let rerun = Hint::Converge {
        managers: req.managers,
        workers: req.workers,
        force: req.force,
    };
    let target = name.to_string();
    let drain_timeout = Duration::from_secs(req.drain_timeout_secs);
    inner
        .run_op(
            OperationKind::SwarmScale,
            name,
            STEPS,
            move |mut ctx| async move {
                // The new shape is written only once this operation owns the swarm,
                // so a running one never sees it change under it.
                let mut report = Vec::new();
                let result = async {
                    let mut spec = stored(&ctx.inner, &target).await?.spec;
                    spec.managers = managers;
                    spec.workers = workers;
                    spec.force = spec.force || req.force;
                    ctx.inner.store.set_swarm_spec(&target, &spec).await?;
                    ctx.inner
                        .store
                        .set_swarm_state(&target, SwarmState::Scaling, None)
                        .await?;
                    let opts = Opts {
                        drain_timeout,
                        replacing: None,
                    };
                    converge(&mut ctx, &target, &opts, &mut report).await
                }
                .await;
                finish(&ctx.inner, &target, &rerun, result, &report).await
            },
        )
        .await
}

/// Replaces `machine`, a node of swarm `name` (a dead one, as the autoscaler sees
/// it): a new node of its role joins first, then `machine` leaves the swarm (a
/// manager is demoted first, only while the quorum holds) and its host is deleted.
/// The shape stays. If the new node does not come up, `machine` stays too, and the
/// error says so: scaling to the stored shape then removes the half-made node.
pub(crate) async fn replace(
    inner: &Arc<Inner>,
    name: &str,
    machine: &str,
    drain_timeout: Duration,
) -> Result<Operation> {
    stored(inner, name).await?;
    let rec = inner
        .store
        .swarm_node(machine)
        .await?
        .filter(|r| r.swarm == name)
        .ok_or_else(|| {
            Error::missing(format!("{machine} is not a node of swarm {name}"))
                .about(Subject::Swarm(name.to_string()))
                .hint(Hint::Inspect)
        })?;
    let rerun = Hint::Converge {
        managers: None,
        workers: None,
        force: false,
    };
    let target = name.to_string();
    let machine = rec.node.machine;
    inner
        .run_op(
            OperationKind::SwarmScale,
            name,
            STEPS,
            move |mut ctx| async move {
                let mut report = Vec::new();
                let result = async {
                    ctx.inner
                        .store
                        .set_swarm_state(&target, SwarmState::Scaling, None)
                        .await?;
                    ctx.inner.store.set_node_leaving(&machine, true).await?;
                    let opts = Opts {
                        drain_timeout,
                        replacing: Some(machine.clone()),
                    };
                    converge(&mut ctx, &target, &opts, &mut report).await
                }
                .await;
                if result.is_err() {
                    // Whatever failed, the old node is a member again (if it still is
                    // one): a later scale to the shape removes the unhealthy surplus.
                    if let Err(e) = ctx.inner.store.set_node_leaving(&machine, false).await {
                        tracing::warn!("swarm {target}: cannot keep {machine}: {e}");
                    }
                }
                finish(&ctx.inner, &target, &rerun, result, &report).await
            },
        )
        .await
}

pub(crate) async fn join(
    inner: &Arc<Inner>,
    name: &str,
    machine: &str,
    role: Role,
) -> Result<Operation> {
    let swarm = stored(inner, name).await?;
    let m = inner.store.machine(machine).await?.machine;
    if m.state != MachineState::Running {
        return Err(Error::conflict(format!(
            "{machine} is not running (state {}): start it first",
            m.state
        ))
        .about(Subject::Machine(machine.to_string()))
        .hint(Hint::Start));
    }
    if let Some(rec) = inner.store.swarm_node(machine).await? {
        if rec.swarm != name {
            return Err(Error::conflict(format!(
                "{machine} is a node of swarm {}: a machine belongs to one swarm",
                rec.swarm
            )));
        }
        if rec.node.role != role {
            return Err(Error::conflict(format!(
                "{machine} is a {} of swarm {name} already",
                rec.node.role
            )));
        }
    } else if let Some(other) = m.swarm.as_deref().filter(|s| *s != name) {
        return Err(Error::conflict(format!(
            "{machine} is a node of swarm {other}: a machine belongs to one swarm"
        )));
    }
    // A machine in some other cluster is not pulled out of it behind its owner's back.
    let local = local_swarm(inner, machine).await?;
    if local.is_active() {
        let ours = match control(inner, &swarm, &[]).await {
            Ok(mgr) => {
                let nodes = mgr.nodes().await?;
                local
                    .node_id
                    .as_deref()
                    .is_some_and(|id| nodes.iter().any(|n| n.id == id))
            }
            Err(e) => return Err(e),
        };
        if !ours {
            return Err(Error::conflict(format!(
                "{machine} is in another swarm already: make it leave first (docker swarm leave --force on the host)"
            ))
            .about(Subject::Machine(machine.to_string())));
        }
    }
    let target = name.to_string();
    let machine = machine.to_string();
    // A join is finished by joining again; the hint shows where it stands.
    let rerun = Hint::Inspect;
    inner
        .run_op(
            OperationKind::SwarmJoin,
            name,
            STEPS,
            move |mut ctx| async move {
                let mut report = Vec::new();
                let result = async {
                    let inner = ctx.inner.clone();
                    let _hold = ctx.hold(&machine).await?;
                    if inner.store.swarm_node(&machine).await?.is_none() {
                        inner
                            .store
                            .add_swarm_node(&target, &machine, role, true)
                            .await?;
                        let mut spec = stored(&inner, &target).await?.spec;
                        match role {
                            Role::Manager => spec.managers += 1,
                            Role::Worker => spec.workers += 1,
                        }
                        // An adopted manager may make the count even: the user asked.
                        spec.force = spec.force || spec.managers % 2 == 0;
                        inner.store.set_swarm_spec(&target, &spec).await?;
                    }
                    inner
                        .store
                        .set_machine_swarm(&machine, Some(&target))
                        .await?;
                    inner
                        .store
                        .set_swarm_state(&target, SwarmState::Scaling, None)
                        .await?;
                    converge(
                        &mut ctx,
                        &target,
                        &Opts {
                            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
                            replacing: None,
                        },
                        &mut report,
                    )
                    .await
                }
                .await;
                finish(&ctx.inner, &target, &rerun, result, &report).await
            },
        )
        .await
}

pub(crate) async fn rotate_tokens(inner: &Arc<Inner>, name: &str) -> Result<()> {
    let swarm = stored(inner, name).await?;
    inner.ops.ensure_idle(name)?;
    let mgr = control(inner, &swarm, &[]).await?;
    within_for(&mgr.machine, Duration::from_secs(60), async {
        mgr.docker
            .swarm_rotate_tokens()
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?;
    save_tokens(inner, name, &mgr).await
}

pub(crate) async fn remove(inner: &Arc<Inner>, name: &str, force: bool) -> Result<Operation> {
    stored(inner, name).await?;
    let target = name.to_string();
    inner
        .run_op(
            OperationKind::SwarmRemove,
            name,
            &[STEP_REMOVE_MACHINES, STEP_FORGET],
            move |mut ctx| async move {
                let inner = ctx.inner.clone();
                inner
                    .store
                    .set_swarm_state(&target, SwarmState::Removing, None)
                    .await?;
                ctx.step(STEP_REMOVE_MACHINES)?;
                let records = inner.store.swarm_node_records(&target).await?;
                let mut holds = Vec::new();
                for r in &records {
                    holds.push(ctx.hold(&r.node.machine).await?);
                }
                let ctx_ref = &ctx;
                let jobs = records.into_iter().map(|r| {
                    let inner = inner.clone();
                    async move {
                        let machine = r.node.machine;
                        let removed = async {
                            if inner.store.machine(&machine).await.is_ok() {
                                let mut child = ctx_ref.child(&machine);
                                machines::remove_steps(&mut child, &machine, force).await?;
                            }
                            inner.store.remove_swarm_node(&machine).await?;
                            Ok::<(), Error>(())
                        }
                        .await;
                        (machine, removed)
                    }
                });
                let results: Vec<(String, Result<()>)> = stream::iter(jobs)
                    .buffer_unordered(inner.settings.swarm_parallel)
                    .collect()
                    .await;
                let failed: Vec<String> = results
                    .into_iter()
                    .filter_map(|(m, r)| r.err().map(|e| format!("{m}: {e}")))
                    .collect();
                if !failed.is_empty() {
                    let e = Error::driver(format!(
                        "{} machine(s) of swarm {target} were not removed: {}; removing with force goes on past them",
                        failed.len(),
                        failed.join("; ")
                    ))
                    .about(Subject::Swarm(target.clone()))
                    .hint(Hint::Remove { force: true });
                    let _ = inner
                        .store
                        .set_swarm_state(&target, SwarmState::Degraded, Some(&e.to_string()))
                        .await;
                    return Err(e);
                }
                ctx.step(STEP_FORGET)?;
                inner.store.delete_swarm(&target).await?;
                inner.store.delete_autoscale_next(&target).await?;
                let dir = swarm_dir(&inner, &target);
                match std::fs::remove_dir_all(&dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(Error::internal(format!(
                            "cannot remove {}: {e}",
                            dir.display()
                        )))
                    }
                }
                drop(holds);
                Ok(())
            },
        )
        .await
}

/// Where `env --swarm` keeps the docker CLI's certificates for a swarm: they outlive
/// any one manager, so a shell's DOCKER_CERT_PATH stays valid when managers change.
pub fn swarm_dir(inner: &Inner, name: &str) -> std::path::PathBuf {
    inner.paths.data_dir.join("swarms").join(name)
}

/// A manager the docker CLI can use: the leader when it answers, else another manager
/// that can take decisions, else any manager whose engine answers.
pub(crate) async fn client_config(inner: &Arc<Inner>, name: &str) -> Result<ClientConfig> {
    let swarm = stored(inner, name).await?;
    let leaving: Vec<String> = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .filter(|r| r.leaving)
        .map(|r| r.node.machine)
        .collect();
    let chosen = match control(inner, &swarm, &leaving).await {
        Ok(mgr) => leader_or(inner, name, &swarm, &leaving, mgr).await,
        Err(e) => {
            // No quorum: any manager that answers still lets the user look around.
            let mut answering = None;
            for n in swarm.nodes.iter().filter(|n| {
                n.role == Role::Manager
                    && n.machine_state == Some(MachineState::Running)
                    && !leaving.contains(&n.machine)
            }) {
                if local_swarm(inner, &n.machine).await.is_ok() {
                    answering = Some(n.machine.clone());
                    break;
                }
            }
            answering.ok_or(e)?
        }
    };
    machines::client_config(inner, &chosen).await
}

/// The leader's machine when it is one of ours and answers; else `mgr`'s.
async fn leader_or(
    inner: &Arc<Inner>,
    name: &str,
    swarm: &Swarm,
    leaving: &[String],
    mgr: Manager,
) -> String {
    let Ok(nodes) = observe(inner, name, &mgr).await else {
        return mgr.machine;
    };
    let leader = nodes.iter().find(|n| n.leader).and_then(|l| {
        swarm
            .nodes
            .iter()
            .find(|n| n.node_id.as_deref() == Some(l.id.as_str()) || n.machine == l.hostname)
            .map(|n| n.machine.clone())
    });
    match leader {
        Some(l) if l == mgr.machine => l,
        Some(l) if !leaving.contains(&l) => {
            let started = Instant::now();
            match local_swarm(inner, &l).await {
                Ok(local) if local.control_available => l,
                _ => {
                    tracing::info!(
                        "leader {l} did not answer within {:?}; using {}",
                        started.elapsed(),
                        mgr.machine
                    );
                    mgr.machine
                }
            }
        }
        _ => mgr.machine,
    }
}

/// Each manager of the swarm (not leaving) and whether its engine answers as a swarm
/// member now: what can be seen of the managers when none can take decisions.
pub(crate) async fn managers_answering(
    inner: &Arc<Inner>,
    name: &str,
) -> Result<Vec<(String, bool)>> {
    let managers: Vec<NodeRecordLite> = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .filter(|r| r.node.role == Role::Manager && !r.leaving)
        .map(|r| NodeRecordLite {
            running: r.node.machine_state == Some(MachineState::Running),
            machine: r.node.machine,
        })
        .collect();
    let running: Vec<String> = managers
        .iter()
        .filter(|m| m.running)
        .map(|m| m.machine.clone())
        .collect();
    let alive = cluster::answering(inner, &running).await;
    Ok(managers
        .into_iter()
        .map(|m| {
            let ok = alive.contains(&m.machine);
            (m.machine, ok)
        })
        .collect())
}

struct NodeRecordLite {
    machine: String,
    running: bool,
}

/// What the autoscaler reads from a swarm's deciding manager in one look.
pub(crate) struct Snapshot {
    /// Every node row with what the manager says of it (None: it does not know it).
    pub members: Vec<(
        crate::store::NodeRecord,
        Option<crate::docker::swarm::NodeInfo>,
    )>,
    pub tasks: Vec<crate::docker::swarm::TaskInfo>,
    /// Service names by id.
    pub services: std::collections::HashMap<String, String>,
}

/// One look at the swarm through a manager that can take decisions, every call bounded.
pub(crate) async fn snapshot(inner: &Arc<Inner>, name: &str) -> Result<Snapshot> {
    let swarm = stored(inner, name).await?;
    let mgr = control(inner, &swarm, &[]).await?;
    let nodes = observe(inner, name, &mgr).await?;
    let tasks = within(&mgr.machine, async {
        mgr.docker
            .tasks(None)
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?;
    let services = within(&mgr.machine, async {
        mgr.docker
            .services()
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?
    .into_iter()
    .map(|s| (s.id, s.name))
    .collect();
    let members = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .map(|r| {
            let info =
                cluster::node_of(&nodes, &r.node.machine, r.node.node_id.as_deref()).cloned();
            (r, info)
        })
        .collect();
    Ok(Snapshot {
        members,
        tasks,
        services,
    })
}
