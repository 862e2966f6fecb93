//! Removing surplus nodes safely. A worker is drained, its tasks are given time to run
//! elsewhere, it leaves, its node is removed, then its machine. A manager is demoted
//! first, one at a time, only while the managers that stay keep their quorum; the
//! last manager is never removed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cluster::{answering, control, local_swarm, node_of, stored, within, Manager, POLL};
use crate::api::{
    node_healthy, nodes_to_drain, quorum, Error, EventKind, Hint, MachineState, Result, Role,
    Subject, SwarmNode,
};
use crate::docker::swarm::TaskInfo;
use crate::engine::{errors, machines, Inner, OpCtx};
use crate::store::NodeRecord;

/// How a shrink treats the nodes it drains.
pub(super) struct Opts {
    /// How long a drained node's tasks may take to run elsewhere before it goes anyway.
    pub drain_timeout: Duration,
    /// A node being replaced: marked leaving, never taken back to fill the shape (its
    /// replacement does), and removed only once every new node came up.
    pub replacing: Option<String>,
}

/// How long a demotion may take to show (the Raft membership changes).
const DEMOTE_TIMEOUT: Duration = Duration::from_secs(60);

/// Picks `count` of the role's nodes to remove and marks them leaving (a rerun keeps
/// the choice): unhealthy ones first (not ready, or the engine does not answer), then
/// machines the swarm made before adopted ones, newest first; a leader last.
pub(super) async fn choose(inner: &Arc<Inner>, name: &str, role: Role, count: usize) -> Result<()> {
    if count == 0 {
        return Ok(());
    }
    let swarm = stored(inner, name).await?;
    let recs: Vec<NodeRecord> = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .filter(|r| r.node.role == role && !r.leaving)
        .collect();
    // Without a manager to ask, the engines' own answers still tell the dead apart.
    let nodes = match control(inner, &swarm, &[]).await {
        Ok(mgr) => mgr.nodes().await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let machines: Vec<String> = recs.iter().map(|r| r.node.machine.clone()).collect();
    let alive = answering(inner, &machines).await;
    let healthy = |r: &NodeRecord| {
        alive.contains(&r.node.machine)
            && r.node.machine_state == Some(MachineState::Running)
            && node_of(&nodes, &r.node.machine, r.node.node_id.as_deref())
                .is_some_and(|n| n.is_ready() && n.reachability.as_deref() != Some("unreachable"))
    };
    // The probed facts, as the one rule (`api::nodes_to_drain`) reads them: a node
    // that is not healthy now shows as down, the leader as Docker names it.
    let probed: Vec<SwarmNode> = recs
        .iter()
        .map(|r| {
            let mut n = r.node.clone();
            let ok = healthy(r);
            n.status = Some(if ok { "ready" } else { "down" }.into());
            n.reachability = None;
            n.leader = node_of(&nodes, &r.node.machine, r.node.node_id.as_deref())
                .is_some_and(|x| x.leader);
            n
        })
        .collect();
    for n in nodes_to_drain(&probed, role, count) {
        tracing::info!(
            "swarm {name}: {} ({}) will be removed",
            n.machine,
            if node_healthy(n) {
                "healthy"
            } else {
                "unhealthy"
            }
        );
        inner.store.set_node_leaving(&n.machine, true).await?;
    }
    Ok(())
}

/// Removes the workers chosen to leave, one at a time, so at most one node's tasks
/// are on their way elsewhere at any moment.
pub(super) async fn workers(
    ctx: &mut OpCtx,
    name: &str,
    opts: &Opts,
    report: &mut Vec<String>,
) -> Result<()> {
    let inner = ctx.inner.clone();
    let victims: Vec<NodeRecord> = inner
        .store
        .swarm_node_records(name)
        .await?
        .into_iter()
        .filter(|r| r.node.role == Role::Worker && r.leaving)
        .collect();
    if victims.is_empty() {
        return Ok(());
    }
    let swarm = stored(&inner, name).await?;
    let mgr = ctx.guard(control(&inner, &swarm, &[])).await?;
    for v in &victims {
        drain_and_remove(ctx, name, &mgr, &v.node, opts.drain_timeout, report).await?;
    }
    Ok(())
}

/// Removes the managers chosen to leave, one at a time, never breaking the quorum:
/// each removal needs a quorum of reachable managers (the leader says so and the
/// engine answers) now and among those that stay. The last manager never goes.
pub(super) async fn managers(
    ctx: &mut OpCtx,
    name: &str,
    opts: &Opts,
    report: &mut Vec<String>,
) -> Result<()> {
    let inner = ctx.inner.clone();
    loop {
        let swarm = stored(&inner, name).await?;
        let recs: Vec<NodeRecord> = inner
            .store
            .swarm_node_records(name)
            .await?
            .into_iter()
            .filter(|r| r.node.role == Role::Manager)
            .collect();
        if !recs.iter().any(|r| r.leaving) {
            return Ok(());
        }
        if recs.len() <= 1 {
            return Err(Error::conflict(format!(
                "swarm {name} has one manager left: it is never removed (removing the swarm removes it)"
            ))
            .about(Subject::Swarm(name.to_string()))
            .hint(Hint::Remove { force: false }));
        }
        let mgr = ctx.guard(control(&inner, &swarm, &[])).await?;
        let nodes = mgr.nodes().await?;
        let machines: Vec<String> = recs.iter().map(|r| r.node.machine.clone()).collect();
        let alive = ctx
            .guard(async { Ok(answering(&inner, &machines).await) })
            .await?;
        let reachable = |r: &NodeRecord| {
            alive.contains(&r.node.machine)
                && node_of(&nodes, &r.node.machine, r.node.node_id.as_deref())
                    .is_some_and(|n| n.manager && n.reachability.as_deref() == Some("reachable"))
        };
        let is_leader = |r: &NodeRecord| {
            node_of(&nodes, &r.node.machine, r.node.node_id.as_deref()).is_some_and(|n| n.leader)
        };
        // An unreachable one first (removing it restores the margin), the leader last.
        let mut leaving: Vec<&NodeRecord> = recs.iter().filter(|r| r.leaving).collect();
        leaving.sort_by_key(|r| (reachable(r), is_leader(r)));
        let victim = leaving[0].clone();
        // Quorum is about the Raft members: managers that joined and were not demoted
        // yet (a crash may leave a demoted one behind).
        let in_raft = |r: &NodeRecord| {
            node_of(&nodes, &r.node.machine, r.node.node_id.as_deref()).is_some_and(|n| n.manager)
        };
        let raft: Vec<&NodeRecord> = recs.iter().filter(|r| in_raft(r)).collect();
        let stay: Vec<&NodeRecord> = raft
            .iter()
            .copied()
            .filter(|r| r.node.machine != victim.node.machine)
            .collect();
        if in_raft(&victim) {
            if stay.is_empty() {
                return Err(Error::conflict(format!(
                    "{} is the last manager of swarm {name}: it is never removed (removing the swarm removes it)",
                    victim.node.machine
                ))
                .about(Subject::Swarm(name.to_string()))
                .hint(Hint::Remove { force: false }));
            }
            let reachable_now = raft.iter().filter(|r| reachable(r)).count();
            let reachable_after = stay.iter().filter(|r| reachable(r)).count();
            if reachable_now < quorum(raft.len()) || reachable_after < quorum(stay.len()) {
                let unreachable: Vec<&str> = raft
                    .iter()
                    .filter(|r| !reachable(r))
                    .map(|r| r.node.machine.as_str())
                    .collect();
                return Err(Error::conflict(format!(
                    "refusing to remove manager {}: only {reachable_now} of {} managers are reachable (unreachable: {}), and the managers that stay would have no quorum; nothing was removed: bring the managers back, then run the command again",
                    victim.node.machine,
                    raft.len(),
                    unreachable.join(", ")
                )));
            }
        }

        // `env --swarm` must not point at a manager that is about to go.
        let next = stay
            .iter()
            .find(|r| is_leader(r))
            .or_else(|| stay.iter().find(|r| reachable(r)))
            .map(|r| r.node.machine.clone());
        if let Some(next) = next {
            inner.store.set_swarm_leader(name, Some(&next)).await?;
        }

        // Ask a manager that stays.
        let mgr = if mgr.machine == victim.node.machine {
            let skip = [victim.node.machine.clone()];
            ctx.guard(control(&inner, &swarm, &skip)).await?
        } else {
            mgr
        };
        if let Some(info) = node_of(&nodes, &victim.node.machine, victim.node.node_id.as_deref()) {
            if info.manager {
                tracing::info!("{}: demoting", victim.node.machine);
                demote(ctx, &mgr, &victim.node.machine, &info.id).await?;
            }
        }
        drain_and_remove(ctx, name, &mgr, &victim.node, opts.drain_timeout, report).await?;
    }
}

/// `docker node demote`, then waits until the managers no longer count it.
async fn demote(ctx: &OpCtx, mgr: &Manager, machine: &str, node_id: &str) -> Result<()> {
    within(&mgr.machine, async {
        mgr.docker
            .node_set_manager(node_id, false)
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await?;
    let started = Instant::now();
    loop {
        match mgr.node(node_id).await {
            Ok(Some(n)) if !n.manager && n.reachability.is_none() => return Ok(()),
            Ok(None) => return Ok(()),
            _ => {}
        }
        if started.elapsed() >= DEMOTE_TIMEOUT {
            return Err(Error::docker(format!(
                "{machine} was demoted but the managers still count it after {}s: run the command again",
                DEMOTE_TIMEOUT.as_secs()
            )));
        }
        sleep(ctx).await?;
    }
}

async fn sleep(ctx: &OpCtx) -> Result<()> {
    ctx.guard(async {
        tokio::time::sleep(POLL).await;
        Ok(())
    })
    .await
}

/// Whether the node's work runs elsewhere: no task of it is still wanted, none still
/// runs there (when the host answers), and every task of the services it ran that
/// the orchestrator wants running runs. Returns the count still waited for.
fn still_moving(
    tasks: &[TaskInfo],
    node_id: &str,
    services: &HashSet<String>,
    reachable: bool,
) -> usize {
    let on_node = tasks
        .iter()
        .filter(|t| t.node_id.as_deref() == Some(node_id))
        .filter(|t| t.wants_running() || (reachable && (t.is_running() || t.is_starting())))
        .count();
    let elsewhere = tasks
        .iter()
        .filter(|t| services.contains(&t.service_id))
        .filter(|t| t.node_id.as_deref() != Some(node_id))
        .filter(|t| t.wants_running() && !t.is_running())
        .count();
    on_node + elsewhere
}

/// Drains a node, waits (within `drain_timeout`) until its tasks run elsewhere, makes
/// it leave, removes its node entry (with force when the host does not answer), then
/// its machine. A node whose host died is removed with force once the timeout passed
/// or the managers saw it down, and the report says so. An adopted machine stays.
pub(super) async fn drain_and_remove(
    ctx: &mut OpCtx,
    name: &str,
    mgr: &Manager,
    node: &SwarmNode,
    drain_timeout: Duration,
    report: &mut Vec<String>,
) -> Result<()> {
    let inner = ctx.inner.clone();
    let machine = node.machine.as_str();
    let started = Instant::now();
    let deadline = started + drain_timeout;
    let nodes = mgr.nodes().await?;
    let info = node_of(&nodes, machine, node.node_id.as_deref()).cloned();
    if let Some(info) = info {
        let id = info.id.clone();
        let mut reachable = node.machine_state == Some(MachineState::Running)
            && local_swarm(&inner, machine).await.is_ok();
        let before = mgr_tasks(mgr).await?;
        let services: HashSet<String> = before
            .iter()
            .filter(|t| t.node_id.as_deref() == Some(id.as_str()) && t.wants_running())
            .map(|t| t.service_id.clone())
            .collect();
        let carried = before
            .iter()
            .filter(|t| t.node_id.as_deref() == Some(id.as_str()) && t.wants_running())
            .count();
        tracing::info!("{machine}: draining ({carried} task(s))");
        if info.availability != "drain" {
            within(&mgr.machine, async {
                mgr.docker
                    .node_set_availability(&id, "drain")
                    .await
                    .map_err(|e| errors::docker(&mgr.machine, e))
            })
            .await?;
        }
        let mut waiting = usize::MAX;
        while Instant::now() < deadline {
            if reachable && matches!(mgr.node(&id).await, Ok(Some(n)) if n.status == "down") {
                reachable = false;
            }
            let tasks = mgr_tasks(mgr).await?;
            waiting = still_moving(&tasks, &id, &services, reachable);
            if waiting == 0 {
                break;
            }
            sleep(ctx).await?;
        }
        if waiting > 0 {
            report.push(format!(
                "{machine}: {waiting} task(s) had not moved after the drain timeout ({}s); removed anyway",
                drain_timeout.as_secs()
            ));
        } else if carried > 0 {
            tracing::info!(
                "{machine}: {carried} task(s) run elsewhere after {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }

        tracing::info!(
            "{machine}: drained after {:.1}s",
            started.elapsed().as_secs_f64()
        );
        let mut left = false;
        if reachable {
            let d = super::cluster::docker_for(&inner, machine).await;
            let leave = match d {
                Ok(d) => {
                    within(machine, async {
                        d.swarm_leave(false)
                            .await
                            .map_err(|e| errors::docker(machine, e))
                    })
                    .await
                }
                Err(e) => Err(e),
            };
            match leave {
                Ok(()) => left = true,
                Err(e) => tracing::warn!("{machine}: cannot leave the swarm: {e}"),
            }
        }
        // A node that left is done with the cluster: removing its entry at once (with
        // force, as the managers only see it down after their heartbeat timeout) is
        // safe. One that did not leave is given until the drain deadline to show down.
        let mut down = left;
        while !down && Instant::now() < deadline {
            match mgr.node(&id).await {
                Ok(None) => down = true,
                Ok(Some(n)) if n.status == "down" => down = true,
                _ => sleep(ctx).await?,
            }
        }
        tracing::info!(
            "{machine}: left={left} down={down} after {:.1}s; removing its node",
            started.elapsed().as_secs_f64()
        );
        within(&mgr.machine, async {
            mgr.docker
                .node_remove(&id, true)
                .await
                .map_err(|e| errors::docker(&mgr.machine, e))
        })
        .await?;
        // The entry of a node that left goes at once; one whose host did not answer
        // is forced out.
        inner.bus.emit(EventKind::SwarmNodeLeft {
            swarm: name.to_string(),
            machine: machine.to_string(),
            node_id: id.clone(),
            forced: !left,
        });
        if !left {
            report.push(format!(
                "{machine}: its host did not answer, so it could not leave the swarm; its node was removed with --force after {}s",
                started.elapsed().as_secs()
            ));
        }
    }

    if node.adopted {
        inner.store.set_machine_swarm(machine, None).await?;
        report.push(format!(
            "{machine} left swarm {name}; the machine stays (it was adopted; rm removes it)"
        ));
    } else if inner.store.machine(machine).await.is_ok() {
        let mut child = ctx.child(machine);
        machines::remove_steps(&mut child, machine, false).await?;
        tracing::info!(
            "{machine}: machine removed after {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    inner.store.remove_swarm_node(machine).await?;
    Ok(())
}

async fn mgr_tasks(mgr: &Manager) -> Result<Vec<TaskInfo>> {
    within(&mgr.machine, async {
        mgr.docker
            .tasks(None)
            .await
            .map_err(|e| errors::docker(&mgr.machine, e))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(node: &str, service: &str, desired: &str, state: &str) -> TaskInfo {
        TaskInfo {
            id: format!("{node}-{service}-{desired}-{state}"),
            service_id: service.into(),
            node_id: Some(node.into()),
            desired: desired.into(),
            state: state.into(),
            message: String::new(),
            reserved_memory: 0,
            reserved_nano_cpus: 0,
        }
    }

    #[test]
    fn a_drain_waits_for_the_replacements_to_run() {
        let services: HashSet<String> = ["web".to_string()].into();
        // Before the orchestrator reacted: the node's task is still wanted.
        let tasks = vec![
            task("n1", "web", "running", "running"),
            task("n2", "web", "running", "running"),
        ];
        assert_eq!(still_moving(&tasks, "n1", &services, true), 1);
        // Shut down on n1, the replacement still starting on n2.
        let tasks = vec![
            task("n1", "web", "shutdown", "shutdown"),
            task("n2", "web", "running", "running"),
            task("n2", "web", "running", "preparing"),
        ];
        assert_eq!(still_moving(&tasks, "n1", &services, true), 1);
        // All running elsewhere.
        let tasks = vec![
            task("n1", "web", "shutdown", "shutdown"),
            task("n2", "web", "running", "running"),
            task("n3", "web", "running", "running"),
        ];
        assert_eq!(still_moving(&tasks, "n1", &services, true), 0);
        // A dead host never reports its task stopped: only what is wanted counts.
        let tasks = vec![
            task("n1", "web", "shutdown", "running"),
            task("n2", "web", "running", "running"),
        ];
        assert_eq!(still_moving(&tasks, "n1", &services, true), 1);
        assert_eq!(still_moving(&tasks, "n1", &services, false), 0);
        // Other services' troubles are not this node's.
        let tasks = vec![task("n2", "db", "running", "pending")];
        assert_eq!(still_moving(&tasks, "n1", &services, true), 0);
    }
}
