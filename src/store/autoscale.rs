//! Autoscaling: each swarm's policy and its latest decisions. The policy is read back
//! through the api type's own checks, so a damaged row is reported, never acted on.

use super::{Store, StoreError};
use crate::api::{AutoscaleDecision, AutoscaleNext, AutoscalePolicy, AUTOSCALE_DECISIONS_KEPT};

impl Store {
    /// Sets (or with `None` clears) the swarm's policy.
    pub async fn set_autoscale_policy(
        &self,
        swarm: &str,
        policy: Option<&AutoscalePolicy>,
    ) -> Result<(), StoreError> {
        match policy {
            Some(p) => {
                let json = serde_json::to_string(p)
                    .map_err(|e| StoreError::Corrupt(format!("swarm {swarm}"), e.to_string()))?;
                sqlx::query(
                    "INSERT INTO swarm_autoscale (swarm, policy_json, updated_ms) VALUES ($1, $2, $3)
                     ON CONFLICT (swarm) DO UPDATE SET policy_json = excluded.policy_json,
                         updated_ms = excluded.updated_ms",
                )
                .bind(swarm)
                .bind(json)
                .bind(super::now_ms())
                .execute(&self.pool)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM swarm_autoscale WHERE swarm = $1")
                    .bind(swarm)
                    .execute(&self.pool)
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn autoscale_policy(
        &self,
        swarm: &str,
    ) -> Result<Option<AutoscalePolicy>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT policy_json FROM swarm_autoscale WHERE swarm = $1")
                .bind(swarm)
                .fetch_optional(&self.pool)
                .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                StoreError::Corrupt(format!("swarm {swarm}"), format!("autoscale policy: {e}"))
            })
        })
        .transpose()
    }

    /// Every policy, by swarm name (the runner's one read per round).
    pub async fn autoscale_policies(
        &self,
    ) -> Result<Vec<(String, Result<AutoscalePolicy, String>)>, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT swarm, policy_json FROM swarm_autoscale ORDER BY swarm")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(swarm, json)| {
                let p = serde_json::from_str(&json).map_err(|e| e.to_string());
                (swarm, p)
            })
            .collect())
    }

    /// Records a decision and keeps only the newest [`AUTOSCALE_DECISIONS_KEPT`].
    pub async fn add_autoscale_decision(
        &self,
        swarm: &str,
        d: &AutoscaleDecision,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(d)
            .map_err(|e| StoreError::Corrupt(format!("swarm {swarm}"), e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO autoscale_decisions (swarm, json, time_ms) VALUES ($1, $2, $3)")
            .bind(swarm)
            .bind(json)
            .bind(d.time_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "DELETE FROM autoscale_decisions WHERE swarm = $1 AND id NOT IN
             (SELECT id FROM autoscale_decisions WHERE swarm = $2 ORDER BY id DESC LIMIT $3)",
        )
        .bind(swarm)
        .bind(swarm)
        .bind(AUTOSCALE_DECISIONS_KEPT as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The swarm's decisions, newest first.
    pub async fn autoscale_decisions(
        &self,
        swarm: &str,
    ) -> Result<Vec<AutoscaleDecision>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT id, json FROM autoscale_decisions WHERE swarm = $1 ORDER BY id DESC",
        )
        .bind(swarm)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, json)| {
                serde_json::from_str(&json).map_err(|e| {
                    StoreError::Corrupt(format!("autoscale decision {id}"), e.to_string())
                })
            })
            .collect()
    }
}

impl Store {
    /// Replaces the swarm's next decision (the runner's, every round).
    pub async fn set_autoscale_next(
        &self,
        swarm: &str,
        next: &AutoscaleNext,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(next)
            .map_err(|e| StoreError::Corrupt(format!("swarm {swarm}"), e.to_string()))?;
        sqlx::query(
            "INSERT INTO autoscale_next (swarm, time_ms, json) VALUES ($1, $2, $3)
             ON CONFLICT (swarm) DO UPDATE SET time_ms = excluded.time_ms, json = excluded.json",
        )
        .bind(swarm)
        .bind(next.time_ms)
        .bind(json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The swarm's next decision, if an autoscaler looked at it.
    pub async fn autoscale_next(&self, swarm: &str) -> Result<Option<AutoscaleNext>, StoreError> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT json FROM autoscale_next WHERE swarm = $1")
                .bind(swarm)
                .fetch_optional(&self.pool)
                .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| {
                StoreError::Corrupt(format!("swarm {swarm}"), format!("next decision: {e}"))
            })
        })
        .transpose()
    }

    /// Forgets the swarm's next decision (its policy went, or the swarm).
    pub async fn delete_autoscale_next(&self, swarm: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM autoscale_next WHERE swarm = $1")
            .bind(swarm)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AutoscaleAction;

    #[tokio::test]
    async fn policies_and_decisions_round_trip_and_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(dir.path()).await;
        assert_eq!(store.autoscale_policy("p").await.unwrap(), None);
        let mut p = AutoscalePolicy::new(1, 3);
        p.dry_run = true;
        store.set_autoscale_policy("p", Some(&p)).await.unwrap();
        assert_eq!(store.autoscale_policy("p").await.unwrap(), Some(p.clone()));
        p.max_workers = 5;
        store.set_autoscale_policy("p", Some(&p)).await.unwrap();
        let all = store.autoscale_policies().await.unwrap();
        assert_eq!(all, vec![("p".to_string(), Ok(p))]);
        for i in 0..(AUTOSCALE_DECISIONS_KEPT + 5) {
            let d = AutoscaleDecision {
                time_ms: i as i64,
                action: AutoscaleAction::None,
                acted: false,
                dry_run: false,
                reason: format!("decision {i}"),
                operation_id: None,
                hosts_created: 0,
            };
            store.add_autoscale_decision("p", &d).await.unwrap();
        }
        let ds = store.autoscale_decisions("p").await.unwrap();
        assert_eq!(ds.len(), AUTOSCALE_DECISIONS_KEPT);
        assert_eq!(
            ds[0].reason,
            format!("decision {}", AUTOSCALE_DECISIONS_KEPT + 4)
        );
        store.set_autoscale_policy("p", None).await.unwrap();
        assert_eq!(store.autoscale_policy("p").await.unwrap(), None);
        // The next decision: one row per swarm, replaced, forgotten.
        assert_eq!(store.autoscale_next("p").await.unwrap(), None);
        for i in 0..3 {
            let next = AutoscaleNext {
                time_ms: i,
                action: AutoscaleAction::None,
                acts: false,
                reason: format!("not acting yet: look {i}"),
            };
            store.set_autoscale_next("p", &next).await.unwrap();
            assert_eq!(store.autoscale_next("p").await.unwrap(), Some(next));
        }
        store.delete_autoscale_next("p").await.unwrap();
        assert_eq!(store.autoscale_next("p").await.unwrap(), None);
        // A damaged row is reported, never read as a policy.
        sqlx::query(
            "INSERT INTO swarm_autoscale VALUES ('q', '{\"min_workers\":5,\"max_workers\":1}', 0)",
        )
        .execute(&store.pool)
        .await
        .unwrap();
        assert!(store.autoscale_policy("q").await.is_err());
    }
}
