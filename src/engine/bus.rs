//! The event bus: a broadcast channel that never blocks the engine. A subscriber that
//! falls behind loses the oldest events and is told how many (`RecvError::Lagged`).

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

use crate::api::{Event, EventKind};

const CAPACITY: usize = 1024;

pub struct Bus {
    tx: broadcast::Sender<Event>,
    seq: AtomicU64,
}

impl Default for Bus {
    fn default() -> Self {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
            seq: AtomicU64::new(0),
        }
    }
}

impl Bus {
    pub fn emit(&self, kind: EventKind) {
        let event = Event {
            seq: self.seq.fetch_add(1, Ordering::Relaxed) + 1,
            time_ms: crate::store::now_ms(),
            kind,
        };
        tracing::debug!(seq = event.seq, target = event.kind.target(), "event");
        // No receiver is fine: nobody is watching.
        let _ = self.tx.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
