//! The health monitor. Every machine gets its own loop: a check every interval (spread
//! by jitter), at most `concurrency` checks at once across the fleet, over SSH and Docker
//! connections kept between rounds. A check yields a status with reasons (`verdict`);
//! the status changes only after `hysteresis` results in a row agree, and each change is
//! an `EventKind::HealthChanged` on the bus. The latest health goes to the store (one
//! transaction per interval), so `ls` and `flotilla health` answer without waiting on
//! hosts; the last hour of samples stays in memory for the TUI's sparklines.
//!
//! The monitor runs where something watches the fleet (the TUI, the server,
//! `flotilla health --watch`); without one, `Fleet::health(.., check_now)` checks once.

mod metrics;
mod probe;
mod verdict;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::Duration;

use async_trait::async_trait;
use rand::Rng;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::api::{
    replica_for, Error, EventKind, Health, HealthSample, Machine, MachineState, MonitorSettings,
    Result, SwarmNodeHealth,
};
use crate::docker::MachineDocker;
use crate::settings::HealthLimits;
use verdict::{History, Tracker};

/// A swarm member as the monitor hands it to the [`SwarmProbe`].
pub(crate) struct SwarmMember {
    pub machine: Machine,
    /// The member's Docker client when its last check reached the engine (kept open).
    pub docker: Option<Arc<MachineDocker>>,
}

/// The hook through which the swarm code tells the monitor how managers see each node.
/// Register one with [`Slot::set_swarm_probe`]; the monitor calls it once per interval.
#[async_trait]
pub(crate) trait SwarmProbe: Send + Sync {
    /// Returns the node facts of members, by machine name (e.g. one `docker node ls` on
    /// a reachable manager). Members left out have no swarm facts this round.
    async fn nodes(&self, members: &[SwarmMember]) -> HashMap<String, SwarmNodeHealth>;
}

/// The monitor running in this process, if any, and the swarm hook.
#[derive(Default)]
pub(crate) struct Slot {
    running: Mutex<Option<Arc<Monitor>>>,
    swarm_probe: Mutex<Option<Arc<dyn SwarmProbe>>>,
}

impl Slot {
    pub fn set_swarm_probe(&self, probe: Arc<dyn SwarmProbe>) {
        *lock(&self.swarm_probe) = Some(probe);
    }

    fn current(&self) -> Option<Arc<Monitor>> {
        lock(&self.running)
            .clone()
            .filter(|m| !m.cancel.is_cancelled())
    }

    /// The running monitor's interval, if one runs.
    pub fn interval_ms(&self) -> Option<u64> {
        self.current().map(|m| m.settings().interval_ms)
    }

    /// How many machines the running monitor checks (has a loop for), if one runs.
    pub fn checking(&self) -> Option<usize> {
        self.current().map(|m| {
            lock(&m.watched)
                .values()
                .filter(|w| w.looping.load(Ordering::SeqCst))
                .count()
        })
    }

    /// Stops the running monitor (its loops end at their next wait).
    pub fn stop(&self) {
        if let Some(m) = lock(&self.running).take() {
            m.cancel.cancel();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) struct Monitor {
    settings: RwLock<MonitorSettings>,
    permits: RwLock<Arc<Semaphore>>,
    watched: Mutex<HashMap<String, Arc<Watched>>>,
    /// Latest health not yet written to the store.
    dirty: Mutex<HashMap<String, Health>>,
    /// Wakes the waiting loops when the settings change, so a new interval applies at
    /// once rather than after the old one (which may be a day).
    changed: tokio::sync::Notify,
    cancel: CancellationToken,
}

/// One machine under watch.
struct Watched {
    /// The machine as the store last said.
    machine: Mutex<Machine>,
    /// Held for the whole check, so one machine is never checked twice at once.
    conn: tokio::sync::Mutex<probe::Conn>,
    view: Mutex<View>,
    swarm: Mutex<Option<SwarmNodeHealth>>,
    /// Whether its loop runs (machines first met by a `check_now` get one later).
    looping: AtomicBool,
    stop: CancellationToken,
}

struct View {
    tracker: Tracker,
    latest: Health,
    history: History,
}

impl Monitor {
    fn new(settings: MonitorSettings) -> Arc<Monitor> {
        Arc::new(Monitor {
            permits: RwLock::new(Arc::new(Semaphore::new(settings.concurrency))),
            settings: RwLock::new(settings),
            watched: Mutex::new(HashMap::new()),
            dirty: Mutex::new(HashMap::new()),
            changed: tokio::sync::Notify::new(),
            cancel: CancellationToken::new(),
        })
    }

    fn settings(&self) -> MonitorSettings {
        self.settings
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn reconfigure(&self, s: MonitorSettings) {
        let mut settings = self.settings.write().unwrap_or_else(|e| e.into_inner());
        if settings.concurrency != s.concurrency {
            // Checks in flight keep their permits from the old semaphore.
            *self.permits.write().unwrap_or_else(|e| e.into_inner()) =
                Arc::new(Semaphore::new(s.concurrency));
        }
        *settings = s;
        drop(settings);
        self.changed.notify_waiters();
    }

    /// The watched entry of `m`, made (with the recorded health) when new; its machine
    /// record is refreshed either way.
    fn watch(&self, m: &Machine, recorded: Option<&Health>) -> Arc<Watched> {
        let mut watched = lock(&self.watched);
        if let Some(w) = watched.get(&m.name) {
            *lock(&w.machine) = m.clone();
            return w.clone();
        }
        let latest = recorded
            .cloned()
            .unwrap_or_else(|| Health::unknown(&m.name, Some("not checked yet")));
        let w = Arc::new(Watched {
            machine: Mutex::new(m.clone()),
            conn: tokio::sync::Mutex::new(probe::Conn::default()),
            view: Mutex::new(View {
                tracker: Tracker::new(latest.status, latest.since_ms),
                latest,
                history: History::default(),
            }),
            swarm: Mutex::new(None),
            looping: AtomicBool::new(false),
            stop: self.cancel.child_token(),
        });
        watched.insert(m.name.clone(), w.clone());
        w
    }

    /// Follows the store: new machines are watched, removed ones let go (their
    /// connections close). Returns the machines that have no loop yet.
    async fn refresh(&self, inner: &Arc<Inner>) -> Result<Vec<Arc<Watched>>> {
        let mut machines = inner.store.machines().await?;
        // A replica of several checks only the machines the rendezvous rule gives it
        // among the live monitoring replicas.
        if let Some(me) = inner.replica.id() {
            // This monitor runs, so this replica is among them even before its next
            // heartbeat says so.
            let mut members = inner.replica.members();
            if !members.contains(&me) {
                members.push(me.clone());
            }
            machines.retain(|m| replica_for(&m.name, &members) == Some(me.as_str()));
        }
        // The recorded health seeds new entries only: read it when there are some.
        let any_new = {
            let watched = lock(&self.watched);
            machines.iter().any(|m| !watched.contains_key(&m.name))
        };
        let recorded: HashMap<String, Health> = if any_new {
            inner
                .store
                .all_health()
                .await?
                .into_iter()
                .map(|h| (h.machine.clone(), h))
                .collect()
        } else {
            HashMap::new()
        };
        let mut fresh = Vec::new();
        for m in &machines {
            let w = self.watch(m, recorded.get(&m.name));
            if !w.looping.swap(true, Ordering::SeqCst) {
                fresh.push(w);
            }
        }
        let mut watched = lock(&self.watched);
        watched.retain(|name, w| {
            let keep = machines.iter().any(|m| &m.name == name);
            if !keep {
                w.stop.cancel();
            }
            keep
        });
        lock(&self.dirty).retain(|name, _| watched.contains_key(name));
        Ok(fresh)
    }

    /// Checks one machine now and records the result.
    async fn check(&self, inner: &Arc<Inner>, w: &Watched) -> Health {
        let settings = self.settings();
        let mut m = lock(&w.machine).clone();
        // The state now, not as of the last refresh: another process may have begun an
        // operation on the machine since, or removed it.
        match inner.store.machine_state(&m.name).await {
            Ok(Some(state)) => {
                m.state = state;
                lock(&w.machine).state = state;
            }
            Ok(None) => return lock(&w.view).latest.clone(),
            Err(e) => tracing::debug!(machine = %m.name, "cannot read the state: {e}"),
        }
        // An operation owns the machine (its engine restarts, its host is made): what
        // a check would see says nothing about its health.
        let busy = m.state.is_transitional() || inner.ops.is_busy(&m.name);
        if busy {
            return lock(&w.view).latest.clone();
        }
        let permits = self
            .permits
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let permit = permits.acquire_owned().await.ok();
        let mut facts = {
            let mut conn = w.conn.lock().await;
            conn.check(inner, &m, &settings).await
        };
        drop(permit);
        if m.swarm.is_some() {
            facts.swarm = lock(&w.swarm).clone();
        }
        let (observed, reasons) = verdict::judge(&facts, &settings);

        // The driver's word on power state is recorded as `status` records it: only for
        // settled states, never under a running operation, and only if the state is
        // still the one this check began with (an operation elsewhere may have moved it).
        if let Ok(live) = facts.driver {
            let settled = matches!(
                m.state,
                MachineState::Running | MachineState::Stopped | MachineState::Gone
            );
            if settled && live != m.state && !inner.ops.is_busy(&m.name) {
                match inner.store.observe_state(&m.name, m.state, live).await {
                    Ok(true) => {
                        lock(&w.machine).state = live;
                        inner.bus.emit(EventKind::MachineStateChanged {
                            machine: m.name.clone(),
                            from: m.state,
                            to: live,
                        });
                    }
                    Ok(false) => {}
                    Err(e) => tracing::debug!(machine = %m.name, "cannot record state: {e}"),
                }
            }
        }

        let keep_ms = (settings.history_secs as i64).saturating_mul(1000);
        let (health, change) = {
            let mut view = lock(&w.view);
            let change = view
                .tracker
                .observe(observed, settings.hysteresis, facts.time_ms);
            let health = Health {
                machine: m.name.clone(),
                status: view.tracker.settled,
                observed,
                reasons: reasons.clone(),
                checked_ms: facts.time_ms,
                since_ms: view.tracker.since_ms,
                driver_state: facts.driver.as_ref().ok().copied(),
                ssh_rtt_ms: facts.ssh.ok().copied(),
                docker: facts.docker.ok().cloned(),
                metrics: facts.metrics.ok().cloned(),
                swarm: facts.swarm.clone(),
                checked_by: inner.replica.id(),
            };
            view.history
                .push(verdict::sample(&facts, observed), keep_ms);
            view.latest = health.clone();
            (health, change)
        };
        if change.is_some() {
            // A change is in the store before its event goes out, so whoever reacts to
            // the event (`ls`, another process) reads the new status.
            if let Err(e) = inner.store.put_health(std::slice::from_ref(&health)).await {
                tracing::warn!(machine = %m.name, "cannot record health: {e}");
            }
            lock(&self.dirty).remove(&m.name);
        } else {
            lock(&self.dirty).insert(m.name.clone(), health.clone());
        }
        if let Some((from, to)) = change {
            tracing::info!(machine = %m.name, %from, %to, reasons = %health.reasons_line(), "health changed");
            inner.bus.emit(EventKind::HealthChanged {
                machine: m.name.clone(),
                from,
                to,
                reasons,
            });
        }
        health
    }

    /// Writes the latest health of what changed since the last write, in one transaction.
    async fn flush_store(&self, inner: &Arc<Inner>) {
        let batch: Vec<Health> = lock(&self.dirty).drain().map(|(_, h)| h).collect();
        if let Err(e) = inner.store.put_health(&batch).await {
            tracing::warn!("cannot record the machines' health: {e}");
        }
    }

    fn latest(&self, name: &str) -> Option<Health> {
        let w = lock(&self.watched).get(name).cloned()?;
        let h = lock(&w.view).latest.clone();
        Some(h)
    }

    fn history(&self, name: &str) -> Vec<HealthSample> {
        match lock(&self.watched).get(name).cloned() {
            Some(w) => lock(&w.view).history.to_vec(),
            None => Vec::new(),
        }
    }

    /// Asks the swarm hook how managers see the members, and keeps the answers for
    /// the members' next checks.
    async fn probe_swarms(&self, inner: &Arc<Inner>) {
        let Some(probe) = lock(&inner.monitor.swarm_probe).clone() else {
            return;
        };
        let members: Vec<(Arc<Watched>, SwarmMember)> = lock(&self.watched)
            .values()
            .filter_map(|w| {
                let machine = lock(&w.machine).clone();
                machine.swarm.as_ref()?;
                // A check holding the connection is busy with it; skip its client this time.
                let docker = w.conn.try_lock().ok().and_then(|c| c.docker());
                Some((w.clone(), SwarmMember { machine, docker }))
            })
            .collect();
        if members.is_empty() {
            return;
        }
        let list: Vec<SwarmMember> = members
            .iter()
            .map(|(_, m)| SwarmMember {
                machine: m.machine.clone(),
                docker: m.docker.clone(),
            })
            .collect();
        let timeout = Duration::from_millis(self.settings().timeout_ms);
        let mut nodes = tokio::time::timeout(timeout, probe.nodes(&list))
            .await
            .unwrap_or_default();
        for (w, m) in members {
            *lock(&w.swarm) = nodes.remove(&m.machine.name);
        }
    }
}

/// A wait of `interval` spread by ±`jitter` of it.
fn jittered(s: &MonitorSettings) -> Duration {
    let base = s.interval_ms as f64;
    let spread = base * s.jitter.clamp(0.0, 0.5);
    let ms = if spread > 0.0 {
        base + rand::thread_rng().gen_range(-spread..=spread)
    } else {
        base
    };
    Duration::from_millis(ms.max(1.0) as u64)
}

/// The monitor's housekeeping: follows the store's machines (starting a loop for each
/// new one), asks the swarm hook, and writes the latest health once per interval.
async fn supervise(inner: Weak<Inner>, mon: Arc<Monitor>) {
    let Some(mut members) = inner.upgrade().map(|i| i.replica.watch_members()) else {
        return;
    };
    let mut first = true;
    loop {
        let Some(strong) = inner.upgrade() else { break };
        // Seen before the machines are shared out: a change during it wakes the next.
        members.mark_unchanged();
        match mon.refresh(&strong).await {
            Ok(fresh) => {
                for w in fresh {
                    // The first round spreads the fleet's checks over an interval; on a
                    // replica, machines met later (new ones, or taken over from a
                    // replica that died) are checked soon.
                    let spread = first || strong.replica.id().is_none();
                    tokio::spawn(machine_loop(inner.clone(), mon.clone(), w, spread));
                }
                first = false;
            }
            Err(e) => tracing::warn!("monitor: cannot read the machines: {e}"),
        }
        mon.probe_swarms(&strong).await;
        mon.flush_store(&strong).await;
        drop(strong);
        let wait = Duration::from_millis(mon.settings().interval_ms);
        tokio::select! {
            _ = mon.cancel.cancelled() => break,
            _ = mon.changed.notified() => {}
            // Another replica joined or died: the machines are shared out again now.
            Ok(()) = members.changed() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
    if let Some(strong) = inner.upgrade() {
        mon.flush_store(&strong).await;
    }
}

/// One machine's checks: a first one at a random point of the first interval (so a
/// fleet's checks spread out), then one per jittered interval.
async fn machine_loop(inner: Weak<Inner>, mon: Arc<Monitor>, w: Arc<Watched>, spread: bool) {
    let interval = mon.settings().interval_ms.max(1);
    let within = if spread {
        interval
    } else {
        (interval / 10).max(1)
    };
    let first = Duration::from_millis(rand::thread_rng().gen_range(0..within));
    tokio::select! {
        _ = w.stop.cancelled() => return,
        _ = mon.changed.notified() => {}
        _ = tokio::time::sleep(first) => {}
    }
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        tokio::select! {
            _ = w.stop.cancelled() => return,
            _ = mon.check(&strong, &w) => {}
        }
        drop(strong);
        tokio::select! {
            _ = w.stop.cancelled() => return,
            _ = mon.changed.notified() => {}
            _ = tokio::time::sleep(jittered(&mon.settings())) => {}
        }
    }
}

/// The machines named (all when none is), in that order; an unknown name is an error.
async fn select(inner: &Arc<Inner>, names: &[String]) -> Result<Vec<Machine>> {
    if names.is_empty() {
        return Ok(inner.store.machines().await?);
    }
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        out.push(inner.store.machine(name).await?.machine);
    }
    Ok(out)
}

pub(crate) async fn health(
    inner: &Arc<Inner>,
    names: &[String],
    check_now: bool,
) -> Result<Vec<Health>> {
    let running = inner.monitor.current();
    if check_now {
        let machines = select(inner, names).await?;
        let recorded: HashMap<String, Health> = inner
            .store
            .all_health()
            .await?
            .into_iter()
            .map(|h| (h.machine.clone(), h))
            .collect();
        // Without a monitor here, a one-round monitor with fresh connections.
        let mon = running.unwrap_or_else(|| {
            Monitor::new(with_limits(
                MonitorSettings::default(),
                &inner.settings.health,
            ))
        });
        let watched: Vec<Arc<Watched>> = machines
            .iter()
            .map(|m| mon.watch(m, recorded.get(&m.name)))
            .collect();
        // How the managers see the swarm members, before the members are judged.
        mon.probe_swarms(inner).await;
        let out = futures::future::join_all(watched.iter().map(|w| mon.check(inner, w))).await;
        mon.flush_store(inner).await;
        // Recorded before the caller goes on: a CLI process ends right after.
        inner.bus.flush().await;
        return Ok(out);
    }
    // Every machine, by name (the store's order), with what was recorded for it.
    let all = inner.store.health_by_machine().await?;
    let recorded: Vec<(String, Option<Health>)> = if names.is_empty() {
        all
    } else {
        let by_name: HashMap<String, Option<Health>> = all.into_iter().collect();
        names
            .iter()
            .map(|name| {
                by_name
                    .get(name)
                    .map(|h| (name.clone(), h.clone()))
                    .ok_or_else(|| Error::not_found(name))
            })
            .collect::<Result<_>>()?
    };
    let live = |name: &str| {
        running
            .as_ref()
            .and_then(|mon| mon.latest(name))
            .filter(|h| h.checked_ms > 0)
    };
    Ok(recorded
        .into_iter()
        .map(|(name, recorded)| {
            live(&name)
                .or(recorded)
                .unwrap_or_else(|| Health::unknown(&name, Some("not checked yet")))
        })
        .collect())
}

/// Machines in brief with the health a monitor running in this process has seen
/// since it last wrote to the store (as [`health`] answers).
pub(crate) fn with_latest(inner: &Arc<Inner>, briefs: &mut [crate::api::MachineBrief]) {
    let Some(mon) = inner.monitor.current() else {
        return;
    };
    for b in briefs {
        if let Some(h) = mon.latest(&b.name).filter(|h| h.checked_ms > 0) {
            b.health = Some(crate::api::HealthBrief::from(&h));
        }
    }
}

pub(crate) async fn history(inner: &Arc<Inner>, name: &str) -> Result<Vec<HealthSample>> {
    inner.store.machine(name).await?;
    Ok(inner
        .monitor
        .current()
        .map(|m| m.history(name))
        .unwrap_or_default())
}

/// The operator's limits for "degraded" (settings `health.*`), where set, over the
/// monitor's own.
pub(crate) fn with_limits(mut s: MonitorSettings, limits: &HealthLimits) -> MonitorSettings {
    if let Some(v) = limits.load_per_cpu_max {
        s.load_per_cpu_max = v;
    }
    if let Some(v) = limits.disk_percent_max {
        s.disk_percent_max = v;
    }
    if let Some(v) = limits.mem_percent_max {
        s.mem_percent_max = v;
    }
    s
}

pub(crate) async fn start(inner: &Arc<Inner>, settings: MonitorSettings) -> Result<()> {
    let settings = with_limits(settings, &inner.settings.health);
    settings.validate()?;
    let mut running = lock(&inner.monitor.running);
    if let Some(mon) = running.as_ref().filter(|m| !m.cancel.is_cancelled()) {
        mon.reconfigure(settings);
        return Ok(());
    }
    let mon = Monitor::new(settings);
    *running = Some(mon.clone());
    tokio::spawn(supervise(Arc::downgrade(inner), mon));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::HealthStatus;

    #[test]
    fn jitter_stays_within_its_share() {
        let s = MonitorSettings {
            interval_ms: 1000,
            jitter: 0.2,
            ..Default::default()
        };
        for _ in 0..200 {
            let d = jittered(&s).as_millis();
            assert!((800..=1200).contains(&d), "{d}");
        }
    }

    /// An interval of a day, then one of 200 ms: the loops waiting out the day wake and
    /// check at the new pace (a machine whose host does not exist still gets checked).
    #[tokio::test]
    async fn loops_wake_when_the_settings_change() {
        let dir = tempfile::tempdir().unwrap();
        let local =
            crate::engine::Local::open(crate::paths::Paths::at(dir.path()), Default::default())
                .await
                .unwrap();
        let inner = local.inner.clone();
        let mut m = crate::api::Machine {
            name: "m-wake".into(),
            driver: "container".into(),
            state: MachineState::Stopped,
            error: None,
            ip: None,
            url: None,
            docker_version: None,
            swarm: None,
            hostname: None,
            ssh_user: "root".into(),
            ssh_port: 22,
            host_key_fingerprint: None,
            spec: crate::api::MachineSpec::new("m-wake", "container"),
            driver_data: serde_json::json!({}),
            created_ms: 1,
            observed_ms: 1,
        };
        m.spec.name = m.name.clone();
        inner.store.insert_machine(&m).await.unwrap();
        let day = MonitorSettings {
            interval_ms: MonitorSettings::MAX_INTERVAL_MS,
            timeout_ms: 500,
            ..Default::default()
        };
        start(&inner, day.clone()).await.unwrap();
        let mon = inner.monitor.current().unwrap();
        // The supervisor's first round watches the machine; its loop then waits.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while mon.latest("m-wake").is_none() {
            assert!(tokio::time::Instant::now() < deadline, "never watched");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        start(
            &inner,
            MonitorSettings {
                interval_ms: 200,
                ..day
            },
        )
        .await
        .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let checked = mon.latest("m-wake").map_or(0, |h| h.checked_ms);
            if checked > 0 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the loops did not wake on the new settings"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        inner.monitor.stop();
    }

    /// Without hosts: machines that are being made are not checked (their health stays
    /// unknown), unknown names are errors, and the health of a machine nobody checked
    /// says so.
    #[tokio::test]
    async fn health_answers_from_the_store_without_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let local =
            crate::engine::Local::open(crate::paths::Paths::at(dir.path()), Default::default())
                .await
                .unwrap();
        let inner = local.inner.clone();
        let m = crate::api::Machine {
            name: "m1".into(),
            driver: "container".into(),
            state: MachineState::Creating,
            error: None,
            ip: None,
            url: None,
            docker_version: None,
            swarm: None,
            hostname: None,
            ssh_user: "root".into(),
            ssh_port: 22,
            host_key_fingerprint: None,
            spec: crate::api::MachineSpec::new("m1", "container"),
            driver_data: serde_json::json!({}),
            created_ms: 1,
            observed_ms: 1,
        };
        inner.store.insert_machine(&m).await.unwrap();
        let h = health(&inner, &[], false).await.unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].status, HealthStatus::Unknown);
        assert!(h[0].reasons_line().contains("not checked yet"));
        // A machine being created is not probed, even when asked to check now.
        let h = health(&inner, &["m1".to_string()], true).await.unwrap();
        assert_eq!(h[0].status, HealthStatus::Unknown);
        let err = health(&inner, &["nope".to_string()], false)
            .await
            .unwrap_err();
        assert!(err.is(crate::api::ErrorKind::NotFound), "{err}");
        assert!(history(&inner, "m1").await.unwrap().is_empty());

        // The recorded health is what answers, and it goes with its machine.
        let mut rec = Health::unknown("m1", None);
        rec.status = HealthStatus::Degraded;
        rec.reasons = vec!["disk 93% full".into()];
        rec.checked_ms = 42;
        inner.store.put_health(&[rec.clone()]).await.unwrap();
        assert_eq!(health(&inner, &[], false).await.unwrap(), vec![rec]);
        inner.store.delete_machine("m1").await.unwrap();
        assert!(inner.store.all_health().await.unwrap().is_empty());
        // Health of a machine that is gone meanwhile is dropped, not an error.
        inner
            .store
            .put_health(&[Health::unknown("m1", None)])
            .await
            .unwrap();
        assert!(inner.store.all_health().await.unwrap().is_empty());
    }
}
