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
    Result, StepState, Subject,
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

impl Inner {
    /// Takes the lease on `target` for operation `id`, ending first an operation a dead
    /// process left on it. Conflict, naming the holder, while another process runs one.
    pub(crate) async fn take_lease(self: &Arc<Self>, target: &str, id: &str) -> Result<()> {
        // This process holds the target in its registry already (the caller claimed it),
        // so only a live lease means the recorded unfinished operation still runs.
        if !self.lease_is_live(target).await? {
            self.end_unfinished_on(target).await?;
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

    /// Keeps operation `id`'s lease on `target` alive; runs until dropped.
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
            .is_some_and(|l| l.expires_ms >= now_ms()))
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

    /// Records `op` as failed (interrupted) and, for a machine operation, puts the
    /// machine in Error with what to do; emits the operation's end.
    pub(crate) async fn end_abandoned(&self, mut op: Operation, why: &str) -> Result<()> {
        let t = op.target.clone();
        let msg = format!(
            "{why}: provisioning it again finishes it, removing it with force cleans it up"
        );
        for s in &mut op.steps {
            if s.state == StepState::Running {
                s.state = StepState::Failed;
            }
        }
        op.outcome = Some(Outcome::Failed {
            error: Error::interrupted(msg.clone())
                .about(Subject::Machine(t.clone()))
                .hint(Hint::Provision {
                    trust_new_host_key: false,
                }),
        });
        op.finished_ms = Some(now_ms());
        self.store.save_operation(&op).await?;
        let machine_op = matches!(
            op.kind,
            OperationKind::Create
                | OperationKind::Remove
                | OperationKind::Provision
                | OperationKind::RegenerateCerts
        );
        if machine_op {
            if let Ok(rec) = self.store.machine(&t).await {
                if rec.machine.state != MachineState::Gone {
                    self.set_state(&t, MachineState::Error, Some(&msg)).await?;
                }
            }
        }
        tracing::warn!("{msg}");
        self.bus
            .emit(EventKind::OperationFinished { operation: op });
        Ok(())
    }

    /// The machines as the store has them, after ending what dead processes left
    /// half-way: a machine shown Creating, Provisioning or Removing has a live operation.
    pub(crate) async fn settled(self: &Arc<Self>, machines: Vec<Machine>) -> Result<Vec<Machine>> {
        let mut changed = false;
        for m in &machines {
            let transitional = matches!(
                m.state,
                MachineState::Creating | MachineState::Provisioning | MachineState::Removing
            );
            if transitional && self.settle_abandoned(&m.name).await? {
                changed = true;
            }
        }
        if !changed {
            return Ok(machines);
        }
        let mut settled = Vec::with_capacity(machines.len());
        for m in machines {
            settled.push(match m.state {
                MachineState::Creating | MachineState::Provisioning | MachineState::Removing => {
                    self.store.machine(&m.name).await?.machine
                }
                _ => m,
            });
        }
        Ok(settled)
    }
}
