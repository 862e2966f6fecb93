//! The event log: every event of every process sharing the store, in one global order
//! (the row id), pruned to a bounded size and age.

use super::{now_ms, Store, StoreError};
use crate::api::{Event, EventPage, EventQuery};

/// Events kept at most ...
const KEEP_EVENTS: i64 = 20_000;
/// ... and for at most this long.
const KEEP_MS: i64 = 7 * 24 * 3600 * 1000;
/// Pruning runs when an id crosses a multiple of this: cheap, and bounded.
const PRUNE_EVERY: i64 = 256;
/// The largest page `events` returns.
pub const MAX_PAGE: u32 = 1_000;

impl Store {
    /// Records events in one transaction, in order, and sets each one's `seq` to its id.
    pub async fn insert_events(&self, events: &mut [Event]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        if self.engine == super::Engine::Postgres {
            // Ids come from a sequence, taken at insert but visible at commit: two
            // replicas inserting at once could commit id 8 before id 7, and a follower
            // that read up to 8 would never see 7. One writer at a time keeps the order
            // of ids the order of commits (SQLite has one writer anyway).
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(7046517062)) AS locked")
                .execute(&mut *tx)
                .await?;
        }
        let mut prune = false;
        for ev in events.iter_mut() {
            let json = serde_json::to_value(&*ev)
                .map_err(|e| StoreError::Corrupt("event".into(), e.to_string()))?;
            let kind = json
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("unknown")
                .to_string();
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO events (time_ms, type, target, json) VALUES ($1, $2, $3, $4) RETURNING id",
            )
            .bind(ev.time_ms)
            .bind(kind)
            .bind(ev.kind.target())
            .bind(json.to_string())
            .fetch_one(&mut *tx)
            .await?;
            ev.seq = id.max(0) as u64;
            prune |= id % PRUNE_EVERY == 0;
        }
        if self.engine == super::Engine::Postgres {
            // Delivered when this commits: the other replicas' buses read these ids
            // and pass them to their followers at once (store/notify.rs).
            let first = events.first().map_or(0, |e| e.seq);
            let last = events.last().map_or(0, |e| e.seq);
            sqlx::query("SELECT 1 FROM (SELECT pg_notify($1, $2)) AS notified")
                .bind(super::notify::CHANNEL)
                .bind(super::notify::payload(&self.writer, first, last))
                .execute(&mut *tx)
                .await?;
        }
        if prune {
            sqlx::query(
                "DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - $1 OR time_ms < $2",
            )
            .bind(KEEP_EVENTS)
            .bind(now_ms() - KEEP_MS)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Recorded events after `q.after` (an id) and at or after `q.since_ms`, oldest first.
    pub async fn events(&self, q: &EventQuery) -> Result<EventPage, StoreError> {
        let limit = match q.limit {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        };
        let after = q.after.map_or(0, |a| a.min(i64::MAX as u64) as i64);
        let since = q.since_ms.unwrap_or(i64::MIN);
        // Read the bounds and the page in one transaction, so they agree.
        let mut tx = self.pool.begin().await?;
        let (first, last): (Option<i64>, Option<i64>) =
            sqlx::query_as("SELECT MIN(id), MAX(id) FROM events")
                .fetch_one(&mut *tx)
                .await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, json FROM events WHERE id > $1 AND time_ms >= $2 ORDER BY id LIMIT $3",
        )
        .bind(after)
        .bind(since)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut events = Vec::with_capacity(rows.len());
        for (id, json) in rows {
            match serde_json::from_str::<Event>(&json) {
                Ok(mut ev) => {
                    ev.seq = id as u64;
                    events.push(ev);
                }
                // An event kind this build does not know (a newer flotilla wrote it):
                // skip it rather than fail the whole stream.
                Err(e) => tracing::debug!(id, "skipping an unreadable event: {e}"),
            }
        }
        Ok(EventPage {
            events,
            last_id: last.unwrap_or(0).max(0) as u64,
            first_id: first.unwrap_or(0).max(0) as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::EventKind;

    fn ev(time_ms: i64, machine: &str) -> Event {
        Event {
            seq: 0,
            time_ms,
            kind: EventKind::MachineCreated {
                machine: machine.into(),
            },
        }
    }

    #[tokio::test]
    async fn old_events_are_pruned_and_the_page_says_where_the_log_starts() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(dir.path()).await;
        let old = now_ms() - KEEP_MS - 1_000;
        let mut batch: Vec<Event> = (0..PRUNE_EVERY - 1).map(|_| ev(old, "old")).collect();
        store.insert_events(&mut batch).await.unwrap();
        assert_eq!(batch.last().unwrap().seq, PRUNE_EVERY as u64 - 1);
        let page = store.events(&EventQuery::default()).await.unwrap();
        assert_eq!((page.first_id, page.last_id), (1, PRUNE_EVERY as u64 - 1));

        // The id crossing the next multiple prunes what is older than the age limit.
        let mut new = vec![ev(now_ms(), "new")];
        store.insert_events(&mut new).await.unwrap();
        let page = store.events(&EventQuery::default()).await.unwrap();
        assert_eq!(page.first_id, PRUNE_EVERY as u64);
        assert_eq!(page.events.len(), 1);
        assert_eq!(page.events[0].kind.target(), "new");
        assert_eq!(page.events[0].seq, PRUNE_EVERY as u64);

        // Time and id filters, and the limit.
        let mut more: Vec<Event> = (0..5).map(|i| ev(now_ms() + i, "m")).collect();
        store.insert_events(&mut more).await.unwrap();
        let page = store
            .events(&EventQuery {
                after: Some(more[1].seq),
                since_ms: None,
                limit: 2,
            })
            .await
            .unwrap();
        let seqs: Vec<u64> = page.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![more[2].seq, more[3].seq]);
        assert_eq!(page.last_id, more[4].seq);
        let page = store
            .events(&EventQuery {
                since_ms: Some(i64::MAX),
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.events.is_empty());
        assert_eq!(page.last_id, more[4].seq);
    }
}
