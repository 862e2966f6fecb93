//! Bearer tokens (only their SHA-256 hashes) and the append-only audit log of a shared
//! fleet, plus the operations a stopped process left unfinished.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::api::{
    AccessRole, AuditEntry, AuditQuery, AuditRetention, NewToken, Operation, TokenInfo, TokenSpec,
    TOKEN_PREFIX,
};

/// Hex SHA-256 of a token: what the store keeps and looks tokens up by.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: `flt_` and 64 hex digits (256 bits).
fn new_secret() -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(rand::random::<[u8; 32]>()))
}

pub use crate::api::AuditRecord;

/// The `meta` key of the audit retention setting (JSON).
const AUDIT_RETENTION_KEY: &str = "audit_retention";

fn token_from_row(row: &sqlx::any::AnyRow) -> Result<TokenInfo, StoreError> {
    let id: String = row.try_get("id")?;
    let role: String = row.try_get("role")?;
    let role = AccessRole::parse(&role)
        .map_err(|_| StoreError::Corrupt(format!("token {id}"), format!("role {role:?}")))?;
    Ok(TokenInfo {
        name: row.try_get("name")?,
        role,
        created_ms: row.try_get("created_ms")?,
        expires_ms: row.try_get("expires_ms")?,
        revoked_ms: row.try_get("revoked_ms")?,
        last_used_ms: row.try_get("last_used_ms")?,
        id,
    })
}

const TOKEN_COLUMNS: &str = "id, name, role, created_ms, expires_ms, revoked_ms, last_used_ms";

impl Store {
    /// Makes a token. The secret is returned once; only its hash is stored.
    pub async fn create_token(&self, spec: &TokenSpec) -> Result<NewToken, StoreError> {
        let secret = new_secret();
        let now = now_ms();
        let ttl_ms = spec
            .ttl_secs
            .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX));
        let info = TokenInfo {
            id: format!(
                "{}{}",
                crate::api::TOKEN_ID_PREFIX,
                hex::encode(rand::random::<[u8; 5]>())
            ),
            name: spec.name.clone(),
            role: spec.role,
            created_ms: now,
            expires_ms: ttl_ms.map(|t| now.saturating_add(t)),
            revoked_ms: None,
            last_used_ms: None,
        };
        // One statement, so two racing creates of a name cannot both win: a name is
        // one user's while a token of it works.
        let made = sqlx::query(
            "INSERT INTO tokens (id, name, role, hash, created_ms, expires_ms)
             SELECT $1, $2, $3, $4, $5, $6 WHERE NOT EXISTS (SELECT 1 FROM tokens
               WHERE name = $2 AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $5))",
        )
        .bind(&info.id)
        .bind(&info.name)
        .bind(info.role.as_str())
        .bind(token_hash(&secret))
        .bind(info.created_ms)
        .bind(info.expires_ms)
        .execute(&self.pool)
        .await?;
        if made.rows_affected() == 0 {
            return Err(StoreError::DuplicateToken(info.name));
        }
        Ok(NewToken {
            info,
            token: secret,
        })
    }

    pub async fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_ms, id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Whether any token that still works exists (the server makes an admin token when none does).
    pub async fn has_active_admin(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM tokens WHERE role = 'admin' AND revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1)",
        )
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The token whose secret is `secret`, whatever its state (the caller checks expiry
    /// and revocation). Marks it used, at most once a minute.
    pub async fn token_by_secret(&self, secret: &str) -> Result<Option<TokenInfo>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1"
        ))
        .bind(token_hash(secret))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut info = token_from_row(&row)?;
        let now = now_ms();
        if info.is_active(now) && info.last_used_ms.map_or(true, |t| now - t > 60_000) {
            sqlx::query("UPDATE tokens SET last_used_ms = $1 WHERE id = $2")
                .bind(now)
                .bind(&info.id)
                .execute(&self.pool)
                .await?;
            info.last_used_ms = Some(now);
        }
        Ok(Some(info))
    }

    /// Revokes the token with this id, or every active token of this name.
    /// Returns what was revoked (empty: no such token).
    pub async fn revoke_token(&self, id_or_name: &str) -> Result<Vec<TokenInfo>, StoreError> {
        // Ids start with `tok-`, which no name may: one argument never means both.
        let column = if id_or_name.starts_with(crate::api::TOKEN_ID_PREFIX) {
            "id"
        } else {
            "name"
        };
        // RETURNING names exactly the rows this call revoked: a second revoke in the
        // same millisecond must not report the first one's tokens again.
        let rows = sqlx::query(&format!(
            "UPDATE tokens SET revoked_ms = $1 WHERE revoked_ms IS NULL AND {column} = $2 RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(now_ms())
        .bind(id_or_name)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    /// Appends to the audit log (entries are never changed or deleted).
    pub async fn audit_append(&self, rec: &AuditRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit (time_ms, token_id, actor, remote, action, target, status, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(now_ms())
        .bind(&rec.token_id)
        .bind(&rec.actor)
        .bind(&rec.remote)
        .bind(&rec.action)
        .bind(&rec.target)
        .bind(i64::from(rec.status))
        .bind(&rec.outcome)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Audit entries, oldest first: the newest `limit` (default 1000) since `since_ms`.
    pub async fn audit(&self, q: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let limit = i64::from(q.limit.unwrap_or(1000).min(100_000));
        let rows = sqlx::query(
            "SELECT * FROM (SELECT id, time_ms, token_id, actor, remote, action, target, status, outcome
             FROM audit WHERE time_ms >= $1 ORDER BY id DESC LIMIT $2) AS newest ORDER BY id",
        )
        .bind(q.since_ms.unwrap_or(0))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: i64 = r.try_get("status")?;
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    time_ms: r.try_get("time_ms")?,
                    token_id: r.try_get("token_id")?,
                    actor: r.try_get("actor")?,
                    remote: r.try_get("remote")?,
                    action: r.try_get("action")?,
                    target: r.try_get("target")?,
                    status: u16::try_from(status).unwrap_or(0),
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect()
    }

    /// How long the audit log keeps entries (none set: all).
    pub async fn audit_retention(&self) -> Result<AuditRetention, StoreError> {
        match self.meta(AUDIT_RETENTION_KEY).await? {
            None => Ok(AuditRetention::default()),
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt("audit retention".into(), e.to_string())),
        }
    }

    pub async fn set_audit_retention(&self, r: &AuditRetention) -> Result<(), StoreError> {
        let json = serde_json::to_string(r)
            .map_err(|e| StoreError::Corrupt("audit retention".into(), e.to_string()))?;
        self.set_meta(AUDIT_RETENTION_KEY, &json).await
    }

    /// Deletes the entries `r` no longer keeps (older than `now_ms - max_age_days`,
    /// beyond the newest `max_rows`) and returns how many. The only way an entry
    /// leaves the log: the mark in `audit_prune` lets the delete trigger pass entries
    /// below it, within this one transaction, and is cleared before it commits.
    pub async fn prune_audit(&self, r: &AuditRetention, now_ms: i64) -> Result<u64, StoreError> {
        if r.max_age_days.is_none() && r.max_rows.is_none() {
            return Ok(0);
        }
        let cutoff = r
            .max_age_days
            .map(|d| now_ms.saturating_sub(i64::from(d).saturating_mul(86_400_000)));
        let rows = r.max_rows.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut tx = self.pool.begin().await?;
        // A write first, so the transaction holds the write lock from its start and the
        // mark is computed from what it then deletes.
        // (The larger of two values is MAX(a, b) in SQLite, GREATEST(a, b) in PostgreSQL,
        // where prunes on two replicas also queue on the mark table's lock.)
        let (lock, greatest) = match self.engine {
            super::Engine::Sqlite => ("", "MAX"),
            super::Engine::Postgres => ("LOCK TABLE audit_prune IN EXCLUSIVE MODE", "GREATEST"),
        };
        if !lock.is_empty() {
            sqlx::query(lock).execute(&mut *tx).await?;
        }
        let mark = format!(
            "INSERT INTO audit_prune (keep_from) SELECT {greatest}(
               CASE WHEN $1 IS NULL THEN 0 ELSE COALESCE(
                 (SELECT MIN(id) FROM audit WHERE time_ms >= $1),
                 (SELECT COALESCE(MAX(id), 0) + 1 FROM audit)) END,
               CASE WHEN $2 IS NULL THEN 0 ELSE (SELECT COALESCE(MAX(id), 0) FROM audit) - $2 + 1 END)"
        );
        sqlx::query(&mark)
            .bind(cutoff)
            .bind(rows)
            .execute(&mut *tx)
            .await?;
        let pruned =
            sqlx::query("DELETE FROM audit WHERE id < (SELECT MIN(keep_from) FROM audit_prune)")
                .execute(&mut *tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM audit_prune")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(pruned)
    }

    /// Operations recorded as started that never recorded an end: the process that ran
    /// them stopped (a crash, a restart of the server).
    pub async fn unfinished_operations(&self) -> Result<Vec<Operation>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, json FROM operations WHERE finished_ms IS NULL")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(id, e.to_string()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_stored_as_hashes_and_revocable() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(tmp.path()).await;
        assert!(!store.has_active_admin().await.unwrap());
        let spec = TokenSpec {
            name: "alice".into(),
            role: AccessRole::Operator,
            ttl_secs: None,
        };
        let new = store.create_token(&spec).await.unwrap();
        assert!(new.token.starts_with("flt_") && new.token.len() == 68);
        let raw: Vec<String> = sqlx::query_scalar("SELECT hash FROM tokens")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        assert_eq!(raw, vec![token_hash(&new.token)]);
        let found = store.token_by_secret(&new.token).await.unwrap().unwrap();
        assert_eq!(found.id, new.info.id);
        assert!(found.last_used_ms.is_some());
        assert!(store.token_by_secret("flt_nope").await.unwrap().is_none());
        let revoked = store.revoke_token("alice").await.unwrap();
        assert_eq!(revoked.len(), 1);
        let found = store.token_by_secret(&new.token).await.unwrap().unwrap();
        assert!(!found.is_active(now_ms()));
        assert!(store.revoke_token("alice").await.unwrap().is_empty());
    }

    /// A name is one user's while a token of it works: a second create is refused,
    /// and a revoked name can be used again.
    #[tokio::test]
    async fn active_token_names_are_unique() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(tmp.path()).await;
        let spec = TokenSpec {
            name: "bob".into(),
            role: AccessRole::Viewer,
            ttl_secs: None,
        };
        store.create_token(&spec).await.unwrap();
        let err = store.create_token(&spec).await.unwrap_err();
        assert!(
            matches!(err, StoreError::DuplicateToken(ref n) if n == "bob"),
            "{err}"
        );
        assert_eq!(store.revoke_token("bob").await.unwrap().len(), 1);
        store.create_token(&spec).await.unwrap();
        assert_eq!(store.tokens().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn expired_tokens_are_inactive() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(tmp.path()).await;
        let new = store
            .create_token(&TokenSpec {
                name: "root".into(),
                role: AccessRole::Admin,
                ttl_secs: Some(0),
            })
            .await
            .unwrap();
        assert!(!new.info.is_active(now_ms() + 1));
        assert!(!store.has_active_admin().await.unwrap());
    }

    #[tokio::test]
    async fn the_audit_log_is_append_only() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(tmp.path()).await;
        for i in 0..3 {
            store
                .audit_append(&AuditRecord {
                    action: format!("machine.create.{i}"),
                    status: 202,
                    outcome: "ok".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let all = store.audit(&AuditQuery::default()).await.unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].action, "machine.create.0");
        let last = store
            .audit(&AuditQuery {
                since_ms: None,
                limit: Some(1),
            })
            .await
            .unwrap();
        assert_eq!(last[0].action, "machine.create.2");
        let err = sqlx::query("DELETE FROM audit")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = sqlx::query("UPDATE audit SET outcome = 'x'")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }

    /// Retention prunes by age and by count through the one marked path; the trigger
    /// still refuses a plain delete afterwards, and the mark does not outlive a prune.
    #[tokio::test]
    async fn retention_prunes_only_through_its_own_path() {
        let tmp = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(tmp.path()).await;
        let now = now_ms();
        // Ten entries a day old each day back (10 days .. 1 day), then 5 from now.
        for age_days in (1..=10).rev() {
            sqlx::query(
                "INSERT INTO audit (time_ms, action, status, outcome) VALUES ($1, 'old', 200, 'ok')",
            )
            .bind(now - age_days * 86_400_000 - 1000)
            .execute(&store.pool)
            .await
            .unwrap();
        }
        for _ in 0..5 {
            store
                .audit_append(&AuditRecord {
                    action: "new".into(),
                    status: 200,
                    outcome: "ok".into(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let keep = AuditRetention {
            max_age_days: Some(3),
            max_rows: None,
        };
        // Entries 10..3 days old (and a second) go (8), those 2 and 1 day old and the
        // new ones stay.
        assert_eq!(store.prune_audit(&keep, now).await.unwrap(), 8);
        let left = store.audit(&AuditQuery::default()).await.unwrap();
        assert_eq!(left.len(), 7);
        assert!(left.iter().all(|e| e.time_ms >= now - 3 * 86_400_000));
        let by_rows = AuditRetention {
            max_age_days: None,
            max_rows: Some(5),
        };
        assert_eq!(store.prune_audit(&by_rows, now).await.unwrap(), 2);
        let left = store.audit(&AuditQuery::default()).await.unwrap();
        assert!(left.iter().all(|e| e.action == "new"), "{left:?}");
        assert_eq!(store.prune_audit(&by_rows, now).await.unwrap(), 0);
        let marks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_prune")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(marks, 0);
        let err = sqlx::query("DELETE FROM audit")
            .execute(&store.pool)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        assert_eq!(
            store.audit_retention().await.unwrap(),
            AuditRetention::default()
        );
        store.set_audit_retention(&by_rows).await.unwrap();
        assert_eq!(store.audit_retention().await.unwrap(), by_rows);
    }
}
