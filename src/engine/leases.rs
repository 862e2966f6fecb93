//! Operations across processes: an operation holds a lease on its target in the store
//! (store/leases.rs) while it runs, renewed by its own task. A second process is refused
//! while the lease lives; a process that dies mid-operation stops renewing, its lease
//! expires, and the next look at the target (or the next operation on it) ends the
//! abandoned operation as interrupted and says how to finish or remove what it left.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::Inner;
use crate::api::{
    now_ms, Error, EventKind, Hint, Machine, MachineState, Operation, OperationKind, Outcome,
    Result, StepState, Subject, SwarmState,
};

/// How long a lease lives without renewal: a dead owner's target is free after this.
pub(crate) const LEASE_TTL_MS: i64 = 15_000;
/// How often a running operation renews its lease (a third of the TTL: two renewals
/// may fail or be late before it lapses).
pub(crate) const LEASE_RENEW: Duration = Duration::from_secs(5);

/// This process as a lease owner: `pid@host#instance` (the instance tells apart two
/// processes that reuse a pid across a reboot).
pub(crate) fn owner() -> &'static str {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "?".into());
        format!(
            "{}@{host}#{}",
            std::process::id(),
            hex::encode(rand::random::<[u8; 3]>())
        )
    })
}

/// Whether `owner` (`pid@host#instance`) is a process of this host that no longer runs:
/// its lease need not run out first (a server restarted after a crash, a killed CLI).
/// An owner on another host, or a pid that runs again, waits for its expiry.
pub(crate) fn owner_is_gone(owner: &str) -> bool {
    let Some((pid, rest)) = owner.split_once('@') else {
        return false;
    };
    let host = rest.split('#').next().unwrap_or_default();
    let this_host = owner_host(self::owner());
    if host != this_host || owner == self::owner() {
        return false;
    }
    pid.parse::<u32>()
        .is_ok_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

fn owner_host(owner: &str) -> &str {
    owner
        .split_once('@')
        .map(|(_, rest)| rest.split('#').next().unwrap_or_default())
        .unwrap_or_default()
}

impl Inner {
    /// Takes the lease on `target` for operation `id`, ending first an operation a dead
    /// process left on it. Conflict, naming the holder, while another process runs one.
    pub(crate) async fn take_lease(self: &Arc<Self>, target: &str, id: &str) -> Result<()> {
        // This process holds the target in its registry already (the caller claimed it),
        // so only a live lease means the recorded unfinished operation still runs.
        if !self.lease_is_live(target).await? {
            self.end_unfinished_on(target).await?;
            // A dead owner's lease that has not run out yet goes with its operation.
            if let Some(stale) = self.store.lease(target).await? {
                if owner_is_gone(&stale.owner) {
                    self.store
                        .release_lease(target, &stale.operation_id)
                        .await?;
                }
            }
        }
        match self
            .store
            .try_lease(target, id, owner(), now_ms(), LEASE_TTL_MS)
            .await?
        {
            None => Ok(()),
            Some(holder) => Err(Error::conflict(format!(
                "{target} is busy: operation {} runs in another flotilla process ({}); wait for it or cancel it",
                holder.operation_id, holder.owner
            ))
            .about(Subject::Operation(holder.operation_id))),
        }
    }

    /// Keeps operation `id`'s lease on `target` alive, and those of what it holds
    /// beside it (a swarm's machines); runs until dropped.
    pub(crate) async fn renew_lease_forever(self: Arc<Self>, target: String, id: String) {
        let mut tick = tokio::time::interval(LEASE_RENEW);
        tick.tick().await;
        loop {
            tick.tick().await;
            match self
                .store
                .try_lease(&target, &id, owner(), now_ms(), LEASE_TTL_MS)
                .await
            {
                Ok(None) => {}
                Ok(Some(other)) => tracing::warn!(
                    "operation {id} lost its lease on {target} to {} ({}): this process stalled past {LEASE_TTL_MS} ms",
                    other.operation_id,
                    other.owner
                ),
                Err(e) => tracing::warn!("cannot renew the lease of {id} on {target}: {e}"),
            }
            if let Err(e) = self
                .store
                .renew_operation_leases(&id, owner(), now_ms(), LEASE_TTL_MS)
                .await
            {
                tracing::warn!("cannot renew the leases of {id}: {e}");
            }
        }
    }

    /// Gives back every lease operation `id` took: its target's and its holds'.
    pub(crate) async fn release_operation_leases(&self, id: &str) {
        if let Err(e) = self.store.release_operation_leases(id).await {
            tracing::warn!("cannot release the leases of {id}: {e}");
        }
    }

    pub(crate) async fn release_lease(&self, target: &str, id: &str) {
        if let Err(e) = self.store.release_lease(target, id).await {
            tracing::warn!("cannot release the lease of {id} on {target}: {e}");
        }
    }

    /// Whether an operation on `target` runs anywhere: in this process, or in another
    /// one whose lease is live.
    pub(crate) async fn operation_runs_on(&self, target: &str) -> Result<bool> {
        Ok(self.ops.is_busy(target) || self.lease_is_live(target).await?)
    }

    async fn lease_is_live(&self, target: &str) -> Result<bool> {
        Ok(self
            .store
            .lease(target)
            .await?
            .is_some_and(|l| l.expires_ms >= now_ms() && !owner_is_gone(&l.owner)))
    }

    /// Ends the operation a dead process left on `target` (its lease expired or it had
    /// none), as `fail_interrupted_operations` does after a server restart. Returns
    /// whether there was one.
    pub(crate) async fn settle_abandoned(self: &Arc<Self>, target: &str) -> Result<bool> {
        if self.operation_runs_on(target).await? {
            return Ok(false);
        }
        self.end_unfinished_on(target).await
    }

    /// Ends `op`, recorded unfinished, when no process runs it any more: not this one,
    /// and no live lease of another process is on its target. Returns it as it is now.
    pub(crate) async fn end_if_abandoned(self: &Arc<Self>, op: Operation) -> Result<Operation> {
        if op.finished_ms.is_some() || self.ops.get(&op.id).is_some() {
            return Ok(op);
        }
        if self.operation_runs_on(&op.target).await? {
            return Ok(op);
        }
        let why = format!(
            "the flotilla process running {} of {} stopped before it finished",
            op.kind.as_str(),
            op.target
        );
        let id = op.id.clone();
        self.end_abandoned(op.clone(), &why).await?;
        Ok(self.store.operation(&id).await?.unwrap_or(op))
    }

    /// Ends every operation whose process is gone (a replica that died mid-operation):
    /// what a server does every few seconds, so a client following such an operation
    /// sees it end without anyone looking at its target. Returns how many it ended.
    pub(crate) async fn end_abandoned_operations(self: &Arc<Self>) -> Result<usize> {
        let mut ended = 0;
        for op in self.store.unfinished_operations().await? {
            if self.end_if_abandoned(op).await?.finished_ms.is_some() {
                ended += 1;
            }
        }
        Ok(ended)
    }

    async fn end_unfinished_on(&self, target: &str) -> Result<bool> {
        let Some(op) = self.store.unfinished_operation_on(target).await? else {
            return Ok(false);
        };
        let why = format!(
            "the flotilla process running {} of {target} stopped before it finished",
            op.kind.as_str()
        );
        self.end_abandoned(op, &why).await?;
        Ok(true)
    }

    /// Records `op` as failed (interrupted) and puts what it left half-way in Error with
    /// what to do: a machine operation's machine; for a swarm operation, the swarm
    /// (Degraded) and each of its machines still shown Creating, Provisioning or
    /// Removing. Emits the operation's end.
    pub(crate) async fn end_abandoned(&self, mut op: Operation, why: &str) -> Result<()> {
        let t = op.target.clone();
        let (msg, error) = match op.kind {
            OperationKind::Create
            | OperationKind::Remove
            | OperationKind::Provision
            | OperationKind::RegenerateCerts => {
                let msg = format!(
                    "{why}: provisioning it again finishes it, removing it with force cleans it up"
                );
                let error = Error::interrupted(msg.clone())
                    .about(Subject::Machine(t.clone()))
                    .hint(Hint::Provision {
                        trust_new_host_key: false,
                    });
                (msg, error)
            }
            OperationKind::SwarmRemove => {
                let msg = format!("{why}: removing swarm {t} again finishes it");
                let error = Error::interrupted(msg.clone())
                    .about(Subject::Swarm(t.clone()))
                    .hint(Hint::Remove { force: false });
                (msg, error)
            }
            OperationKind::SwarmCreate | OperationKind::SwarmScale | OperationKind::SwarmJoin => {
                let msg = format!(
                    "{why}: scaling swarm {t} again finishes it, removing the swarm removes it"
                );
                // The stored shape is what the operation was making: scaling to it
                // finishes the work.
                let spec = self.store.swarm(&t).await?.map(|s| s.spec);
                let error = Error::interrupted(msg.clone())
                    .about(Subject::Swarm(t.clone()))
                    .hint(Hint::Converge {
                        managers: spec.as_ref().map(|s| s.managers),
                        workers: spec.as_ref().map(|s| s.workers),
                        force: spec.as_ref().is_some_and(|s| s.force),
                    });
                (msg, error)
            }
        };
        for s in &mut op.steps {
            if s.state == StepState::Running {
                s.state = StepState::Failed;
            }
        }
        op.outcome = Some(Outcome::Failed { error });
        op.finished_ms = Some(now_ms());
        // Another process (a replica sweeping) may have ended it first: then it is
        // ended, and announced, once.
        if !self.store.end_operation_once(&op).await? {
            return Ok(());
        }
        // Its lease, if the dead owner left one, ends with it.
        self.store.release_lease(&t, &op.id).await?;
        let swarm_op = matches!(
            op.kind,
            OperationKind::SwarmCreate
                | OperationKind::SwarmScale
                | OperationKind::SwarmJoin
                | OperationKind::SwarmRemove
        );
        if swarm_op {
            self.store
                .set_swarm_state(&t, SwarmState::Degraded, Some(&msg))
                .await?;
            // A machine the operation was making, provisioning or removing has no
            // operation of its own: it would stay busy, unchecked, forever.
            for rec in self.store.swarm_node_records(&t).await? {
                if rec
                    .node
                    .machine_state
                    .is_some_and(MachineState::is_transitional)
                {
                    self.set_state(&rec.node.machine, MachineState::Error, Some(&msg))
                        .await?;
                }
            }
        } else if let Ok(rec) = self.store.machine(&t).await {
            if rec.machine.state != MachineState::Gone {
                self.set_state(&t, MachineState::Error, Some(&msg)).await?;
            }
        }
        tracing::warn!("{msg}");
        self.bus
            .emit(EventKind::OperationFinished { operation: op });
        // Recorded before the caller goes on: the look that ended it may be a CLI
        // process that exits as soon as it has printed the machine.
        self.bus.flush().await;
        Ok(())
    }

    /// The machines as the store has them, after ending what dead processes left
    /// half-way: a machine shown Creating, Provisioning or Removing has a live operation
    /// (its own, or its swarm's).
    pub(crate) async fn settled(self: &Arc<Self>, machines: Vec<Machine>) -> Result<Vec<Machine>> {
        let mut changed = false;
        for m in &machines {
            if !m.state.is_transitional() {
                continue;
            }
            if self.settle_abandoned(&m.name).await? {
                changed = true;
            } else if let Some(swarm) = &m.swarm {
                if self.settle_abandoned(swarm).await? {
                    changed = true;
                }
            }
        }
        if !changed {
            return Ok(machines);
        }
        let mut settled = Vec::with_capacity(machines.len());
        for m in machines {
            settled.push(match m.state.is_transitional() {
                true => self.store.machine(&m.name).await?.machine,
                false => m,
            });
        }
        Ok(settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_of_this_host_is_gone_others_are_not() {
        let host = owner_host(owner()).to_string();
        // This process runs; pid 0x7fff_fff0 does not exist on Linux (pid_max is lower).
        assert!(!owner_is_gone(owner()));
        assert!(!owner_is_gone(&format!(
            "{}@{host}#other",
            std::process::id()
        )));
        assert!(owner_is_gone(&format!("2147483632@{host}#abc")));
        // Another host's process cannot be checked from here: its lease must expire.
        assert!(!owner_is_gone("2147483632@elsewhere#abc"));
        assert!(!owner_is_gone("garbage"));
    }

    use crate::api::{ErrorKind, Fleet, Role, Step, Swarm, SwarmSpec};
    use crate::engine::Local;

    /// A fleet with swarm `name` (1 manager running, 1 worker) in the middle of a scale
    /// whose process died while it made the worker (`NAME-w1`, Provisioning): the
    /// operation is recorded unfinished and its lease is the dead process's. Returns
    /// the operation's id.
    async fn abandoned_scale(local: &Local, name: &str) -> String {
        let store = &local.inner.store;
        let now = now_ms();
        let swarm = Swarm {
            state: SwarmState::Scaling,
            ..Swarm::planned(&SwarmSpec::new(name, "container", 1, 1), now)
        };
        assert!(store.insert_swarm(&swarm).await.unwrap());
        for (machine, role, state) in [
            (format!("{name}-m1"), Role::Manager, MachineState::Running),
            (
                format!("{name}-w1"),
                Role::Worker,
                MachineState::Provisioning,
            ),
        ] {
            let m = crate::store::tests::sample_machine(&machine);
            store.insert_machine(&m).await.unwrap();
            store.set_state(&machine, state, None).await.unwrap();
            store.set_machine_swarm(&machine, Some(name)).await.unwrap();
            store
                .add_swarm_node(name, &machine, role, false)
                .await
                .unwrap();
        }
        let step = |name: &str, state| Step {
            name: name.into(),
            state,
            elapsed_ms: None,
        };
        let op = Operation {
            id: format!("swarm-scale-{name}"),
            kind: OperationKind::SwarmScale,
            target: name.into(),
            steps: vec![
                step("plan nodes", StepState::Done),
                step("create machines", StepState::Running),
                step("check shape", StepState::Pending),
            ],
            outcome: None,
            started_ms: now,
            finished_ms: None,
        };
        store.save_operation(&op).await.unwrap();
        let dead = format!("2147483632@{}#abc", owner_host(owner()));
        let held = store
            .try_lease(name, &op.id, &dead, now, LEASE_TTL_MS)
            .await
            .unwrap();
        assert!(held.is_none(), "the lease was free");
        op.id
    }

    /// The sweep a replica runs ends a swarm scale whose process died: failed, about
    /// the swarm, with the scale that finishes it; the swarm Degraded and free for the
    /// next operation; the machine it was making in Error (so it is checked and can be
    /// remade), the running manager left alone. Ended and announced once.
    #[tokio::test]
    async fn a_dead_processes_swarm_scale_is_ended_and_frees_the_swarm() {
        let home = tempfile::tempdir().unwrap();
        let local = Local::open(crate::paths::Paths::at(home.path()), Default::default())
            .await
            .unwrap();
        let inner = local.inner.clone();
        let id = abandoned_scale(&local, "sw").await;

        assert_eq!(inner.end_abandoned_operations().await.unwrap(), 1);
        let op = inner.store.operation(&id).await.unwrap().unwrap();
        assert!(op.finished_ms.is_some());
        assert_eq!(op.steps[1].state, StepState::Failed);
        let Some(Outcome::Failed { error }) = &op.outcome else {
            panic!("the scale did not fail: {op:?}");
        };
        assert!(error.is(ErrorKind::Interrupted), "{error:?}");
        assert!(
            error
                .message()
                .contains("running swarm-scale of sw stopped before it finished"),
            "{error}"
        );
        assert_eq!(error.subject, Some(Subject::Swarm("sw".into())));
        assert_eq!(
            error.hint,
            Some(Hint::Converge {
                managers: Some(1),
                workers: Some(1),
                force: false
            })
        );
        let swarm = inner.store.swarm("sw").await.unwrap().unwrap();
        assert_eq!(swarm.state, SwarmState::Degraded);
        assert!(swarm
            .error
            .is_some_and(|e| e.contains("scaling swarm sw again")));
        let state = |m: &str| {
            let inner = inner.clone();
            let m = m.to_string();
            async move { inner.store.machine(&m).await.unwrap().machine }
        };
        let worker = state("sw-w1").await;
        assert_eq!(worker.state, MachineState::Error);
        assert!(worker
            .error
            .is_some_and(|e| e.contains("stopped before it finished")));
        assert_eq!(state("sw-m1").await.state, MachineState::Running);
        assert!(inner.store.lease("sw").await.unwrap().is_none());
        assert_eq!(inner.end_abandoned_operations().await.unwrap(), 0);

        // The swarm is free: the next operation on it starts and ends.
        let next = inner
            .run_op(OperationKind::SwarmScale, "sw", &["noop"], |_| async {
                Ok(())
            })
            .await
            .unwrap();
        let next = inner.wait(&next.id).await.unwrap();
        assert_eq!(next.outcome, Some(Outcome::Succeeded));
    }

    /// Without a server sweeping (a CLI whose scale was killed), a look at the machines
    /// or the swarms ends the abandoned scale: a machine it was making is shown in
    /// Error, not Provisioning forever, and the swarm Degraded, not Scaling.
    #[tokio::test]
    async fn a_look_ends_a_dead_processes_swarm_scale() {
        let home = tempfile::tempdir().unwrap();
        let local = Local::open(crate::paths::Paths::at(home.path()), Default::default())
            .await
            .unwrap();
        abandoned_scale(&local, "by-machine").await;
        abandoned_scale(&local, "by-swarm").await;
        let swarm_state = |name: &str| {
            let local = local.clone();
            let name = name.to_string();
            async move { local.inner.store.swarm(&name).await.unwrap().unwrap().state }
        };

        // A look at the machine ends its swarm's scale, and only that one.
        let worker = local.get("by-machine-w1").await.unwrap();
        assert_eq!(worker.state, MachineState::Error);
        assert_eq!(swarm_state("by-machine").await, SwarmState::Degraded);
        assert_eq!(swarm_state("by-swarm").await, SwarmState::Scaling);

        // A look at the swarms ends the other.
        let swarms = local.swarm_list().await.unwrap();
        assert!(
            swarms.iter().all(|s| s.state == SwarmState::Degraded),
            "{swarms:?}"
        );
        let machines = local.list().await.unwrap();
        let states: Vec<(&str, MachineState)> = machines
            .iter()
            .map(|m| (m.name.as_str(), m.state))
            .collect();
        assert_eq!(
            states,
            [
                ("by-machine-m1", MachineState::Running),
                ("by-machine-w1", MachineState::Error),
                ("by-swarm-m1", MachineState::Running),
                ("by-swarm-w1", MachineState::Error),
            ]
        );
    }
}
