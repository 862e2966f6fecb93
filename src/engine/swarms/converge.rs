//! Converging a swarm to its stored shape. create, scale and join all run these steps;
//! each one looks at what exists before acting, so a rerun after a crash or Ctrl-C
//! picks up where the last run stopped and never makes a second cluster or a
//! duplicate node.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt};

use super::cluster::{
    control, docker_for, ip_of, local_swarm, observe, stored, within, within_for, Manager, POLL,
};
use super::shrink::{self, Opts};
use crate::api::{
    new_node_names, Error, ErrorKind, EventKind, MachineSpec, MachineState, Result, Role, Subject,
    Swarm,
};
use crate::docker::swarm::NodeInfo;
use crate::engine::ops::Hold;
use crate::engine::{errors, machines, Inner, OpCtx};
use crate::store::{swarm_owner, NodeRecord};

pub(super) const STEP_PLAN: &str = "plan nodes";
pub(super) const STEP_MACHINES: &str = "create machines";
pub(super) const STEP_INIT: &str = "initialise swarm";
pub(super) const STEP_MANAGERS: &str = "join managers";
pub(super) const STEP_WORKERS: &str = "join workers";
pub(super) const STEP_SHRINK: &str = "remove surplus nodes";
pub(super) const STEP_CHECK: &str = "check shape";

pub(super) const STEPS: &[&str] = &[
    STEP_PLAN,
    STEP_MACHINES,
    STEP_INIT,
    STEP_MANAGERS,
    STEP_WORKERS,
    STEP_SHRINK,
    STEP_CHECK,
];

/// A join (or init) may wait for the cluster's Raft log; give it longer than a probe.
const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a new manager may take to become reachable, or a node to become ready.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs every step. `report` collects what a user should know beyond success.
pub(super) async fn converge(
    ctx: &mut OpCtx,
    name: &str,
    opts: &Opts,
    report: &mut Vec<String>,
) -> Result<()> {
    ctx.step(STEP_PLAN)?;
    let mut holds: Vec<Hold> = Vec::new();
    let reactivate = plan(ctx, name, opts.replacing.as_deref(), &mut holds).await?;

    ctx.step(STEP_MACHINES)?;
    let mut failures = make_machines(ctx, name).await?;

    ctx.step(STEP_INIT)?;
    if let Err(e) = init(ctx, name).await {
        // Without a cluster nothing joins: say why the machines are missing, if so.
        return Err(match e {
            _ if e.is(ErrorKind::Interrupted) => e,
            _ if !failures.is_empty() => came_up_error(name, &failures),
            _ => e,
        });
    }

    ctx.step(STEP_MANAGERS)?;
    let manager_failures = join_role(ctx, name, Role::Manager, &reactivate).await?;
    let managers_ok = manager_failures.is_empty() && failures.is_empty();
    failures.extend(manager_failures);
    ctx.step(STEP_WORKERS)?;
    failures.extend(join_role(ctx, name, Role::Worker, &reactivate).await?);

    ctx.step(STEP_SHRINK)?;
    if let Some(old) = opts.replacing.as_deref() {
        if !failures.is_empty() {
            // Its replacement did not come up: the old node stays a member.
            ctx.inner.store.set_node_leaving(old, false).await?;
            report.push(format!(
                "{old} was not removed: the node meant to replace it did not come up"
            ));
        }
    }
    // Surplus workers go whatever else failed (a dead node must not pin the shape), but
    // no manager goes while a new one may be missing: new managers come first.
    shrink::workers(ctx, name, opts, report).await?;
    if managers_ok {
        shrink::managers(ctx, name, opts, report).await?;
    }
    if !failures.is_empty() {
        ctx.skip(STEP_CHECK);
        return Err(came_up_error(name, &failures));
    }

    ctx.step(STEP_CHECK)?;
    check(ctx, name).await
}

fn came_up_error(name: &str, failures: &[String]) -> Error {
    let total = failures.len();
    Error::docker(format!(
        "{total} node{} of swarm {name} did not come up: {}; run the command again to retry",
        if total == 1 { "" } else { "s" },
        failures.join("; ")
    ))
}

/// Writes a row for every node the shape lacks (before any machine exists) and claims
/// every machine of the swarm for this operation. Returns the machines an unfinished
/// scale-down had chosen to remove that the new shape keeps: they get their
/// availability back when they are checked. The node being `replacing` is never taken
/// back: a new node fills its place.
async fn plan(
    ctx: &mut OpCtx,
    name: &str,
    replacing: Option<&str>,
    holds: &mut Vec<Hold>,
) -> Result<HashSet<String>> {
    let inner = ctx.inner.clone();
    let swarm = stored(&inner, name).await?;
    // An adopted machine the user removed since is no longer part of the plan.
    for rec in inner.store.swarm_node_records(name).await? {
        if rec.node.adopted && rec.node.machine_state.is_none() {
            inner.store.remove_swarm_node(&rec.node.machine).await?;
        }
    }
    let records = inner.store.swarm_node_records(name).await?;
    let mut taken: HashSet<String> = records.iter().map(|r| r.node.machine.clone()).collect();
    let mut reactivate = HashSet::new();
    for role in [Role::Manager, Role::Worker] {
        let desired = match role {
            Role::Manager => swarm.spec.managers,
            Role::Worker => swarm.spec.workers,
        } as usize;
        let mut kept = records
            .iter()
            .filter(|r| r.node.role == role && !r.leaving)
            .count();
        let mut leaving: Vec<&NodeRecord> = records
            .iter()
            .filter(|r| r.node.role == role && r.leaving)
            .filter(|r| Some(r.node.machine.as_str()) != replacing)
            .collect();
        while kept < desired {
            let Some(rec) = leaving.pop() else { break };
            inner
                .store
                .set_node_leaving(&rec.node.machine, false)
                .await?;
            reactivate.insert(rec.node.machine.clone());
            kept += 1;
        }
        if kept > desired {
            shrink::choose(&inner, name, role, kept - desired).await?;
        }
        if kept < desired {
            // Named by the one rule the faces preview with (`api::new_node_names`).
            let existing: HashSet<String> = inner
                .store
                .machines()
                .await?
                .into_iter()
                .map(|m| m.name)
                .collect();
            let is_taken = |n: &str| taken.contains(n) || existing.contains(n);
            for candidate in new_node_names(name, role, desired - kept, &is_taken) {
                inner
                    .store
                    .add_swarm_node(name, &candidate, role, false)
                    .await?;
                taken.insert(candidate);
            }
        }
    }
    for machine in &taken {
        holds.push(ctx.hold(machine).await?);
    }
    Ok(reactivate)
}

/// The machine spec of one node: the swarm's template, its driver, and engine labels
/// naming the swarm and the role.
fn machine_spec(swarm: &Swarm, machine: &str, role: Role) -> MachineSpec {
    let t = swarm.spec.template_for(role);
    let mut spec = MachineSpec::new(machine, swarm.driver.clone());
    spec.cloud_init = t.cloud_init.clone();
    spec.os_profile = t.os_profile.clone();
    spec.engine = t.engine.clone();
    spec.engine
        .labels
        .push(format!("flotilla.swarm={}", swarm.name));
    spec.engine
        .labels
        .push(format!("flotilla.swarm.role={role}"));
    spec.container = t.container.clone();
    spec.tls_san = t.tls_san.clone();
    spec
}

/// Makes, in parallel (bounded), every planned machine that is missing, and remakes
/// one a crash left half-made (it never joined, so nothing of the cluster is lost).
/// Returns one line per machine that failed.
async fn make_machines(ctx: &mut OpCtx, name: &str) -> Result<Vec<String>> {
    let inner = ctx.inner.clone();
    let swarm = stored(&inner, name).await?;
    let records = inner.store.swarm_node_records(name).await?;
    let mut todo: Vec<(String, Role)> = Vec::new();
    for rec in records.iter().filter(|r| !r.leaving) {
        let n = &rec.node;
        match n.machine_state {
            Some(MachineState::Running) => {}
            None => {
                if n.node_id.is_some() {
                    // The machine was removed behind the swarm's back: its old node
                    // entry is tidied away at the end, a new machine joins instead.
                    inner.store.set_node_id(&n.machine, None).await?;
                }
                todo.push((n.machine.clone(), n.role));
            }
            Some(_) if n.node_id.is_none() && !n.adopted => todo.push((n.machine.clone(), n.role)),
            // A joined node whose machine is not running is reported by the final check.
            Some(_) => {}
        }
    }
    let jobs = todo.into_iter().map(|(machine, role)| {
        let mut child = ctx.child(&machine);
        let mut spec = machine_spec(&swarm, &machine, role);
        let inner = inner.clone();
        let swarm_name = name.to_string();
        let swarm = swarm.clone();
        async move {
            let made = async {
                if inner.store.machine(&machine).await.is_ok() {
                    machines::remove_steps(&mut child, &machine, true).await?;
                }
                // The swarm's sealed user-data and engine env go to each machine, sealed
                // there again.
                if let Some(ci) = spec.cloud_init.as_mut() {
                    ci.user_data = super::sealed_user_data(&inner, &swarm_name, role).await?;
                }
                super::restore_engine_env(&inner, &swarm, role, &mut spec.engine).await?;
                let (spec, key) = machines::admit(&inner, spec).await?;
                inner
                    .store
                    .set_machine_swarm(&machine, Some(&swarm_name))
                    .await?;
                machines::create_steps(&mut child, spec, key).await
            }
            .await;
            (machine, made)
        }
    });
    let results: Vec<(String, Result<()>)> = stream::iter(jobs)
        .buffer_unordered(inner.settings.swarm_parallel)
        .collect()
        .await;
    let mut failures = Vec::new();
    for (machine, made) in results {
        match made {
            Ok(()) => {}
            Err(e) if e.is(ErrorKind::Interrupted) => return Err(e),
            Err(e) => failures.push(format!("{machine}: {e}")),
        }
    }
    Ok(failures)
}

/// Makes sure the cluster exists exactly once: a recorded cluster must answer; with
/// none recorded, a manager already in a swarm (a crash after init) is adopted, and
/// only when no manager is in one does the first manager run `swarm init`.
async fn init(ctx: &mut OpCtx, name: &str) -> Result<()> {
    let inner = ctx.inner.clone();
    let swarm = stored(&inner, name).await?;
    if swarm.cluster_id.is_none() {
        let managers: Vec<&str> = swarm
            .nodes
            .iter()
            .filter(|n| n.role == Role::Manager && n.machine_state == Some(MachineState::Running))
            .map(|n| n.machine.as_str())
            .collect();
        let mut found: Option<(String, String, Option<String>)> = None;
        for m in &managers {
            let local = ctx.guard(local_swarm(&inner, m)).await?;
            if let (true, Some(cluster)) = (local.is_active(), local.cluster_id.clone()) {
                match &found {
                    Some((other, c, _)) if *c != cluster => {
                        return Err(Error::conflict(format!(
                            "managers of swarm {name} are in two clusters ({other}: {c}, {m}: {cluster}): scale the swarm or remove one of the machines"
                        )))
                    }
                    Some(_) => {}
                    None => found = Some((m.to_string(), cluster, local.node_id.clone())),
                }
            }
        }
        let initialised = found.is_none();
        let (machine, cluster, node_id) = match found {
            Some(f) => f,
            None => {
                let first = managers.first().ok_or_else(|| {
                    Error::conflict(format!(
                        "swarm {name} has no running manager machine to initialise the cluster on: run the command again"
                    ))
                })?;
                let ip = ip_of(&inner, first).await?;
                let d = docker_for(&inner, first).await?;
                let node_id = ctx
                    .guard(within_for(first, JOIN_TIMEOUT, async {
                        d.swarm_init(&ip)
                            .await
                            .map_err(|e| errors::docker(first, e))
                    }))
                    .await?;
                let local = within(first, async {
                    d.local_swarm().await.map_err(|e| errors::docker(first, e))
                })
                .await?;
                let cluster = local.cluster_id.ok_or_else(|| {
                    Error::docker(format!(
                        "{first}: swarm init succeeded but the engine reports no cluster id"
                    ))
                })?;
                (first.to_string(), cluster, Some(node_id))
            }
        };
        inner.store.set_swarm_cluster(name, Some(&cluster)).await?;
        inner
            .store
            .set_node_id(&machine, node_id.as_deref())
            .await?;
        inner.store.set_swarm_leader(name, Some(&machine)).await?;
        if initialised {
            if let Some(id) = &node_id {
                inner.bus.emit(EventKind::SwarmNodeJoined {
                    swarm: name.to_string(),
                    machine: machine.clone(),
                    role: Role::Manager.to_string(),
                    node_id: id.clone(),
                });
            }
        }
    }
    let swarm = stored(&inner, name).await?;
    let mgr = ctx.guard(control(&inner, &swarm, &[])).await?;
    save_tokens(&inner, name, &mgr).await
}

/// Keeps the join tokens sealed in the store, as the cluster has them now.
pub(super) async fn save_tokens(inner: &Arc<Inner>, name: &str, mgr: &Manager) -> Result<()> {
    let cluster = within(&mgr.machine, async {
        mgr.docker
            .cluster()
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?;
    let owner = swarm_owner(name);
    for (kind, token) in [
        ("join_token_worker", &cluster.worker_token),
        ("join_token_manager", &cluster.manager_token),
    ] {
        if inner.store.secret(&owner, kind).await?.as_deref() != Some(token.as_str()) {
            inner.store.put_secret(&owner, kind, token).await?;
        }
    }
    Ok(())
}

/// The join token for `role`, from the store (kept current by `save_tokens`).
async fn token(inner: &Arc<Inner>, name: &str, role: Role) -> Result<String> {
    let kind = match role {
        Role::Manager => "join_token_manager",
        Role::Worker => "join_token_worker",
    };
    inner
        .store
        .secret(&swarm_owner(name), kind)
        .await?
        .ok_or_else(|| {
            Error::store(format!(
                "swarm {name} has no {role} join token stored: rotating the swarm's tokens stores new ones"
            ))
            .about(Subject::Swarm(name.to_string()))
        })
}

/// Joins every running machine of `role` that is not in the cluster yet: managers one
/// at a time (each must be reachable before the next changes the Raft membership),
/// workers in parallel. Returns one line per machine that failed.
async fn join_role(
    ctx: &mut OpCtx,
    name: &str,
    role: Role,
    reactivate: &HashSet<String>,
) -> Result<Vec<String>> {
    let inner = ctx.inner.clone();
    let swarm = stored(&inner, name).await?;
    let members: Vec<NodeRecord> = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .filter(|r| r.node.role == role && !r.leaving)
        .filter(|r| r.node.machine_state == Some(MachineState::Running))
        .collect();
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let mgr = ctx.guard(control(&inner, &swarm, &[])).await?;
    let token = token(&inner, name, role).await?;
    let addrs = mgr.join_addrs().await;
    let nodes = mgr.nodes().await?;
    let parallel = match role {
        Role::Manager => 1,
        Role::Worker => inner.settings.swarm_parallel,
    };
    let ctx_ref: &OpCtx = ctx;
    let jobs = members.into_iter().map(|rec| {
        let (inner, mgr, token, addrs, nodes) = (&inner, &mgr, &token, &addrs, &nodes);
        async move {
            let machine = rec.node.machine.clone();
            let joined = ctx_ref
                .guard(join_one(
                    inner,
                    name,
                    mgr,
                    &rec,
                    token,
                    addrs,
                    nodes,
                    reactivate.contains(&machine),
                ))
                .await;
            (machine, joined)
        }
    });
    let results: Vec<(String, Result<()>)> = stream::iter(jobs)
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut failures = Vec::new();
    for (machine, joined) in results {
        match joined {
            Ok(()) => {}
            Err(e) if e.is(ErrorKind::Interrupted) => return Err(e),
            Err(e) => failures.push(format!("{machine}: {e}")),
        }
    }
    Ok(failures)
}

/// Brings one machine into the cluster unless it is in already.
#[allow(clippy::too_many_arguments)]
async fn join_one(
    inner: &Arc<Inner>,
    name: &str,
    mgr: &Manager,
    rec: &NodeRecord,
    token: &str,
    addrs: &[String],
    nodes: &[NodeInfo],
    reactivate: bool,
) -> Result<()> {
    let machine = rec.node.machine.as_str();
    let role = rec.node.role;
    let mut local = local_swarm(inner, machine).await?;
    if local.state == "pending" {
        // An interrupted join may still be in flight: let it finish before judging.
        let started = Instant::now();
        while local.state == "pending" && started.elapsed() < SETTLE_TIMEOUT {
            tokio::time::sleep(POLL).await;
            local = local_swarm(inner, machine).await?;
        }
    }
    let known = |id: &Option<String>, nodes: &[NodeInfo]| {
        id.as_deref()
            .is_some_and(|id| nodes.iter().any(|n| n.id == id))
    };
    let fresh_nodes;
    let nodes = if local.is_active() && !known(&local.node_id, nodes) {
        // It may have joined after the node list was read (a parallel join).
        fresh_nodes = mgr.nodes().await?;
        &fresh_nodes[..]
    } else {
        nodes
    };
    let member = local.is_active() && known(&local.node_id, nodes);
    if !member {
        let d = docker_for(inner, machine).await?;
        if local.state != "inactive" {
            // In another cluster, or a failed or stale join: start clean. Its old
            // entry in our cluster, if any, is tidied away by the final check.
            within(machine, async {
                d.swarm_leave(true)
                    .await
                    .map_err(|e| errors::docker(machine, e))
            })
            .await?;
        }
        let ip = ip_of(inner, machine).await?;
        within_for(machine, JOIN_TIMEOUT, async {
            d.swarm_join(&ip, addrs, token)
                .await
                .map_err(|e| errors::docker(machine, e))
        })
        .await?;
        local = local_swarm(inner, machine).await?;
    }
    let node_id = local.node_id.clone().ok_or_else(|| {
        Error::docker(format!(
            "{machine} joined swarm {name} but its engine reports no node id"
        ))
    })?;
    if rec.node.node_id.as_deref() != Some(node_id.as_str()) {
        inner.store.set_node_id(machine, Some(&node_id)).await?;
    }
    inner.store.set_machine_swarm(machine, Some(name)).await?;
    if !member {
        inner.bus.emit(EventKind::SwarmNodeJoined {
            swarm: name.to_string(),
            machine: machine.to_string(),
            role: role.to_string(),
            node_id: node_id.clone(),
        });
    }

    let info = wait_node(mgr, machine, &node_id, |n| n.is_ready()).await?;
    let mut labels = Vec::new();
    for (k, v) in [("flotilla.machine", machine), ("flotilla.swarm", name)] {
        if info.labels.get(k).map(String::as_str) != Some(v) {
            labels.push((k.to_string(), v.to_string()));
        }
    }
    if !labels.is_empty() {
        within(&mgr.machine, async {
            mgr.docker
                .node_label(&node_id, &labels)
                .await
                .map_err(|e| errors::docker(&mgr.machine, e))
        })
        .await?;
    }
    let want_manager = role == Role::Manager;
    if info.manager != want_manager {
        // An adopted node, or a crash between a demotion and the removal it served.
        within(&mgr.machine, async {
            mgr.docker
                .node_set_manager(&node_id, want_manager)
                .await
                .map_err(|e| errors::docker(&mgr.machine, e))
        })
        .await?;
    }
    if reactivate && info.availability != "active" {
        within(&mgr.machine, async {
            mgr.docker
                .node_set_availability(&node_id, "active")
                .await
                .map_err(|e| errors::docker(&mgr.machine, e))
        })
        .await?;
    }
    if want_manager {
        wait_node(mgr, machine, &node_id, |n| {
            n.manager && n.reachability.as_deref() == Some("reachable")
        })
        .await?;
    }
    Ok(())
}

/// Polls the node until `ok` holds, within `SETTLE_TIMEOUT`.
async fn wait_node(
    mgr: &Manager,
    machine: &str,
    node_id: &str,
    ok: impl Fn(&NodeInfo) -> bool,
) -> Result<NodeInfo> {
    let started = Instant::now();
    let mut last = String::from("the managers do not list it");
    loop {
        match mgr.node(node_id).await {
            Ok(Some(n)) if ok(&n) => return Ok(n),
            Ok(Some(n)) => {
                last = format!(
                    "status {}, {}{}",
                    n.status,
                    if n.manager { "manager" } else { "worker" },
                    n.reachability
                        .as_deref()
                        .map(|r| format!(", {r}"))
                        .unwrap_or_default()
                )
            }
            Ok(None) => {}
            Err(e) => last = e.to_string(),
        }
        if started.elapsed() >= SETTLE_TIMEOUT {
            return Err(Error::docker(format!(
                "{machine} joined but did not settle within {}s ({last})",
                SETTLE_TIMEOUT.as_secs()
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Removes stale node entries (an earlier join of a machine, or a machine removed
/// behind the swarm's back), records what the managers say, and fails unless the
/// swarm has its shape with every node ready.
async fn check(ctx: &mut OpCtx, name: &str) -> Result<()> {
    let inner = ctx.inner.clone();
    let swarm = stored(&inner, name).await?;
    let mgr = ctx.guard(control(&inner, &swarm, &[])).await?;
    let nodes = mgr.nodes().await?;
    let recorded: HashSet<&str> = swarm
        .nodes
        .iter()
        .filter_map(|n| n.node_id.as_deref())
        .collect();
    let ours = |host: &str| {
        swarm.nodes.iter().any(|n| n.machine == host)
            || host.starts_with(&format!("{name}-m"))
            || host.starts_with(&format!("{name}-w"))
    };
    for n in &nodes {
        if !recorded.contains(n.id.as_str()) && !n.is_ready() && ours(&n.hostname) {
            if n.manager {
                let _ = mgr.docker.node_set_manager(&n.id, false).await;
            }
            within(&mgr.machine, async {
                mgr.docker
                    .node_remove(&n.id, true)
                    .await
                    .map_err(|e| errors::docker(&mgr.machine, e))
            })
            .await?;
            // A stale entry never answers: it goes with --force.
            inner.bus.emit(EventKind::SwarmNodeLeft {
                swarm: name.to_string(),
                machine: n.hostname.clone(),
                node_id: n.id.clone(),
                forced: true,
            });
        }
    }
    // Fresh joins take a moment to report ready.
    let started = Instant::now();
    loop {
        observe(&inner, name, &mgr).await?;
        let s = stored(&inner, name).await?;
        let not_ready: Vec<String> = s
            .nodes
            .iter()
            .filter(|n| !n.is_ready())
            .map(|n| {
                format!(
                    "{} is {}",
                    n.machine,
                    match (&n.machine_state, &n.status) {
                        (Some(MachineState::Running), Some(st)) => st.clone(),
                        (Some(MachineState::Running), None) => "not in the cluster".into(),
                        (Some(st), _) => st.as_str().to_ascii_lowercase(),
                        (None, _) => "not made".into(),
                    }
                )
            })
            .collect();
        let shape_ok = s.count(Role::Manager) == s.spec.managers as usize
            && s.count(Role::Worker) == s.spec.workers as usize;
        if not_ready.is_empty() && shape_ok {
            return Ok(());
        }
        if started.elapsed() >= SETTLE_TIMEOUT {
            return Err(Error::docker(format!(
                "swarm {name} has {}/{} managers and {}/{} workers ready: {}",
                s.ready(Role::Manager),
                s.spec.managers,
                s.ready(Role::Worker),
                s.spec.workers,
                if not_ready.is_empty() {
                    "the node count differs from the shape".to_string()
                } else {
                    not_ready.join(", ")
                }
            )));
        }
        ctx.guard(async {
            tokio::time::sleep(POLL).await;
            Ok(())
        })
        .await?;
    }
}
