//! Server replicas sharing this store: each one's heartbeat row (api::Replica). A
//! replica takes its name when the row is free, expired or its own; it renews the row
//! while it runs and deletes it when it stops. Portable SQL only ($N placeholders,
//! ON CONFLICT, BIGINT), for SQLite and PostgreSQL alike.

use super::{Store, StoreError};
use crate::api::Replica;

/// Rows of replicas dead for longer than this are deleted when a replica joins.
const FORGET_DEAD_AFTER_MS: i64 = 86_400_000;

type Row = (String, String, i64, i64, i64, i64, i64);

fn replica(
    (id, process, started_ms, heartbeat_ms, expires_ms, monitoring, monitored): Row,
) -> Replica {
    Replica {
        id,
        process,
        started_ms,
        heartbeat_ms,
        expires_ms,
        monitoring: monitoring != 0,
        monitored: u64::try_from(monitored).unwrap_or(0),
    }
}

impl Store {
    /// Takes the name `r.id` for process `r.process` when no live replica holds it (or
    /// this process does). Returns the live holder otherwise. One statement, so two
    /// processes racing for a name cannot both win.
    pub async fn join_replicas(
        &self,
        r: &Replica,
        now_ms: i64,
    ) -> Result<Option<Replica>, StoreError> {
        sqlx::query("DELETE FROM replicas WHERE expires_ms < $1")
            .bind(now_ms.saturating_sub(FORGET_DEAD_AFTER_MS))
            .execute(&self.pool)
            .await?;
        let taken = sqlx::query(
            "INSERT INTO replicas (id, process, started_ms, heartbeat_ms, expires_ms, monitoring, monitored)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (id) DO UPDATE SET
                 process = excluded.process,
                 started_ms = excluded.started_ms,
                 heartbeat_ms = excluded.heartbeat_ms,
                 expires_ms = excluded.expires_ms,
                 monitoring = excluded.monitoring,
                 monitored = excluded.monitored
             WHERE replicas.expires_ms < $8 OR replicas.process = excluded.process",
        )
        .bind(&r.id)
        .bind(&r.process)
        .bind(r.started_ms)
        .bind(r.heartbeat_ms)
        .bind(r.expires_ms)
        .bind(i64::from(r.monitoring))
        .bind(i64::try_from(r.monitored).unwrap_or(i64::MAX))
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(None);
        }
        self.replica(&r.id).await
    }

    /// Renews process `r.process`'s row of `r.id`. False when the row is no longer its
    /// own (another process took the name after it expired, or it was deleted).
    pub async fn heartbeat_replica(&self, r: &Replica) -> Result<bool, StoreError> {
        let n = sqlx::query(
            "UPDATE replicas SET heartbeat_ms = $1, expires_ms = $2, monitoring = $3, monitored = $4
             WHERE id = $5 AND process = $6",
        )
        .bind(r.heartbeat_ms)
        .bind(r.expires_ms)
        .bind(i64::from(r.monitoring))
        .bind(i64::try_from(r.monitored).unwrap_or(i64::MAX))
        .bind(&r.id)
        .bind(&r.process)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Deletes the row of `id` if process `process` holds it (a replica that stops).
    pub async fn leave_replicas(&self, id: &str, process: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1 AND process = $2")
            .bind(id)
            .bind(process)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The row of replica `id`, live or not.
    pub async fn replica(&self, id: &str) -> Result<Option<Replica>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT id, process, started_ms, heartbeat_ms, expires_ms, monitoring, monitored
             FROM replicas WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(replica))
    }

    /// The replicas live at `now_ms` (expiring at or after it), by id.
    pub async fn live_replicas(&self, now_ms: i64) -> Result<Vec<Replica>, StoreError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, process, started_ms, heartbeat_ms, expires_ms, monitoring, monitored
             FROM replicas WHERE expires_ms >= $1 ORDER BY id",
        )
        .bind(now_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(replica).collect())
    }
}

impl Store {
    /// Records the end of `op` only if no process recorded one yet: several replicas
    /// may find the same abandoned operation at once, and only one may end it (and
    /// announce it). Returns whether this call ended it.
    pub async fn end_operation_once(&self, op: &crate::api::Operation) -> Result<bool, StoreError> {
        let json = serde_json::to_string(op)
            .map_err(|e| StoreError::Corrupt(op.id.clone(), e.to_string()))?;
        let n = sqlx::query(
            "UPDATE operations SET json = $1, finished_ms = $2 WHERE id = $3 AND finished_ms IS NULL",
        )
        .bind(json)
        .bind(op.finished_ms)
        .bind(&op.id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, process: &str, now: i64, ttl: i64) -> Replica {
        Replica {
            id: id.into(),
            process: process.into(),
            started_ms: now,
            heartbeat_ms: now,
            expires_ms: now + ttl,
            monitoring: true,
            monitored: 0,
        }
    }

    #[tokio::test]
    async fn a_name_is_held_while_heartbeats_come_and_taken_after() {
        let dir = tempfile::tempdir().unwrap();
        // Two processes: two opens of one store file.
        let a = Store::open(dir.path()).await.unwrap();
        let b = Store::open(dir.path()).await.unwrap();
        assert_eq!(
            a.join_replicas(&row("h:1", "A", 1_000, 3_000), 1_000)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            b.join_replicas(&row("h:2", "B", 1_000, 3_000), 1_000)
                .await
                .unwrap(),
            None
        );
        // The name h:1 is A's while it lives.
        let held = b
            .join_replicas(&row("h:1", "B", 2_000, 3_000), 2_000)
            .await
            .unwrap()
            .expect("A holds h:1");
        assert_eq!(held.process, "A");
        let live: Vec<String> = a
            .live_replicas(3_500)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(live, ["h:1", "h:2"]);

        // A heartbeats, B does not: at 5 s only A lives.
        let mut beat = row("h:1", "A", 3_000, 3_000);
        beat.monitored = 7;
        assert!(a.heartbeat_replica(&beat).await.unwrap());
        let live = b.live_replicas(5_000).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!((live[0].id.as_str(), live[0].monitored), ("h:1", 7));

        // Expired, h:1 goes to whoever asks; A's heartbeat then says it lost it.
        assert_eq!(
            b.join_replicas(&row("h:1", "B", 7_000, 3_000), 7_000)
                .await
                .unwrap(),
            None
        );
        assert!(!a
            .heartbeat_replica(&row("h:1", "A", 7_100, 3_000))
            .await
            .unwrap());
        // Leaving deletes only one's own row.
        a.leave_replicas("h:1", "A").await.unwrap();
        assert!(a.replica("h:1").await.unwrap().is_some());
        b.leave_replicas("h:1", "B").await.unwrap();
        assert_eq!(a.replica("h:1").await.unwrap(), None);
    }
}
