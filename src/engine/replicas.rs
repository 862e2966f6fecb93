//! This process as one of several server replicas sharing the store (api/replica.rs):
//! it joins under a name, heartbeats, learns which replicas live, and leaves when it
//! stops. The monitor reads the live monitoring replicas from here and checks only the
//! machines the rendezvous rule gives this one; a fleet no server joined (a CLI, the
//! TUI, `health --watch`) has no replica and its monitor checks every machine.
//!
//! Each heartbeat also ends operations whose process died (another replica's, killed
//! mid-operation), at most every [`SWEEP_EVERY`], so a client following one sees it end.

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::leases::{owner, owner_is_gone};
use super::{Inner, Local};
use crate::api::{
    heartbeat_period, now_ms, replica_ttl, validate_replica_name, Error, MonitorSettings, Replica,
    Result,
};

/// How often a replica looks for operations a dead process left.
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// The replica this process is, once it joined.
pub(crate) struct Slot {
    id: Mutex<Option<String>>,
    /// The ids of the live replicas whose monitor runs (this one included while its
    /// monitor runs), sorted: what the monitor shares the machines over.
    members: watch::Sender<Vec<String>>,
    /// Ends the heartbeat of the current membership (a new one per join).
    stop: Mutex<CancellationToken>,
}

impl Default for Slot {
    fn default() -> Self {
        Slot {
            id: Mutex::new(None),
            members: watch::Sender::new(Vec::new()),
            stop: Mutex::new(CancellationToken::new()),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.stop).cancel();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    /// This process's replica name, when it joined.
    pub fn id(&self) -> Option<String> {
        lock(&self.id).clone()
    }

    /// Told whenever the live monitoring replicas change.
    pub fn watch_members(&self) -> watch::Receiver<Vec<String>> {
        self.members.subscribe()
    }

    /// The live monitoring replicas as last read (this one always among them).
    pub fn members(&self) -> Vec<String> {
        self.members.borrow().clone()
    }
}

impl Inner {
    /// The monitor's interval now (the default when none runs): it paces heartbeats.
    fn monitor_interval_ms(&self) -> u64 {
        self.monitor
            .interval_ms()
            .unwrap_or(MonitorSettings::default().interval_ms)
    }

    fn replica_row(&self, id: &str, started_ms: i64) -> Replica {
        let interval = self.monitor_interval_ms();
        let now = now_ms();
        let ttl = i64::try_from(replica_ttl(interval).as_millis()).unwrap_or(i64::MAX);
        let (monitoring, monitored) = match self.monitor.checking() {
            Some(n) => (true, n as u64),
            None => (false, 0),
        };
        Replica {
            id: id.to_string(),
            process: owner().to_string(),
            started_ms,
            heartbeat_ms: now,
            expires_ms: now.saturating_add(ttl),
            monitoring,
            monitored,
        }
    }

    /// Reads the live replicas and publishes the monitoring ones (with this one).
    async fn read_members(&self, id: &str) -> Result<()> {
        let live = self.store.live_replicas(now_ms()).await?;
        let mut ids: Vec<String> = live
            .into_iter()
            .filter(|r| r.monitoring && r.id != id)
            .map(|r| r.id)
            .collect();
        if self.monitor.checking().is_some() {
            ids.push(id.to_string());
        }
        ids.sort();
        self.replica.members.send_if_modified(|cur| {
            let changed = *cur != ids;
            if changed {
                tracing::info!("monitoring replicas now: {}", ids.join(", "));
                *cur = ids;
            }
            changed
        });
        Ok(())
    }
}

impl Local {
    /// Joins the replicas sharing this store under `name` and heartbeats until
    /// [`Local::leave_replicas`] or the engine's end. Refused (Conflict) while a live
    /// process of another name holder runs; a dead one's name is taken over.
    pub async fn join_replicas(&self, name: &str) -> Result<()> {
        validate_replica_name(name)?;
        let inner = &self.inner;
        let started = now_ms();
        let row = inner.replica_row(name, started);
        if let Some(holder) = inner.store.join_replicas(&row, now_ms()).await? {
            if !owner_is_gone(&holder.process) {
                return Err(Error::conflict(format!(
                    "replica name {name} is taken by a live server ({}): give this one another --replica-name",
                    holder.process
                )));
            }
            inner
                .store
                .leave_replicas(&holder.id, &holder.process)
                .await?;
            if let Some(holder) = inner.store.join_replicas(&row, now_ms()).await? {
                return Err(Error::conflict(format!(
                    "replica name {name} is taken by a live server ({}): give this one another --replica-name",
                    holder.process
                )));
            }
        }
        *lock(&inner.replica.id) = Some(name.to_string());
        inner.read_members(name).await?;
        let stop = CancellationToken::new();
        let old = std::mem::replace(&mut *lock(&inner.replica.stop), stop.clone());
        old.cancel();
        tokio::spawn(heartbeat(
            Arc::downgrade(inner),
            name.to_string(),
            started,
            stop,
        ));
        Ok(())
    }

    /// Heartbeats now (after the monitor started or stopped), so the other replicas
    /// share the machines with this one from their next look rather than a heartbeat
    /// later.
    pub async fn heartbeat_now(&self) -> Result<()> {
        let inner = &self.inner;
        let Some(id) = inner.replica.id() else {
            return Ok(());
        };
        let started = inner
            .store
            .replica(&id)
            .await?
            .map_or_else(now_ms, |r| r.started_ms);
        inner
            .store
            .heartbeat_replica(&inner.replica_row(&id, started))
            .await?;
        inner.read_members(&id).await
    }

    /// Stops heartbeating and deletes this replica's row, so the others take its
    /// machines at once rather than when it expires.
    pub async fn leave_replicas(&self) {
        let inner = &self.inner;
        lock(&inner.replica.stop).cancel();
        let Some(id) = inner
            .replica
            .id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        else {
            return;
        };
        // The monitor checks every machine again until the process joins again.
        inner.replica.members.send_replace(Vec::new());
        if let Err(e) = inner.store.leave_replicas(&id, owner()).await {
            tracing::warn!("cannot leave the replicas: {e}");
        }
    }
}

/// Heartbeats every [`heartbeat_period`] of the monitor's interval: renews the row
/// (joining again if it was lost), reads who lives, and ends abandoned operations.
async fn heartbeat(inner: Weak<Inner>, id: String, started: i64, stop: CancellationToken) {
    let mut last_sweep: Option<Instant> = None;
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let period = heartbeat_period(strong.monitor_interval_ms());
        let row = strong.replica_row(&id, started);
        match strong.store.heartbeat_replica(&row).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!(
                    "replica {id}: its row was gone (it stalled past its expiry); joining again"
                );
                if let Err(e) = strong.store.join_replicas(&row, now_ms()).await {
                    tracing::warn!("replica {id}: cannot join again: {e}");
                }
            }
            Err(e) => tracing::warn!("replica {id}: cannot heartbeat: {e}"),
        }
        if let Err(e) = strong.read_members(&id).await {
            tracing::warn!("replica {id}: cannot read the live replicas: {e}");
        }
        if !last_sweep.is_some_and(|t| t.elapsed() < SWEEP_EVERY) {
            last_sweep = Some(Instant::now());
            match strong.end_abandoned_operations().await {
                Ok(0) => {}
                Ok(n) => tracing::warn!("ended {n} operation(s) a stopped process left running"),
                Err(e) => tracing::warn!("cannot look for abandoned operations: {e}"),
            }
        }
        drop(strong);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

pub(crate) async fn live(inner: &Arc<Inner>) -> Result<Vec<Replica>> {
    Ok(inner.store.live_replicas(now_ms()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{replica_for, Fleet, Machine, MachineState};
    use std::collections::HashMap;

    /// A stopped machine (the monitor checks it without reaching a host).
    fn machine(name: &str) -> Machine {
        Machine {
            state: MachineState::Stopped,
            ..crate::store::tests::sample_machine(name)
        }
    }

    /// Who checked each machine since `after_ms`, as the store's health rows say.
    async fn checkers(local: &Local, after_ms: i64) -> HashMap<String, String> {
        local
            .inner
            .store
            .all_health()
            .await
            .unwrap()
            .into_iter()
            .filter(|h| h.checked_ms > after_ms)
            .filter_map(|h| Some((h.machine.clone(), h.checked_by?)))
            .collect()
    }

    /// Two engines on one store, each a replica with its monitor: every machine is
    /// checked by the one the rule names (hosts that do not exist are still checked);
    /// one replica stops heartbeating (as a killed one does): its machines are checked
    /// by the other after its row expires; one that leaves hands them over at once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_share_the_checks_and_take_over_a_dead_ones() {
        let dir = tempfile::tempdir().unwrap();
        let paths = crate::paths::Paths::at(dir.path());
        let a = Local::open(paths.clone(), Default::default())
            .await
            .unwrap();
        let b = Local::open(paths, Default::default()).await.unwrap();
        let names: Vec<String> = (0..8).map(|i| format!("share{i}")).collect();
        for n in &names {
            a.inner.store.insert_machine(&machine(n)).await.unwrap();
        }
        let settings = MonitorSettings {
            interval_ms: 300,
            timeout_ms: 500,
            ..Default::default()
        };
        for r in [&a, &b] {
            r.start_monitor(settings.clone()).await.unwrap();
        }
        a.join_replicas("ra").await.unwrap();
        b.join_replicas("rb").await.unwrap();
        let both = vec!["ra".to_string(), "rb".to_string()];
        let wait_for = |want: Vec<String>, after: i64| {
            let (a, b, names) = (a.clone(), b.clone(), names.clone());
            async move {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                loop {
                    let got = checkers(&a, after).await;
                    let right = names
                        .iter()
                        .all(|n| got.get(n).map(String::as_str) == replica_for(n, &want));
                    if right {
                        return got;
                    }
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "not every machine checked by its replica among {want:?}: {got:?}"
                    );
                    let _ = &b;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        };
        let t0 = now_ms();
        wait_for(both.clone(), t0).await;
        let mut ids: Vec<String> = b
            .replicas()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        ids.sort();
        assert_eq!(ids, both);
        // Each replica watches only its own machines.
        let mine = |r: &str| {
            names
                .iter()
                .filter(|n| replica_for(n, &both) == Some(r))
                .count()
        };
        assert_eq!(a.inner.monitor.checking(), Some(mine("ra")));
        assert_eq!(b.inner.monitor.checking(), Some(mine("rb")));

        // A stops heartbeating and checking, without a goodbye: B takes all after
        // A's row expires.
        lock(&a.inner.replica.stop).cancel();
        a.inner.monitor.stop();
        let t1 = now_ms();
        wait_for(vec!["rb".to_string()], t1).await;
        assert_eq!(b.inner.monitor.checking(), Some(names.len()));

        // A comes back (its name was free again), and leaves with a goodbye: B has
        // them all again at once, not after an expiry.
        a.start_monitor(settings.clone()).await.unwrap();
        a.join_replicas("ra").await.unwrap();
        wait_for(both.clone(), now_ms()).await;
        a.leave_replicas().await;
        a.inner.monitor.stop();
        wait_for(vec!["rb".to_string()], now_ms()).await;
        b.leave_replicas().await;
    }
}
