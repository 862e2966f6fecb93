//! The loop: one `select!` over terminal input, the event follower, a wake-up timer and
//! finished fleet calls. State changes only in `App::update`; a frame is drawn only
//! when something visible changed, at most once per FRAME (a burst of 1000 events
//! costs a few frames), and nothing at all while idle: the timer is set to
//! `App::next_wake_ms` (when a shown age or the freshness changes, or a refresh is
//! due), not to a fixed tick, and a refresh that brings the same data draws nothing.
//! Every fleet call runs in a spawned task, so the loop never waits on the network or a
//! host (except ssh, which owns the terminal while it runs).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossterm::event::{Event as TermEvent, EventStream};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{App, Call, Effect, Msg};
use super::model::Snapshot;
use super::terminal;
use crate::api::{follow, Error, Fleet, FollowFrom, MonitorSettings};

/// The shortest time between two frames.
pub const FRAME: Duration = Duration::from_millis(50);
/// The longest the loop sleeps without a reason (then it looks again and sleeps on).
const MAX_SLEEP_MS: i64 = 3_600_000;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

pub async fn run(
    fleet: Arc<dyn Fleet>,
    mut app: App,
    monitor: MonitorSettings,
) -> color_eyre::Result<()> {
    // The fleet is asked before the terminal is set up, so the first read runs while
    // the screen is being taken.
    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    for fx in app.start() {
        spawn_effect(&fleet, &tx, fx);
    }
    let mut term = terminal::enter()?;
    let result = run_in(&mut term, fleet, &mut app, monitor, (tx, rx)).await;
    terminal::restore();
    result
}

async fn run_in(
    term: &mut terminal::Term,
    fleet: Arc<dyn Fleet>,
    app: &mut App,
    monitor: MonitorSettings,
    (tx, mut rx): (mpsc::UnboundedSender<Msg>, mpsc::UnboundedReceiver<Msg>),
) -> color_eyre::Result<()> {
    let size = term.size()?;
    app.update(Msg::Resize(size.width, size.height));
    app.update(Msg::Tick(now_ms()));
    // Locally the monitor runs in this process (a server runs its own: a no-op there).
    // It starts once the first snapshot is on screen: its first round reads and checks
    // every machine, which on two cores would take half the time the first frames wait
    // for.
    let mut monitor = Some(monitor);
    let mut input = Some(EventStream::new());
    let mut events = Box::pin(follow(fleet.clone(), FollowFrom::now()));
    // The empty frame waits one FRAME: a fleet that answers sooner is the first frame
    // (drawn at once, below), and the screen is not drawn twice while the fleet is read.
    let mut last_frame = Instant::now();
    let mut frames: u64 = 0;
    // The first frame with the fleet on it is drawn as soon as the fleet is read, not
    // a throttle interval after the empty frame drawn at start.
    let mut fleet_shown = false;

    loop {
        let frame_at = app.dirty.then_some(last_frame + FRAME);
        // Bounded so a far wake-up (nothing on screen ages) cannot overflow an Instant.
        let wake_in = app
            .next_wake_ms()
            .saturating_sub(now_ms())
            .clamp(0, MAX_SLEEP_MS);
        let wake_at = Instant::now() + Duration::from_millis(wake_in as u64);
        let msg = tokio::select! {
            ev = next_input(&mut input) => match ev {
                Some(Ok(ev)) => match ev {
                    TermEvent::Key(k) => Some(Msg::Key(k)),
                    TermEvent::Mouse(m) => Some(Msg::Mouse(m)),
                    TermEvent::Paste(s) => Some(Msg::Paste(s)),
                    TermEvent::Resize(w, h) => Some(Msg::Resize(w, h)),
                    _ => None,
                },
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            Some(item) = events.next() => Some(Msg::Follow(item)),
            _ = tokio::time::sleep_until(wake_at) => Some(Msg::Tick(now_ms())),
            Some(m) = rx.recv() => Some(m),
            _ = tokio::time::sleep_until(frame_at.unwrap_or_else(Instant::now)), if frame_at.is_some() => {
                let resized = matches!(term.size(), Ok(s) if (s.width, s.height) != app.size);
                if resized {
                    if let Ok(s) = term.size() {
                        app.update(Msg::Resize(s.width, s.height));
                    }
                }
                draw(term, app, &mut frames)?;
                last_frame = Instant::now();
                None
            }
        };
        let Some(msg) = msg else { continue };
        // The fleet's first answers are drawn at once: the list in brief, then the first
        // snapshot, before the monitor starts.
        let first_answer = monitor.is_some() && matches!(msg, Msg::Briefed(..) | Msg::Refreshed(_));
        let complete = monitor.is_some() && matches!(msg, Msg::Refreshed(_));
        if !fleet_shown && matches!(msg, Msg::Briefed(Ok(_), _) | Msg::Refreshed(Ok(_))) {
            fleet_shown = true;
            // The next frame is the first with the fleet (benches/tui.rs times it).
            tracing::debug!(target: "flotilla::tui::frames", "fleet read");
        }
        if complete && matches!(msg, Msg::Refreshed(Ok(_))) {
            // The next frame is the first with every column (benches/tui.rs times it too).
            tracing::debug!(target: "flotilla::tui::frames", "fleet complete");
        }
        let resize = matches!(msg, Msg::Resize(..));
        let effects = app.update(msg);
        if resize || first_answer {
            // Resize is drawn at once: a stale frame at the wrong size looks broken.
            if resize {
                term.autoresize()?;
            }
            draw(term, app, &mut frames)?;
            last_frame = Instant::now();
        }
        if let Some(settings) = monitor.take_if(|_| complete) {
            start_monitor(&fleet, settings);
        }
        for fx in effects {
            match fx {
                Effect::Quit => return Ok(()),
                Effect::Ssh(name) => {
                    // Give the terminal to the shell: stop reading input, leave the
                    // alternate screen, run it, then take everything back.
                    drop(input.take());
                    terminal::suspend();
                    let r = fleet.ssh_attach(&name, None, &[]).await;
                    terminal::resume(term)?;
                    input = Some(EventStream::new());
                    app.update(Msg::SshDone(name, r));
                    app.dirty = true;
                    last_frame = Instant::now() - FRAME;
                }
                Effect::Copy(text) => {
                    if let Err(e) = terminal::copy_osc52(&text) {
                        tracing::warn!("copy: {e}");
                    }
                }
                other => spawn_effect(&fleet, &tx, other),
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

fn start_monitor(fleet: &Arc<dyn Fleet>, settings: MonitorSettings) {
    let fleet = fleet.clone();
    tokio::spawn(async move {
        if let Err(e) = fleet.start_monitor(settings).await {
            tracing::warn!("monitor: {e}");
        }
    });
}

/// Draws one frame. Each is logged (at debug, target `flotilla::tui::frames`) with
/// its number and what made it due (input, event, refresh, clock, ...), so the
/// frames a burst or an idle minute costs are counted on the real loop (`benches/tui.rs`).
fn draw(term: &mut terminal::Term, app: &mut App, frames: &mut u64) -> std::io::Result<()> {
    // A frame drawn for an event or an answer shows the time it is drawn (ages, the
    // freshness), not the last wake-up's.
    app.now_ms = app.now_ms.max(now_ms());
    app.prepare_frame();
    term.draw(|f| super::views::draw(app, f))?;
    app.dirty = false;
    *frames += 1;
    tracing::debug!(
        target: "flotilla::tui::frames",
        frame = *frames,
        cause = app.dirty_cause,
        "frame drawn"
    );
    Ok(())
}

async fn next_input(input: &mut Option<EventStream>) -> Option<std::io::Result<TermEvent>> {
    match input {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

/// Runs a fleet call in a task; its answer comes back as a `Msg`.
fn spawn_effect(fleet: &Arc<dyn Fleet>, tx: &mpsc::UnboundedSender<Msg>, fx: Effect) {
    let fleet = fleet.clone();
    let tx = tx.clone();
    tokio::spawn(async move {
        let msg = match fx {
            Effect::Brief => {
                let asked_ms = now_ms();
                Msg::Briefed(fleet.list_brief().await, asked_ms)
            }
            Effect::Refresh => Msg::Refreshed(snapshot(&*fleet).await),
            Effect::Call(call) => run_call(&*fleet, call).await,
            Effect::Ssh(_) | Effect::Copy(_) | Effect::Quit => return,
        };
        let _ = tx.send(msg);
    });
}

pub async fn snapshot(fleet: &dyn Fleet) -> Result<Snapshot, Error> {
    let (machines, swarms, health, ops) = tokio::join!(
        fleet.list(),
        fleet.swarm_list(),
        fleet.health(&[], false),
        fleet.operations(100),
    );
    Ok(Snapshot {
        machines: machines?,
        swarms: swarms?,
        health: health?,
        ops: ops?,
        time_ms: now_ms(),
    })
}

/// One call, or one per target for bulk actions (run together).
pub async fn run_call(fleet: &dyn Fleet, call: Call) -> Msg {
    use futures::future::join_all;
    let op = |r: Result<crate::api::Operation, Error>| {
        r.map(|o| format!("started (operation {})", super::app::short_id(&o.id)))
    };
    let state = |r: Result<crate::api::Machine, Error>| r.map(|m| m.state.to_string());
    let results: Vec<(String, Result<String, Error>)> = match &call {
        Call::Create(specs) => {
            join_all(
                specs
                    .iter()
                    .map(|s| async move { (s.name.clone(), op(fleet.create(s.clone()).await)) }),
            )
            .await
        }
        Call::Remove(names) => {
            join_all(
                names
                    .iter()
                    .map(|n| async move { (n.clone(), op(fleet.remove(n, false).await)) }),
            )
            .await
        }
        Call::Provision(names) => {
            join_all(
                names
                    .iter()
                    .map(|n| async move { (n.clone(), op(fleet.provision(n, false).await)) }),
            )
            .await
        }
        Call::Start(names) => {
            join_all(
                names
                    .iter()
                    .map(|n| async move { (n.clone(), state(fleet.start(n).await)) }),
            )
            .await
        }
        Call::Stop(names) => {
            join_all(
                names
                    .iter()
                    .map(|n| async move { (n.clone(), state(fleet.stop(n).await)) }),
            )
            .await
        }
        Call::Restart(names) => {
            join_all(
                names
                    .iter()
                    .map(|n| async move { (n.clone(), state(fleet.restart(n).await)) }),
            )
            .await
        }
        Call::SwarmCreate(spec) => vec![(
            spec.name.clone(),
            op(fleet.swarm_create(spec.clone()).await),
        )],
        Call::SwarmScale(name, req) => {
            vec![(name.clone(), op(fleet.swarm_scale(name, req.clone()).await))]
        }
        Call::SwarmRemove(name) => vec![(name.clone(), op(fleet.swarm_remove(name, false).await))],
        Call::Cancel(id) => vec![(
            id.clone(),
            fleet.cancel(id).await.map(|()| "asked to stop".to_string()),
        )],
        Call::ClientConfig(name) => {
            let r = fleet.client_config(name).await;
            return Msg::Env(name.clone(), r);
        }
        Call::History(name) => {
            let r = fleet.health_history(name).await;
            return Msg::History(name.clone(), r);
        }
        Call::SwarmDetail(name) => {
            let (s, svc, a) = tokio::join!(
                fleet.swarm_get(name),
                fleet.swarm_services(name),
                fleet.swarm_autoscale(name)
            );
            return Msg::SwarmLoaded(name.clone(), s, svc, a);
        }
        Call::Backend => return Msg::Backend(fleet.backend().await),
        Call::OsProfiles => return Msg::OsProfiles(fleet.os_profiles().await),
    };
    Msg::Acted { call, results }
}
