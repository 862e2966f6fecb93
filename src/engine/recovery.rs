//! Crash recovery: operations a stopped server left unfinished. Only the one process
//! that runs a fleet's operations (its server) may call this, at start.

use super::Local;
use crate::api::{
    now_ms, Error, EventKind, MachineState, OperationKind, Outcome, Result, StepState,
};

impl Local {
    /// Fails every operation the store shows as started but never finished: the process
    /// that ran it stopped. Machines it left half-way are marked Error with what to do.
    pub async fn fail_interrupted_operations(&self) -> Result<usize> {
        let inner = &self.inner;
        let ops = inner.store.unfinished_operations().await?;
        let count = ops.len();
        for mut op in ops {
            let t = op.target.clone();
            let msg = format!(
                "the server stopped during {} of {t}: provisioning it again finishes it, removing it with force cleans it up",
                op.kind.as_str()
            );
            for s in &mut op.steps {
                if s.state == StepState::Running {
                    s.state = StepState::Failed;
                }
            }
            op.outcome = Some(Outcome::Failed {
                error: Error::interrupted(msg.clone()),
            });
            op.finished_ms = Some(now_ms());
            inner.store.save_operation(&op).await?;
            // A machine operation may have left its host half-changed: say so.
            let machine_op = matches!(
                op.kind,
                OperationKind::Create
                    | OperationKind::Remove
                    | OperationKind::Provision
                    | OperationKind::RegenerateCerts
            );
            if machine_op {
                if let Ok(rec) = inner.store.machine(&t).await {
                    if rec.machine.state != MachineState::Gone {
                        inner.set_state(&t, MachineState::Error, Some(&msg)).await?;
                    }
                }
            }
            tracing::warn!("{msg}");
            inner
                .bus
                .emit(EventKind::OperationFinished { operation: op });
        }
        Ok(count)
    }
}
