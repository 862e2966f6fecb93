//! Crash recovery: operations a stopped server left unfinished. Only the one process
//! that runs a fleet's operations (its server) may call this, at start; an operation
//! another process still runs (a live lease) is left alone.

use super::Local;
use crate::api::Result;

impl Local {
    /// Fails every operation the store shows as started but never finished whose
    /// process stopped. Machines it left half-way are marked Error with what to do.
    pub async fn fail_interrupted_operations(&self) -> Result<usize> {
        let inner = &self.inner;
        let ops = inner.store.unfinished_operations().await?;
        let mut count = 0;
        for op in ops {
            if inner.operation_runs_on(&op.target).await? {
                continue;
            }
            let why = format!(
                "the server stopped during {} of {}",
                op.kind.as_str(),
                op.target
            );
            inner.end_abandoned(op, &why).await?;
            count += 1;
        }
        Ok(count)
    }
}
