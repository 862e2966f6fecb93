//! Leases: which process runs the operation on a target, kept in the store so every
//! process sharing it (two CLIs, a CLI and a server) sees it. A lease expires unless its
//! owner renews it, so a process killed mid-operation (SIGKILL, a lost machine) frees the
//! target by itself, and the next look at the target can say it was interrupted.

use super::{Store, StoreError};

/// Who holds a target now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub target: String,
    pub operation_id: String,
    /// The owning process: `pid@host#instance`.
    pub owner: String,
    pub expires_ms: i64,
}

impl Store {
    /// Takes the lease on `target` for `operation_id` until `now_ms + ttl_ms`, when it is
    /// free, expired or already `owner`'s. Returns the live lease of someone else when it
    /// is not. One statement, so two processes racing for it cannot both win.
    pub async fn try_lease(
        &self,
        target: &str,
        operation_id: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<Lease>, StoreError> {
        let taken = sqlx::query(
            "INSERT INTO leases (target, operation_id, owner, expires_ms) VALUES ($1, $2, $3, $4)
             ON CONFLICT (target) DO UPDATE SET
                 operation_id = excluded.operation_id,
                 owner = excluded.owner,
                 expires_ms = excluded.expires_ms
             WHERE leases.expires_ms < $5 OR leases.owner = excluded.owner",
        )
        .bind(target)
        .bind(operation_id)
        .bind(owner)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(None);
        }
        // Someone else's live lease (or it ended between the two statements: then the
        // caller is told it is busy once, and a retry takes it).
        self.lease(target).await
    }

    /// Pushes the expiry of every lease `owner` holds to `now_ms + ttl_ms`.
    pub async fn renew_leases(
        &self,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE leases SET expires_ms = $1 WHERE owner = $2")
                .bind(now_ms.saturating_add(ttl_ms))
                .bind(owner)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Pushes the expiry of every lease operation `operation_id` holds through `owner`
    /// (its target's, and those of what it holds beside it) to `now_ms + ttl_ms`.
    pub async fn renew_operation_leases(
        &self,
        operation_id: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("UPDATE leases SET expires_ms = $1 WHERE operation_id = $2 AND owner = $3")
                .bind(now_ms.saturating_add(ttl_ms))
                .bind(operation_id)
                .bind(owner)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    /// Gives back every lease `operation_id` holds.
    pub async fn release_operation_leases(&self, operation_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE operation_id = $1")
            .bind(operation_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives the lease on `target` back, if `operation_id` still holds it.
    pub async fn release_lease(&self, target: &str, operation_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM leases WHERE target = $1 AND operation_id = $2")
            .bind(target)
            .bind(operation_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The lease on `target`, live or expired.
    pub async fn lease(&self, target: &str) -> Result<Option<Lease>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT target, operation_id, owner, expires_ms FROM leases WHERE target = $1",
        )
        .bind(target)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(target, operation_id, owner, expires_ms)| Lease {
            target,
            operation_id,
            owner,
            expires_ms,
        }))
    }

    /// The newest unfinished operation recorded on `target`, if any.
    pub async fn unfinished_operation_on(
        &self,
        target: &str,
    ) -> Result<Option<crate::api::Operation>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, json FROM operations WHERE target = $1 AND finished_ms IS NULL ORDER BY started_ms DESC LIMIT 1",
        )
        .bind(target)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(id, json)| {
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(id, e.to_string()))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn one_live_lease_per_target_until_it_expires_or_is_released() {
        let dir = tempfile::tempdir().unwrap();
        // Two processes: two opens of one store file.
        let a = crate::store::tests::open(dir.path()).await;
        let b = crate::store::tests::open(dir.path()).await;
        let ttl = 15_000;

        assert_eq!(
            a.try_lease("web1", "provision-1", "A", 1_000, ttl)
                .await
                .unwrap(),
            None
        );
        let held = b
            .try_lease("web1", "remove-2", "B", 2_000, ttl)
            .await
            .unwrap()
            .expect("A holds web1");
        assert_eq!(
            (held.operation_id.as_str(), held.owner.as_str()),
            ("provision-1", "A")
        );
        // Another target is free; the owner itself may take its lease again.
        assert_eq!(
            b.try_lease("web2", "remove-2", "B", 2_000, ttl)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            a.try_lease("web1", "provision-1", "A", 3_000, ttl)
                .await
                .unwrap(),
            None
        );

        // Renewed, it outlives the first expiry; unrenewed, it lapses and B takes it.
        a.renew_leases("A", 10_000, ttl).await.unwrap();
        assert!(b
            .try_lease("web1", "remove-2", "B", 20_000, ttl)
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            b.try_lease("web1", "remove-2", "B", 25_001, ttl)
                .await
                .unwrap(),
            None
        );
        assert_eq!(a.lease("web1").await.unwrap().unwrap().owner, "B");

        // Released by its operation only.
        b.release_lease("web1", "provision-1").await.unwrap();
        assert!(a.lease("web1").await.unwrap().is_some());
        b.release_lease("web1", "remove-2").await.unwrap();
        assert_eq!(a.lease("web1").await.unwrap(), None);
    }
}
