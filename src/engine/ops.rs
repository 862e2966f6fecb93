//! Running long work as an Operation: steps, progress events, cancellation, one
//! operation per target at a time, and a record in the store when it ends.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::api::now_ms;
use crate::api::{
    Error, EventKind, Hint, Operation, OperationKind, Outcome, Result, Step, StepState, Subject,
};

/// Finished operations kept in memory (the store keeps them all).
const KEEP_FINISHED: usize = 256;

/// Operations this process runs or ran, by id.
#[derive(Default)]
pub(crate) struct Registry {
    ops: Mutex<HashMap<String, Entry>>,
    /// target -> id of the operation running on it
    busy: Mutex<HashMap<String, String>>,
}

struct Entry {
    op: Operation,
    cancel: CancellationToken,
    done: watch::Receiver<bool>,
}

impl Registry {
    pub fn get(&self, id: &str) -> Option<Operation> {
        lock(&self.ops).get(id).map(|e| e.op.clone())
    }

    pub fn cancel(&self, id: &str) -> bool {
        match lock(&self.ops).get(id) {
            Some(e) => {
                e.cancel.cancel();
                true
            }
            None => false,
        }
    }

    fn done_signal(&self, id: &str) -> Option<watch::Receiver<bool>> {
        lock(&self.ops).get(id).map(|e| e.done.clone())
    }

    /// Forgets the oldest finished operations beyond [`KEEP_FINISHED`]: they are in the
    /// store, which answers for them; running ones are always kept.
    fn prune(&self) {
        let mut ops = lock(&self.ops);
        let mut finished: Vec<(i64, String)> = ops
            .iter()
            .filter_map(|(id, e)| e.op.finished_ms.map(|t| (t, id.clone())))
            .collect();
        if finished.len() <= KEEP_FINISHED {
            return;
        }
        finished.sort();
        let excess = finished.len() - KEEP_FINISHED;
        for (_, id) in finished.into_iter().take(excess) {
            ops.remove(&id);
        }
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut Operation)) -> Option<Operation> {
        let mut ops = lock(&self.ops);
        let entry = ops.get_mut(id)?;
        f(&mut entry.op);
        Some(entry.op.clone())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Handed to an operation's body: marks steps and makes work cancellable.
pub(crate) struct OpCtx {
    pub inner: Arc<Inner>,
    pub id: String,
    pub target: String,
    cancel: CancellationToken,
    current: Option<(usize, Instant)>,
    /// For a child context: the parent operation's target (e.g. the swarm), which a
    /// rerun of the parent finishes.
    parent: Option<String>,
}

impl OpCtx {
    /// Ends the current step and begins `name`. Fails with `Interrupted` if the
    /// operation was cancelled, so work stops at a step boundary.
    pub fn step(&mut self, name: &str) -> Result<()> {
        self.end_current(StepState::Done);
        self.check_cancelled(name)?;
        let Some(op) = self.inner.ops.get(&self.id) else {
            return Ok(());
        };
        let index = op
            .steps
            .iter()
            .position(|s| s.name == name)
            .unwrap_or(op.steps.len());
        let total = op.steps.len();
        self.inner.ops.update(&self.id, |op| {
            if let Some(s) = op.steps.get_mut(index) {
                s.state = StepState::Running;
            }
        });
        self.current = Some((index, Instant::now()));
        self.inner.bus.emit(EventKind::OperationProgress {
            operation_id: self.id.clone(),
            target: self.target.clone(),
            step: index + 1,
            total,
            name: name.to_string(),
            done: false,
        });
        Ok(())
    }

    /// The running step's output as this operation's output lines (events); the whole
    /// output is in `rest_in` on the host.
    pub fn output_lines(&self, rest_in: &str) -> super::output::OutputLines<impl FnMut(String)> {
        let inner = self.inner.clone();
        let (id, target) = (self.id.clone(), self.target.clone());
        super::output::OutputLines::new(rest_in, move |line| {
            inner.bus.emit(EventKind::OperationOutput {
                operation_id: id.clone(),
                target: target.clone(),
                line,
            })
        })
    }

    /// Marks a step that this run has nothing to do for.
    pub fn skip(&mut self, name: &str) {
        self.end_current(StepState::Done);
        self.inner.ops.update(&self.id, |op| {
            if let Some(s) = op.steps.iter_mut().find(|s| s.name == name) {
                s.state = StepState::Skipped;
            }
        });
    }

    /// A context for work on one machine inside this operation (a swarm's machines):
    /// it shares the cancellation, and its steps stay out of this operation's step
    /// list (their progress would garble the parent's), so it reports no steps itself.
    pub fn child(&self, target: &str) -> OpCtx {
        OpCtx {
            inner: self.inner.clone(),
            id: format!("{}/{target}", self.id),
            target: target.to_string(),
            cancel: self.cancel.clone(),
            current: None,
            parent: Some(self.target.clone()),
        }
    }

    /// Claims `target` (e.g. a machine of a swarm) for this operation until the guard
    /// drops, so no other operation touches it meanwhile: in this process, and through
    /// a lease in the store (renewed with the operation's own) in every process sharing
    /// it. Refuses with `Conflict` while another operation holds it; holding it twice
    /// is fine.
    pub async fn hold(&self, target: &str) -> Result<Hold> {
        let fresh = self.inner.ops.claim(target, &self.id)?;
        if fresh {
            if let Err(e) = self.inner.take_lease(target, &self.id).await {
                self.inner.ops.unclaim(target, &self.id);
                return Err(e);
            }
        }
        Ok(Hold {
            inner: fresh.then(|| (self.inner.clone(), self.id.clone())),
            target: target.to_string(),
        })
    }

    /// Runs `fut` unless and until the operation is cancelled.
    pub async fn guard<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let step = self.current_name();
        tokio::select! {
            biased;
            _ = self.cancel.cancelled() => Err(self.interrupted(&step)),
            out = fut => out,
        }
    }

    fn check_cancelled(&self, step: &str) -> Result<()> {
        if self.cancel.is_cancelled() {
            return Err(self.interrupted(step));
        }
        Ok(())
    }

    fn interrupted(&self, step: &str) -> Error {
        if let Some(parent) = &self.parent {
            return Error::interrupted(format!(
                "interrupted while {parent} made it: what was made is recorded; rerunning the command on {parent} finishes it"
            ));
        }
        Error::interrupted(format!(
            "interrupted during {step:?}: what was made is recorded; provisioning {t} again finishes it, removing it with force cleans it up",
            t = self.target
        ))
        .about(Subject::Machine(self.target.clone()))
        .hint(Hint::Provision {
            trust_new_host_key: false,
        })
    }

    fn current_name(&self) -> String {
        let Some((i, _)) = self.current else {
            return "start".into();
        };
        self.inner
            .ops
            .get(&self.id)
            .and_then(|op| op.steps.get(i).map(|s| s.name.clone()))
            .unwrap_or_default()
    }

    fn end_current(&mut self, state: StepState) {
        let Some((index, began)) = self.current.take() else {
            return;
        };
        let elapsed = began.elapsed().as_millis() as u64;
        let op = self.inner.ops.update(&self.id, |op| {
            if let Some(s) = op.steps.get_mut(index) {
                s.state = state;
                s.elapsed_ms = Some(elapsed);
            }
        });
        if let Some(op) = op {
            let name = op
                .steps
                .get(index)
                .map(|s| s.name.clone())
                .unwrap_or_default();
            self.inner.bus.emit(EventKind::OperationProgress {
                operation_id: self.id.clone(),
                target: self.target.clone(),
                step: index + 1,
                total: op.steps.len(),
                name,
                done: true,
            });
        }
    }
}

/// A target held by an operation beside its own; released on drop.
pub(crate) struct Hold {
    /// None when the operation already held the target (the outer hold releases it).
    inner: Option<(Arc<Inner>, String)>,
    target: String,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let Some((inner, id)) = self.inner.take() else {
            return;
        };
        inner.ops.unclaim(&self.target, &id);
        // Other processes may go on at once. Should this task not run (the process
        // exits), the operation's end releases every lease it took anyway.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let target = std::mem::take(&mut self.target);
            runtime.spawn(async move { inner.release_lease(&target, &id).await });
        }
    }
}

impl Inner {
    /// Starts `body` as an operation on `target` and returns it at once. Refuses with
    /// `Conflict` while another operation runs on the same target.
    pub(crate) async fn run_op<F, Fut>(
        self: &Arc<Self>,
        kind: OperationKind,
        target: &str,
        steps: &[&str],
        body: F,
    ) -> Result<Operation>
    where
        F: FnOnce(OpCtx) -> Fut + Send + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let id = format!(
            "{}-{}",
            kind.as_str(),
            hex::encode(rand::random::<[u8; 4]>())
        );
        self.ops.ensure_idle(target)?;
        self.ops.claim(target, &id)?;
        // Other processes sharing the store: the lease refuses them while this runs.
        if let Err(e) = self.take_lease(target, &id).await {
            lock(&self.ops.busy).remove(target);
            return Err(e);
        }
        let op = Operation {
            id: id.clone(),
            kind,
            target: target.to_string(),
            steps: steps
                .iter()
                .map(|s| Step {
                    name: s.to_string(),
                    state: StepState::Pending,
                    elapsed_ms: None,
                })
                .collect(),
            outcome: None,
            started_ms: now_ms(),
            finished_ms: None,
        };
        let cancel = CancellationToken::new();
        let (done_tx, done_rx) = watch::channel(false);
        self.ops.prune();
        lock(&self.ops.ops).insert(
            id.clone(),
            Entry {
                op: op.clone(),
                cancel: cancel.clone(),
                done: done_rx,
            },
        );
        if let Err(e) = self.store.save_operation(&op).await {
            self.release_lease(target, &id).await;
            lock(&self.ops.busy).remove(target);
            lock(&self.ops.ops).remove(&id);
            return Err(e.into());
        }
        self.bus.emit(EventKind::OperationStarted {
            operation: op.clone(),
        });

        let ctx = OpCtx {
            inner: self.clone(),
            id: id.clone(),
            target: target.to_string(),
            cancel,
            current: None,
            parent: None,
        };
        let inner = self.clone();
        let target = target.to_string();
        tokio::spawn(async move {
            let run = body(ctx);
            let renew = inner
                .clone()
                .renew_lease_forever(target.clone(), id.clone());
            // A panic in the body must not leave the target busy forever.
            let result = tokio::select! {
                joined = tokio::spawn(run) => match joined {
                    Ok(r) => r,
                    Err(e) => Err(Error::internal(format!("operation {id} crashed: {e}"))),
                },
                () = renew => unreachable!("renewing a lease never ends"),
            };
            let finished = inner.ops.update(&id, |op| {
                let failed = result.is_err();
                for s in &mut op.steps {
                    if s.state == StepState::Running {
                        s.state = if failed {
                            StepState::Failed
                        } else {
                            StepState::Done
                        };
                    }
                }
                op.outcome = Some(match &result {
                    Ok(()) => Outcome::Succeeded,
                    Err(error) => Outcome::Failed {
                        error: error.clone(),
                    },
                });
                op.finished_ms = Some(now_ms());
            });
            if let Some(op) = &finished {
                if let Err(e) = inner.store.save_operation(op).await {
                    tracing::warn!("cannot record the end of operation {}: {e}", op.id);
                }
            }
            // Recorded as ended, then free for other processes, then announced: a CLI
            // exits as soon as it sees the end, and the next command must find the
            // target free (and never an unfinished record without a lease).
            inner.release_operation_leases(&id).await;
            if let Some(op) = finished {
                inner
                    .bus
                    .emit(EventKind::OperationFinished { operation: op });
            }
            // In the event log before anyone waiting on `done` goes on (and may exit).
            inner.bus.flush().await;
            lock(&inner.ops.busy).remove(&target);
            let _ = done_tx.send(true);
        });
        Ok(op)
    }

    /// Waits until the operation ends and returns it with its outcome.
    pub(crate) async fn wait(&self, id: &str) -> Result<Operation> {
        let Some(mut done) = self.ops.done_signal(id) else {
            return self
                .store
                .operation(id)
                .await?
                .ok_or_else(|| Error::missing(format!("no operation {id:?}")));
        };
        while !*done.borrow_and_update() {
            if done.changed().await.is_err() {
                break;
            }
        }
        if let Some(op) = self.ops.get(id) {
            return Ok(op);
        }
        // Pruned from memory meanwhile: the store has its end.
        self.store
            .operation(id)
            .await?
            .ok_or_else(|| Error::missing(format!("no operation {id:?}")))
    }
}

impl Registry {
    /// Claims `target` for operation `id` (the one place that decides "busy"). Ok(true)
    /// when newly claimed, Ok(false) when `id` holds it already; Conflict, naming the
    /// operation that holds it, otherwise.
    pub fn claim(&self, target: &str, id: &str) -> Result<bool> {
        let mut busy = lock(&self.busy);
        match busy.get(target) {
            Some(other) if other == id => Ok(false),
            Some(other) => Err(self.busy_error(target, other)),
            None => {
                busy.insert(target.to_string(), id.to_string());
                Ok(true)
            }
        }
    }

    /// Frees `target` if operation `id` holds it.
    pub fn unclaim(&self, target: &str, id: &str) {
        let mut busy = lock(&self.busy);
        if busy.get(target).is_some_and(|holder| holder == id) {
            busy.remove(target);
        }
    }

    /// Refuses while an operation holds `target` (actions that are not operations
    /// themselves: power, token rotation).
    pub fn ensure_idle(&self, target: &str) -> Result<()> {
        let holder = lock(&self.busy).get(target).cloned();
        match holder {
            Some(other) => Err(self.busy_error(target, &other)),
            None => Ok(()),
        }
    }

    fn busy_error(&self, target: &str, other: &str) -> Error {
        let what = self
            .get(other)
            .map(|o| o.kind.as_str())
            .unwrap_or("another operation");
        Error::conflict(format!(
            "{target} is busy: {what} ({other}) is in progress; wait for it or cancel it"
        ))
        .about(Subject::Operation(other.to_string()))
    }

    /// Whether an operation holds `target`.
    pub fn is_busy(&self, target: &str) -> bool {
        lock(&self.busy).contains_key(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registry of a long-running server does not grow without bound: finished
    /// operations beyond the newest KEEP_FINISHED are forgotten, running ones never.
    #[tokio::test]
    async fn finished_operations_are_pruned_running_ones_kept() {
        let home = tempfile::tempdir().unwrap();
        let local =
            crate::engine::Local::open(crate::paths::Paths::at(home.path()), Default::default())
                .await
                .unwrap();
        let inner = local.inner.clone();
        let (release, hold) = watch::channel(false);
        let running = inner
            .run_op(OperationKind::Create, "held", &["wait"], move |_ctx| {
                let mut hold = hold.clone();
                async move {
                    while !*hold.borrow_and_update() {
                        if hold.changed().await.is_err() {
                            break;
                        }
                    }
                    Ok(())
                }
            })
            .await
            .unwrap();
        let mut last = String::new();
        for i in 0..KEEP_FINISHED + 40 {
            let op = inner
                .run_op(
                    OperationKind::Create,
                    &format!("t{i}"),
                    &["noop"],
                    |_| async { Ok(()) },
                )
                .await
                .unwrap();
            inner.wait(&op.id).await.unwrap();
            last = op.id;
        }
        // One more start prunes what the last ones left.
        let op = inner
            .run_op(OperationKind::Create, "tail", &["noop"], |_| async {
                Ok(())
            })
            .await
            .unwrap();
        inner.wait(&op.id).await.unwrap();
        let held = lock(&inner.ops.ops).len();
        assert!(held <= KEEP_FINISHED + 2, "{held} operations in memory");
        assert!(
            inner.ops.get(&running.id).is_some(),
            "a running operation was dropped"
        );
        assert!(inner.ops.get(&last).is_some());
        let _ = release.send(true);
        inner.wait(&running.id).await.unwrap();
    }
}
