//! Operations, so a later process (or the server after a restart) can see how they ended.

use super::{Store, StoreError};
use crate::api::Operation;

impl Store {
    pub async fn save_operation(&self, op: &Operation) -> Result<(), StoreError> {
        let json = serde_json::to_string(op)
            .map_err(|e| StoreError::Corrupt(op.id.clone(), e.to_string()))?;
        sqlx::query(
            "INSERT INTO operations (id, kind, target, json, started_ms, finished_ms) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, target = excluded.target, \
             json = excluded.json, started_ms = excluded.started_ms, finished_ms = excluded.finished_ms",
        )
        .bind(&op.id)
        .bind(op.kind.as_str())
        .bind(&op.target)
        .bind(json)
        .bind(op.started_ms)
        .bind(op.finished_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn operation(&self, id: &str) -> Result<Option<Operation>, StoreError> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM operations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(id.to_string(), e.to_string()))
        })
        .transpose()
    }

    /// The newest operations by start time, running ones included (saved at start).
    pub async fn recent_operations(&self, limit: u32) -> Result<Vec<Operation>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, json FROM operations ORDER BY started_ms DESC, id DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(id, e.to_string()))
            })
            .collect()
    }
}
