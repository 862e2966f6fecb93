//! The one gap-free event follower every consumer uses: the server's event stream,
//! `flotilla events`, the CLI's progress bars and the TUI.
//!
//! It subscribes first, then replays the fleet's event log from where the caller
//! stands, then yields live events; the log is read again after a lag, on a timer (for
//! events other processes recorded) and after the backend comes back. The log is the
//! truth: it never shows id N+1 before N is committed, so reading it moves a watermark
//! below which everything was delivered. Live events may arrive out of order (two tasks
//! broadcasting), so ids above the watermark are remembered until the log passes them:
//! nothing is lost and nothing is yielded twice.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::{Event, EventQuery, Fleet, Result};

/// Where a follower starts and how often it reads the log without being woken.
#[derive(Debug, Clone, Copy)]
pub struct FollowFrom {
    /// Replay the recorded events after this id; `None`: only what happens from now.
    pub after: Option<u64>,
    /// How often the log is read for events no live subscription delivers (other
    /// processes sharing a local store). Bounded to 50 ms ..= 60 s.
    pub poll: Duration,
}

impl FollowFrom {
    pub fn now() -> Self {
        FollowFrom {
            after: None,
            poll: Duration::from_secs(1),
        }
    }
    pub fn after(id: u64) -> Self {
        FollowFrom {
            after: Some(id),
            ..FollowFrom::now()
        }
    }
}

/// What a follower yields: an event, or word that the backend cannot be read now (the
/// follower keeps trying with backoff and resumes where it stood; it never ends on an
/// error). The stream ends only when the consumer drops it.
pub fn follow(fleet: Arc<dyn Fleet>, from: FollowFrom) -> impl Stream<Item = Result<Event>> {
    // A bounded channel: a slow consumer slows the pump, which then catches up from the
    // log instead of buffering without end.
    let (tx, rx) = mpsc::channel::<Result<Event>>(512);
    tokio::spawn(pump(fleet, from, tx));
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|e| (e, rx)) })
}

/// Ids delivered: everything at or below `mark`, and `above` beyond it.
#[derive(Debug, Default)]
struct Delivered {
    mark: u64,
    above: BTreeSet<u64>,
}

impl Delivered {
    /// True when `seq` is new (and records it). Events the store could not record
    /// (`seq == 0`) cannot be deduplicated and always pass.
    fn admit(&mut self, seq: u64) -> bool {
        if seq == 0 {
            return true;
        }
        if seq <= self.mark {
            return false;
        }
        self.above.insert(seq)
    }
    /// The log was read through `id`: nothing at or below it can still arrive new.
    fn advance(&mut self, id: u64) {
        if id > self.mark {
            self.mark = id;
            self.above = self.above.split_off(&(id + 1));
        }
    }
}

const MAX_BACKOFF: Duration = Duration::from_secs(10);

async fn pump(fleet: Arc<dyn Fleet>, from: FollowFrom, tx: mpsc::Sender<Result<Event>>) {
    let poll = from
        .poll
        .clamp(Duration::from_millis(50), Duration::from_secs(60));
    // Subscribe before reading the log, so nothing falls between the two.
    let mut live = fleet.subscribe();
    let mut seen = Delivered::default();
    let mut backoff = Duration::from_millis(250);
    // Where to start: the given id, or the newest recorded one.
    loop {
        let start = match from.after {
            Some(a) => Ok(a),
            None => newest_event_id(&*fleet).await,
        };
        match start {
            Ok(a) => {
                seen.mark = a;
                break;
            }
            Err(e) => {
                if tx.send(Err(e)).await.is_err() {
                    return;
                }
                if wait_or_closed(&tx, backoff).await {
                    return;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    let mut need_log = from.after.is_some();
    // The first look at the log is one poll away: the start was just read (or, with
    // `after`, is read at once through `need_log`).
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if need_log {
            match catch_up(&*fleet, &mut seen, &tx).await {
                Ok(true) => {
                    need_log = false;
                    backoff = Duration::from_millis(250);
                }
                Ok(false) => return,
                Err(e) => {
                    if tx.send(Err(e)).await.is_err() || wait_or_closed(&tx, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        tokio::select! {
            _ = tx.closed() => return,
            _ = tick.tick() => need_log = true,
            next = live.recv() => match next {
                Ok(ev) => {
                    if seen.admit(ev.seq) && tx.send(Ok(ev)).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!("event follower fell {n} behind; reading the log");
                    need_log = true;
                }
                Err(RecvError::Closed) => {
                    // The backend's live feed ended (a client whose stream broke and
                    // was rebuilt): take a fresh one, and read the log for the gap.
                    live = fleet.subscribe();
                    need_log = true;
                }
            }
        }
    }
}

/// The newest event id recorded now: where a follower starts to see only what comes.
pub async fn newest_event_id(fleet: &dyn Fleet) -> Result<u64> {
    let page = fleet
        .events(EventQuery {
            after: Some(u64::MAX),
            since_ms: None,
            limit: 1,
        })
        .await?;
    Ok(page.last_id)
}

/// Reads the log after the watermark to its end. Ok(false) when the consumer is gone.
async fn catch_up(
    fleet: &dyn Fleet,
    seen: &mut Delivered,
    tx: &mpsc::Sender<Result<Event>>,
) -> Result<bool> {
    loop {
        let page = fleet
            .events(EventQuery {
                after: Some(seen.mark),
                since_ms: None,
                limit: 0,
            })
            .await?;
        if page.events.is_empty() {
            // Ids up to the newest recorded were all read (or pruned, or rolled back).
            seen.advance(page.last_id.max(seen.mark));
            return Ok(true);
        }
        let mut through = seen.mark;
        for ev in page.events {
            through = through.max(ev.seq);
            if seen.admit(ev.seq) && tx.send(Ok(ev)).await.is_err() {
                return Ok(false);
            }
        }
        seen.advance(through);
    }
}

/// Sleeps `d`; true when the consumer went away meanwhile.
async fn wait_or_closed(tx: &mpsc::Sender<Result<Event>>, d: Duration) -> bool {
    tokio::select! {
        _ = tx.closed() => true,
        _ = tokio::time::sleep(d) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_ids_are_not_admitted_twice_even_out_of_order() {
        let mut d = Delivered {
            mark: 9,
            ..Default::default()
        };
        assert!(d.admit(11), "11 first (broadcast before 10)");
        assert!(d.admit(10));
        assert!(!d.admit(11));
        assert!(!d.admit(10));
        assert!(!d.admit(9), "at the mark: replayed already");
        d.advance(11);
        assert!(d.above.is_empty());
        assert!(!d.admit(11));
        assert!(d.admit(12));
        assert!(d.admit(0) && d.admit(0), "unrecorded events always pass");
    }
}
