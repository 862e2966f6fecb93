//! The event bus: a broadcast channel that never blocks the engine. A subscriber that
//! falls behind loses the oldest events and is told how many (`RecvError::Lagged`).
//!
//! The engine's bus records every event in the store before broadcasting it: the row id
//! becomes the event's `seq`, one order shared by every process on the fleet, so
//! `flotilla events` in one terminal sees what `create` in another does, and a stream can
//! resume after an id. Recording happens on a dispatcher task: `emit` only queues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};

use crate::api::{Event, EventKind};
use crate::store::Store;

const CAPACITY: usize = 1024;
/// Events recorded in one transaction at most.
const BATCH: usize = 512;
/// `flush` gives up after this long (a store locked by another process for longer).
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Bus {
    tx: broadcast::Sender<Event>,
    /// Events emitted so far; without a store it is also the next `seq`.
    emitted: AtomicU64,
    /// To the dispatcher that records then broadcasts; `None`: broadcast at once.
    sink: Option<mpsc::UnboundedSender<Event>>,
    /// How many events the dispatcher has broadcast.
    delivered: watch::Receiver<u64>,
    /// Dropped with the bus: ends the relay of other processes' events.
    _relay_stop: Option<watch::Sender<()>>,
}

/// An in-memory bus: events are broadcast at once, numbered by this process.
impl Default for Bus {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
            emitted: AtomicU64::new(0),
            sink: None,
            delivered: watch::channel(0).1,
            _relay_stop: None,
        }
    }
}

impl Bus {
    /// A bus that records every event in `store` before broadcasting it. Needs a Tokio
    /// runtime (it spawns the dispatcher, which ends when the bus is dropped).
    pub fn recorded(store: Store) -> Bus {
        let tx = broadcast::channel(CAPACITY).0;
        let (sink, rx) = mpsc::unbounded_channel();
        let (delivered_tx, delivered) = watch::channel(0);
        let (relay_stop, stopped) = watch::channel(());
        tokio::spawn(relay(store.clone(), tx.clone(), stopped));
        tokio::spawn(dispatch(store, rx, tx.clone(), delivered_tx));
        Bus {
            tx,
            emitted: AtomicU64::new(0),
            sink: Some(sink),
            delivered,
            _relay_stop: Some(relay_stop),
        }
    }

    /// Queues an event; never waits.
    pub fn emit(&self, kind: EventKind) {
        let n = self.emitted.fetch_add(1, Ordering::SeqCst) + 1;
        let event = Event {
            seq: n,
            time_ms: crate::api::now_ms(),
            kind,
        };
        tracing::debug!(target = event.kind.target(), "event");
        match &self.sink {
            Some(sink) => {
                if let Err(mpsc::error::SendError(event)) = sink.send(event) {
                    // The dispatcher is gone (runtime shutting down): broadcast unrecorded.
                    let _ = self.tx.send(Event { seq: 0, ..event });
                }
            }
            // No receiver is fine: nobody is watching.
            None => {
                let _ = self.tx.send(event);
            }
        }
    }

    /// Waits until every event emitted so far is recorded and broadcast, so a process
    /// that ends right after a change leaves it in the log. Bounded: never hangs.
    pub async fn flush(&self) {
        if self.sink.is_none() {
            return;
        }
        let target = self.emitted.load(Ordering::SeqCst);
        let mut delivered = self.delivered.clone();
        let reached = tokio::time::timeout(FLUSH_TIMEOUT, delivered.wait_for(|d| *d >= target));
        if reached.await.is_err() {
            tracing::warn!("events are not recorded yet after {FLUSH_TIMEOUT:?}; going on");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

/// On a PostgreSQL store shared by several processes: broadcasts the events the others
/// record as soon as they say so (LISTEN/NOTIFY), so this process's followers see them
/// at once instead of at their next poll of the log. Ends when the bus is dropped.
async fn relay(store: Store, tx: broadcast::Sender<Event>, mut stopped: watch::Receiver<()>) {
    let mut backoff = Duration::from_millis(250);
    loop {
        let listening = tokio::select! {
            _ = stopped.changed() => return,
            l = store.event_wakeups() => l,
        };
        let mut wakeups = match listening {
            Ok(Some(w)) => w,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!("cannot listen for other processes' events: {e}");
                tokio::select! {
                    _ = stopped.changed() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
        };
        backoff = Duration::from_millis(250);
        loop {
            let (first, last) = tokio::select! {
                _ = stopped.changed() => return,
                next = wakeups.next() => match next {
                    Ok(range) => range,
                    Err(e) => {
                        tracing::debug!("listening for other processes' events: {e}");
                        break;
                    }
                },
            };
            let page = store
                .events(&crate::api::EventQuery {
                    after: Some(first - 1),
                    since_ms: None,
                    limit: u32::try_from(last - first + 1).unwrap_or(u32::MAX),
                })
                .await;
            match page {
                Ok(page) => {
                    for ev in page.events.into_iter().filter(|e| e.seq <= last) {
                        let _ = tx.send(ev);
                    }
                }
                // The followers' own polls of the log cover what this misses.
                Err(e) => tracing::debug!("reading other processes' events: {e}"),
            }
        }
    }
}

async fn dispatch(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Event>,
    tx: broadcast::Sender<Event>,
    delivered: watch::Sender<u64>,
) {
    let mut count = 0u64;
    let mut failing = false;
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        match store.insert_events(&mut batch).await {
            Ok(()) => failing = false,
            Err(e) => {
                // Subscribers still get the events; only the log misses them.
                if !failing {
                    tracing::warn!("cannot record events in the store: {e}");
                }
                failing = true;
                for ev in &mut batch {
                    ev.seq = 0;
                }
            }
        }
        count += batch.len() as u64;
        for ev in batch {
            let _ = tx.send(ev);
        }
        delivered.send_replace(count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EventQuery;

    #[tokio::test]
    async fn a_slow_subscriber_loses_old_events_and_is_told() {
        let bus = Bus::default();
        let mut rx = bus.subscribe();
        for i in 0..(CAPACITY + 10) {
            bus.emit(EventKind::MachineCreated {
                machine: format!("m{i}"),
            });
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 10),
            other => panic!("expected lag, got {other:?}"),
        }
        let next = rx.recv().await.unwrap();
        assert_eq!(next.seq, 11);
    }

    #[tokio::test]
    async fn recorded_events_share_one_order_across_buses() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        // Two buses on one store stand for two processes on one fleet.
        let (a, b) = (Bus::recorded(store.clone()), Bus::recorded(store.clone()));
        let mut rx = a.subscribe();
        a.emit(EventKind::MachineCreated {
            machine: "a1".into(),
        });
        a.flush().await;
        b.emit(EventKind::MachineCreated {
            machine: "b1".into(),
        });
        b.flush().await;
        a.emit(EventKind::MachineRemoved {
            machine: "a1".into(),
        });
        a.flush().await;

        let first = rx.recv().await.unwrap();
        let second = rx.recv().await.unwrap();
        assert!(
            first.seq > 0 && second.seq > first.seq,
            "{first:?} {second:?}"
        );
        let page = store.events(&EventQuery::default()).await.unwrap();
        let targets: Vec<(&str, u64)> = page
            .events
            .iter()
            .map(|e| (e.kind.target(), e.seq))
            .collect();
        assert_eq!(
            targets,
            vec![("a1", first.seq), ("b1", first.seq + 1), ("a1", second.seq)]
        );
        assert_eq!(page.last_id, second.seq);
        let after = store
            .events(&EventQuery {
                after: Some(first.seq),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(after.events.len(), 2);
    }

    /// Two processes on one PostgreSQL store: what one records reaches the other's
    /// subscribers through the notification alone (its bus never polls the log).
    #[tokio::test]
    async fn another_process_events_arrive_through_postgres_notifications() {
        let dir = tempfile::tempdir().unwrap();
        let Some(config) = crate::store::tests::postgres_if_available(dir.path()).await else {
            return;
        };
        let a = Bus::recorded(Store::open_with(dir.path(), &config).await.unwrap());
        let b = Bus::recorded(Store::open_with(dir.path(), &config).await.unwrap());
        let mut on_b = b.subscribe();
        let mut on_a = a.subscribe();
        // B listens once its relay has connected: emit until the first one arrives.
        let first = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                a.emit(EventKind::MachineCreated {
                    machine: "web1".into(),
                });
                a.flush().await;
                if let Ok(Ok(ev)) =
                    tokio::time::timeout(Duration::from_millis(500), on_b.recv()).await
                {
                    break ev;
                }
            }
        })
        .await
        .expect("B heard of A's event");
        assert_eq!(first.kind.target(), "web1");
        assert!(first.seq > 0);
        // A batch arrives whole, in order, once each, with A's ids.
        while on_a.try_recv().is_ok() {}
        for i in 0..5 {
            a.emit(EventKind::MachineRemoved {
                machine: format!("m{i}"),
            });
        }
        a.flush().await;
        let mut seqs_a = Vec::new();
        while let Ok(ev) = on_a.try_recv() {
            seqs_a.push(ev.seq);
        }
        let mut seqs_b = Vec::new();
        while seqs_b.len() < 5 {
            let ev = tokio::time::timeout(Duration::from_secs(10), on_b.recv())
                .await
                .expect("the batch reaches B")
                .unwrap();
            if ev.kind.target().starts_with('m') {
                seqs_b.push(ev.seq);
            }
        }
        assert_eq!(seqs_a, seqs_b);
        // Its own events are not relayed back to A.
        assert!(on_a.try_recv().is_err());
    }
}
