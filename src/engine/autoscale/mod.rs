//! The autoscaler: every swarm with a policy gets a look every round. A look reads the
//! swarm through a manager that can take decisions (nodes, tasks with the scheduler's
//! words, services) and the monitor's CPU and memory of each worker; `decide` says
//! what to do and why; the decision is recorded (store and event) and, unless the
//! policy is a dry run, carried out as an ordinary swarm scale operation, audited as
//! done by "autoscaler".
//!
//! Two processes sharing a store never act on one swarm at once: a look first takes
//! the lease `autoscale:NAME` in the store (renewed every round, lapsing 15 s after its
//! owner stops). Policies are read every round, so a change applies without a restart.

pub mod decide;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use self::decide::{
    decide, Decision, History, ManagerObs, Observation, PendingTask, Plan, TaskLoad, WorkerObs,
};
use super::leases::{owner, LEASE_TTL_MS};
use super::Inner;
use crate::api::{
    now_ms, AutoscaleAction, AutoscaleDecision, AutoscaleNext, AutoscalePolicy, AutoscaleStatus,
    Error, EventKind, MachineState, Result, Role, ScaleRequest, Subject,
};
use crate::store::AuditRecord;

/// How often every swarm is looked at.
pub(crate) const ROUND: Duration = Duration::from_secs(5);
/// A look that takes longer is given up (the swarm counts as not judgeable).
const LOOK_TIMEOUT: Duration = Duration::from_secs(30);
/// A repeated decision not to act is recorded again after this long.
const REPEAT_MS: i64 = 60_000;
/// A failed action waits this long before the next (doubling up to `MAX_BACKOFF_MS`).
const FIRST_BACKOFF_MS: i64 = 30_000;
const MAX_BACKOFF_MS: i64 = 15 * 60_000;
/// How long the drain of a worker removed for idleness may take.
const DRAIN_TIMEOUT_SECS: u64 = 60;
/// The rule name a decision held back by the backoff is recorded under.
const BACKOFF_RULE: &str = "backoff";
/// The actor the audit log names for the autoscaler's actions.
pub const ACTOR: &str = "autoscaler";

fn lease_target(swarm: &str) -> String {
    format!("autoscale:{swarm}")
}

/// The autoscaler running in this process, if any.
#[derive(Default)]
pub(crate) struct Slot {
    running: Mutex<Option<CancellationToken>>,
}

impl Slot {
    pub fn stop(&self) {
        if let Some(c) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            c.cancel();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the autoscaler in this process unless it runs already.
pub(crate) fn start(inner: &Arc<Inner>) {
    let mut running = inner
        .autoscaler
        .running
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if running.as_ref().is_some_and(|c| !c.is_cancelled()) {
        return;
    }
    let cancel = CancellationToken::new();
    *running = Some(cancel.clone());
    tokio::spawn(run(Arc::downgrade(inner), cancel));
}

/// What the runner keeps per swarm between rounds.
#[derive(Default)]
struct SwarmState {
    history: History,
    seeded: bool,
    /// The last recorded decision: its rule and action, and when.
    last_recorded: Option<(&'static str, AutoscaleAction, i64)>,
    /// No action before this (after a failed one).
    backoff_until_ms: i64,
    backoff_ms: i64,
    /// The action being carried out.
    acting: Option<tokio::task::JoinHandle<Result<Option<String>>>>,
    acting_plan: Option<(Plan, AutoscaleAction, String)>,
}

async fn run(inner: Weak<Inner>, cancel: CancellationToken) {
    let mut states: HashMap<String, SwarmState> = HashMap::new();
    let mut tick = tokio::time::interval(ROUND);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let Some(inner) = inner.upgrade() else { break };
        if let Err(e) = round(&inner, &mut states).await {
            tracing::warn!("autoscaler: {e}");
        }
    }
    // Leases go with the process; release them now rather than after the TTL.
    if let Some(inner) = inner.upgrade() {
        for swarm in states.keys() {
            inner.release_lease(&lease_target(swarm), ACTOR).await;
        }
    }
}

/// One round over every policy.
async fn round(inner: &Arc<Inner>, states: &mut HashMap<String, SwarmState>) -> Result<()> {
    let policies = inner.store.autoscale_policies().await?;
    let names: Vec<String> = policies.iter().map(|(n, _)| n.clone()).collect();
    // Swarms whose policy went: let go of them.
    let gone: Vec<String> = states
        .keys()
        .filter(|k| !names.contains(k))
        .cloned()
        .collect();
    for g in gone {
        // An action already started finishes as the operation it is.
        states.remove(&g);
        inner.release_lease(&lease_target(&g), ACTOR).await;
        if let Err(e) = inner.store.delete_autoscale_next(&g).await {
            tracing::warn!("autoscaler: cannot forget the next decision on {g}: {e}");
        }
    }
    let now = now_ms();
    let mut mine = Vec::new();
    for (name, policy) in policies {
        let policy = match policy {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(
                    "autoscaler: the stored policy of swarm {name} is damaged ({e}): set it again"
                );
                continue;
            }
        };
        match inner
            .store
            .try_lease(&lease_target(&name), ACTOR, owner(), now, LEASE_TTL_MS)
            .await?
        {
            None => mine.push((name, policy)),
            Some(other) => {
                tracing::debug!(
                    "autoscaler: swarm {name} is looked after by {}",
                    other.owner
                );
                states.remove(&name);
            }
        }
    }
    // Looks run at once (each bounded); decisions and actions follow one by one.
    let looks = futures::future::join_all(mine.iter().map(|(name, policy)| async move {
        let obs = match tokio::time::timeout(LOOK_TIMEOUT, look(inner, name, policy)).await {
            Ok(o) => o,
            Err(_) => Observation {
                unjudgeable: Some(format!(
                    "looking at it took longer than {} s",
                    LOOK_TIMEOUT.as_secs()
                )),
                ..Default::default()
            },
        };
        (name, policy, obs)
    }))
    .await;
    for (name, policy, mut obs) in looks {
        let st = states.entry(name.clone()).or_default();
        if !st.seeded {
            seed(inner, name, &mut st.history).await;
            st.seeded = true;
        }
        finish_action(inner, name, policy, st).await;
        if st.acting.is_some() && obs.busy.is_none() {
            obs.busy = Some("the autoscaler's own".into());
        }
        let now = now_ms();
        st.history.observe(policy, &obs, now);
        let d = decide(policy, &obs, &st.history, now);
        apply(inner, name, policy, st, d, now).await;
    }
    Ok(())
}

/// Seeds the history from the recorded decisions: the last change and the hosts
/// created in the last hour survive a restart (the cooldown and the budget hold).
async fn seed(inner: &Arc<Inner>, name: &str, h: &mut History) {
    let Ok(decisions) = inner.store.autoscale_decisions(name).await else {
        return;
    };
    let now = now_ms();
    for d in decisions.iter().filter(|d| d.acted) {
        h.last_change_ms = Some(h.last_change_ms.unwrap_or(0).max(d.time_ms));
        if now - d.time_ms < 3_600_000 {
            for _ in 0..d.hosts_created {
                h.creates_ms.push(d.time_ms);
            }
        }
    }
}

/// One look: the swarm through its manager, the workers' metrics from the monitor.
async fn look(inner: &Arc<Inner>, name: &str, _policy: &AutoscalePolicy) -> Observation {
    let mut obs = Observation::default();
    let unfinished = match inner.store.unfinished_operation_on(name).await {
        Ok(op) => op,
        Err(e) => {
            obs.unjudgeable = Some(format!("the store did not answer ({e})"));
            return obs;
        }
    };
    if let Some(op) = unfinished {
        if inner.operation_runs_on(name).await.unwrap_or(true) {
            obs.busy = Some(op.id);
            return obs;
        }
    }
    let snap = match super::swarms::snapshot(inner, name).await {
        Ok(s) => s,
        Err(e) => {
            // No manager can decide: which ones answer at all says whether a quorum
            // is left (the rule says why it does not act, in words).
            obs.unjudgeable = Some(e.message.clone());
            obs.managers = super::swarms::managers_answering(inner, name)
                .await
                .unwrap_or_default()
                .into_iter()
                .map(|(machine, ready)| ManagerObs { machine, ready })
                .collect();
            return obs;
        }
    };
    // Managers are never scaled, only replaced: each one's state goes to the rule. Most
    // nodes unknown means what the leader says cannot be trusted to act on.
    let mut unknown = 0;
    for (rec, info) in &snap.members {
        let n = &rec.node;
        match info {
            None => unknown += 1,
            Some(i) if i.status == "unknown" => unknown += 1,
            Some(_) => {}
        }
        if n.role == Role::Manager && !rec.leaving {
            let ready = n.machine_state == Some(MachineState::Running)
                && info.as_ref().is_some_and(|i| {
                    i.is_ready() && i.reachability.as_deref() != Some("unreachable")
                });
            obs.managers.push(ManagerObs {
                machine: n.machine.clone(),
                ready,
            });
        }
    }
    if unknown * 2 > snap.members.len() {
        obs.unjudgeable = Some(format!(
            "{unknown} of {} nodes unknown to the manager",
            snap.members.len()
        ));
        return obs;
    }
    let workers: Vec<&(
        crate::store::NodeRecord,
        Option<crate::docker::swarm::NodeInfo>,
    )> = snap
        .members
        .iter()
        .filter(|(r, _)| r.node.role == Role::Worker && !r.leaving)
        .collect();
    let names: Vec<String> = workers
        .iter()
        .map(|(r, _)| r.node.machine.clone())
        .collect();
    let health: HashMap<String, crate::api::Health> = if names.is_empty() {
        HashMap::new()
    } else {
        super::monitor::health(inner, &names, false)
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|h| (h.machine.clone(), h))
            .collect()
    };
    let service_name = |id: &str| {
        snap.services
            .get(id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    };
    // The probed facts as the swarm's own shrink rule reads them: its first pick is
    // the worker a scale-down would remove.
    let probed: Vec<crate::api::SwarmNode> = workers
        .iter()
        .map(|(r, info)| {
            let mut n = r.node.clone();
            n.status = info.as_ref().map(|i| i.status.clone());
            n.reachability = None;
            n
        })
        .collect();
    obs.drain_first = crate::api::nodes_to_drain(&probed, Role::Worker, 1)
        .first()
        .map(|n| n.machine.clone());
    for (rec, info) in workers {
        let metrics = health
            .get(&rec.node.machine)
            .and_then(|h| h.metrics.clone());
        let node_id = info.as_ref().map(|i| i.id.clone());
        let tasks = snap
            .tasks
            .iter()
            .filter(|t| t.wants_running() && t.node_id.is_some() && t.node_id == node_id)
            .map(|t| TaskLoad {
                service: service_name(&t.service_id),
                memory_bytes: t.reserved_memory,
                nano_cpus: t.reserved_nano_cpus,
            })
            .collect();
        // A node made but not joined yet is not down: an operation is still on it.
        let ready = (info.as_ref().is_some_and(|i| i.is_ready())
            && rec.node.machine_state == Some(MachineState::Running))
            || (rec.node.node_id.is_none() && info.is_none());
        obs.workers.push(WorkerObs {
            machine: rec.node.machine.clone(),
            ready,
            availability: info
                .as_ref()
                .map(|i| i.availability.clone())
                .unwrap_or_default(),
            cpu_percent: metrics.as_ref().and_then(|m| m.cpu_percent),
            mem_percent: metrics.as_ref().and_then(|m| m.mem_percent()),
            memory_bytes: info.as_ref().map_or(0, |i| i.memory_bytes),
            nano_cpus: info.as_ref().map_or(0, |i| i.nano_cpus),
            tasks,
        });
    }
    for t in snap
        .tasks
        .iter()
        .filter(|t| t.wants_running() && t.state == "pending")
    {
        obs.pending.push(PendingTask {
            service: service_name(&t.service_id),
            reason: t.message.clone(),
        });
    }
    obs
}

/// Collects an action that ended since the last round: a failure backs off.
async fn finish_action(
    inner: &Arc<Inner>,
    name: &str,
    policy: &AutoscalePolicy,
    st: &mut SwarmState,
) {
    let Some(handle) = st.acting.as_ref() else {
        return;
    };
    if !handle.is_finished() {
        return;
    }
    let Some(handle) = st.acting.take() else {
        return;
    };
    let (_, action, what) =
        st.acting_plan
            .take()
            .unwrap_or((Plan::Nothing, AutoscaleAction::None, String::new()));
    let result = match handle.await {
        Ok(r) => r,
        Err(e) => Err(Error::internal(format!("the action stopped: {e}"))),
    };
    match result {
        Ok(_) => {
            st.backoff_ms = 0;
        }
        Err(e) => {
            st.backoff_ms = (st.backoff_ms * 2).clamp(FIRST_BACKOFF_MS, MAX_BACKOFF_MS);
            st.backoff_until_ms = now_ms() + st.backoff_ms;
            // What is held back next is news again.
            st.last_recorded = None;
            let d = AutoscaleDecision {
                time_ms: now_ms(),
                action,
                acted: false,
                dry_run: policy.dry_run,
                reason: format!(
                    "{what} failed, next try in {} s at the earliest: {}",
                    st.backoff_ms / 1000,
                    e.message
                ),
                operation_id: None,
                hosts_created: 0,
            };
            record(inner, name, &d).await;
        }
    }
}

/// Records the decision (when worth it) and carries it out (unless a dry run).
async fn apply(
    inner: &Arc<Inner>,
    name: &str,
    policy: &AutoscalePolicy,
    st: &mut SwarmState,
    d: Decision,
    now: i64,
) {
    let acts = d.plan != Plan::Nothing && !policy.dry_run;
    let backing_off = acts && now < st.backoff_until_ms;
    let next = AutoscaleNext {
        time_ms: now,
        action: d.action,
        acts: acts && !backing_off,
        reason: if backing_off {
            held_back(&d, st, now)
        } else {
            d.reason.clone()
        },
    };
    if let Err(e) = inner.store.set_autoscale_next(name, &next).await {
        tracing::warn!("autoscaler: cannot record the next decision on {name}: {e}");
    }
    let repeated = st.last_recorded.is_some_and(|(rule, action, at)| {
        rule == d.rule && action == d.action && now - at < REPEAT_MS
    });
    let worth = d.triggered || d.plan != Plan::Nothing;
    if backing_off {
        // Recorded once per failure (and again after REPEAT_MS), whatever was recorded
        // before it under the decision's own rule.
        let repeated = st.last_recorded.is_some_and(|(rule, action, at)| {
            rule == BACKOFF_RULE && action == d.action && now - at < REPEAT_MS
        });
        if !repeated {
            let reason = held_back(&d, st, now);
            record(inner, name, &not_acting(now, policy, reason)).await;
            st.last_recorded = Some((BACKOFF_RULE, d.action, now));
        }
        return;
    }
    if !acts {
        if worth && !repeated {
            let rec = AutoscaleDecision {
                time_ms: now,
                action: d.action,
                acted: false,
                dry_run: policy.dry_run,
                reason: d.reason.clone(),
                operation_id: None,
                hosts_created: 0,
            };
            record(inner, name, &rec).await;
            st.last_recorded = Some((d.rule, d.action, now));
        }
        return;
    }
    // Act: the swarm's own scale operation, once per decision.
    let hosts = match &d.plan {
        Plan::Workers { from, to } => to.saturating_sub(*from),
        Plan::Replace { .. } => 1,
        Plan::Nothing => 0,
    };
    let started = start_action(inner, name, &d.plan).await;
    match started {
        Ok((op_id, handle)) => {
            st.history.changed(now, hosts);
            st.acting = Some(handle);
            st.acting_plan = Some((d.plan.clone(), d.action, d.reason.clone()));
            let rec = AutoscaleDecision {
                time_ms: now,
                action: d.action,
                acted: true,
                dry_run: false,
                reason: d.reason.clone(),
                operation_id: Some(op_id.clone()),
                hosts_created: hosts,
            };
            record(inner, name, &rec).await;
            audit(inner, name, &d.reason, &op_id, true).await;
            st.last_recorded = Some((d.rule, d.action, now));
        }
        Err(e) => {
            st.backoff_ms = (st.backoff_ms * 2).clamp(FIRST_BACKOFF_MS, MAX_BACKOFF_MS);
            st.backoff_until_ms = now + st.backoff_ms;
            let reason = format!("{} could not start: {}", d.reason, e.message);
            record(inner, name, &not_acting(now, policy, reason.clone())).await;
            audit(inner, name, &reason, "", false).await;
            st.last_recorded = Some((d.rule, d.action, now));
        }
    }
}

/// A decision held back by the backoff after a failed action, in words.
fn held_back(d: &Decision, st: &SwarmState, now: i64) -> String {
    format!(
        "not acting ({}): a failed action backs off for {} s more",
        d.reason,
        (st.backoff_until_ms - now + 999) / 1000
    )
}

fn not_acting(now: i64, policy: &AutoscalePolicy, reason: String) -> AutoscaleDecision {
    AutoscaleDecision {
        time_ms: now,
        action: AutoscaleAction::None,
        acted: false,
        dry_run: policy.dry_run,
        reason,
        operation_id: None,
        hosts_created: 0,
    }
}

fn scale_to(workers: u32) -> ScaleRequest {
    ScaleRequest {
        managers: None,
        workers: Some(workers),
        force: false,
        drain_timeout_secs: DRAIN_TIMEOUT_SECS,
    }
}

/// Starts the plan's operation and, in a task, waits for it. A failed one is undone
/// so no half-made host stays: a scale-up goes back to the count it started from; a
/// replacement scales its role to the stored shape, which removes the unhealthy
/// surplus (the new node that did not come up, newest first).
async fn start_action(
    inner: &Arc<Inner>,
    name: &str,
    plan: &Plan,
) -> Result<(String, tokio::task::JoinHandle<Result<Option<String>>>)> {
    let (op, undo) = match plan {
        Plan::Workers { from, to } => (
            super::swarms::scale(inner, name, scale_to(*to)).await?,
            (to > from).then(|| scale_to(*from)),
        ),
        Plan::Replace { machine, role } => {
            let spec = inner
                .store
                .swarm(name)
                .await?
                .ok_or_else(|| Error::missing(format!("no swarm named {name:?}")))?
                .spec;
            let undo = match role {
                Role::Worker => scale_to(spec.workers),
                Role::Manager => ScaleRequest {
                    managers: Some(spec.managers),
                    workers: None,
                    force: spec.managers % 2 == 0,
                    drain_timeout_secs: DRAIN_TIMEOUT_SECS,
                },
            };
            let drain = Duration::from_secs(DRAIN_TIMEOUT_SECS);
            let op = super::swarms::replace(inner, name, machine, drain).await?;
            (op, Some(undo))
        }
        Plan::Nothing => return Err(Error::internal("nothing to do")),
    };
    let id = op.id.clone();
    let inner2 = inner.clone();
    let name = name.to_string();
    let handle = tokio::spawn(async move {
        let done = inner2.wait(&op.id).await?;
        let Some(Err(failed)) = done.result() else {
            return Ok(None);
        };
        let Some(undo) = undo else {
            return Err(failed);
        };
        // Back to the shape it started from: what the failed operation made goes.
        let undo = super::swarms::scale(&inner2, &name, undo).await?;
        let undone = inner2.wait(&undo.id).await?;
        match undone.result() {
            Some(Err(e)) => Err(Error::docker(format!(
                "{}; undoing it failed too: {}",
                failed.message, e.message
            ))),
            _ => Err(failed),
        }
    });
    Ok((id, handle))
}

/// Stores the decision and tells subscribers.
async fn record(inner: &Arc<Inner>, name: &str, d: &AutoscaleDecision) {
    if let Err(e) = inner.store.add_autoscale_decision(name, d).await {
        tracing::warn!("autoscaler: cannot record a decision on {name}: {e}");
    }
    inner.bus.emit(EventKind::AutoscaleDecided {
        swarm: name.to_string(),
        action: d.action,
        acted: d.acted,
        dry_run: d.dry_run,
        reason: d.reason.clone(),
    });
}

async fn audit(inner: &Arc<Inner>, name: &str, reason: &str, op: &str, ok: bool) {
    let rec = AuditRecord {
        actor: Some(ACTOR.into()),
        remote: Some("local".into()),
        action: "swarm.scale".into(),
        target: Some(if op.is_empty() {
            format!("{name}: {reason}")
        } else {
            format!("{name}: {reason} ({op})")
        }),
        status: if ok { 202 } else { 500 },
        outcome: if ok { "ok".into() } else { "error".into() },
        ..Default::default()
    };
    if let Err(e) = inner.store.audit_append(&rec).await {
        tracing::warn!("autoscaler: cannot write the audit log: {e}");
    }
}

/// The swarm's policy and decisions.
pub(crate) async fn status(inner: &Arc<Inner>, name: &str) -> Result<AutoscaleStatus> {
    if inner.store.swarm(name).await?.is_none() {
        return Err(Error::missing(format!("no swarm named {name:?}"))
            .about(Subject::Swarm(name.to_string()))
            .hint(crate::api::Hint::List));
    }
    let policy = inner.store.autoscale_policy(name).await?;
    let next = match policy {
        Some(_) => inner.store.autoscale_next(name).await?,
        None => None,
    };
    Ok(AutoscaleStatus {
        swarm: name.to_string(),
        policy,
        decisions: inner.store.autoscale_decisions(name).await?,
        next,
    })
}

/// Sets or clears the swarm's policy.
pub(crate) async fn set(
    inner: &Arc<Inner>,
    name: &str,
    policy: Option<AutoscalePolicy>,
) -> Result<AutoscaleStatus> {
    if let Some(p) = &policy {
        p.validate()?;
    }
    status(inner, name).await?;
    inner
        .store
        .set_autoscale_policy(name, policy.as_ref())
        .await?;
    if policy.is_none() {
        inner.store.delete_autoscale_next(name).await?;
    }
    status(inner, name).await
}
