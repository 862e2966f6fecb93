//! The monitor's latest sample of each machine, so `ls` and `flotilla health` answer
//! without waiting on hosts. The row goes with its machine (ON DELETE CASCADE).

use super::{Store, StoreError};
use crate::api::{Health, MachineState};

impl Store {
    /// Records the latest health of machines in one transaction. A machine removed
    /// meanwhile is skipped, not an error.
    pub async fn put_health(&self, items: &[Health]) -> Result<(), StoreError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        for h in items {
            let corrupt =
                |e: serde_json::Error| StoreError::Corrupt(h.machine.clone(), e.to_string());
            let json = serde_json::to_string(h).map_err(corrupt)?;
            let reasons = serde_json::to_string(&h.reasons).map_err(corrupt)?;
            sqlx::query(
                "INSERT INTO health (machine, status, checked_ms, json, reasons_json) \
                 SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM machines WHERE name = $6) \
                 ON CONFLICT (machine) DO UPDATE SET \
                 status = excluded.status, checked_ms = excluded.checked_ms, json = excluded.json, \
                 reasons_json = excluded.reasons_json \
                 WHERE excluded.checked_ms >= health.checked_ms",
            )
            .bind(&h.machine)
            .bind(h.status.as_str())
            .bind(h.checked_ms)
            .bind(json)
            .bind(reasons)
            .bind(&h.machine)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The recorded health of every machine that has one.
    pub async fn all_health(&self) -> Result<Vec<Health>, StoreError> {
        // Each row's JSON as it is stored: parsed once, here (in place on SQLite).
        let mut rows: Vec<Health> = match &self.sqlite_file {
            Some(file) => {
                super::direct::rows(file.clone(), "SELECT machine, json FROM health", |row| {
                    let machine: String = row.get(0)?;
                    super::direct::json(row, 1, &machine, "health")
                })
                .await?
            }
            None => {
                super::batch::json_rows(&self.pool, self.engine, "json", "health", "machine")
                    .await?
            }
        };
        rows.sort_by(|a, b| a.machine.cmp(&b.machine));
        Ok(rows)
    }

    /// Every machine's name with its recorded health, if any, by name: one query, so
    /// `ls` stays instant with many machines.
    pub async fn health_by_machine(&self) -> Result<Vec<(String, Option<Health>)>, StoreError> {
        if let Some(file) = &self.sqlite_file {
            // The names from the brief index (in name order, no machine row read), each
            // health sample parsed in place.
            let sql = "SELECT m.name, h.json FROM machines m INDEXED BY machines_brief \
                       LEFT JOIN health h ON h.machine = m.name";
            let mut rows = super::direct::rows(file.clone(), sql, |row| {
                let name: String = row.get(0)?;
                let health = match row.get_ref(1)? {
                    rusqlite::types::ValueRef::Null => None,
                    _ => Some(super::direct::json(row, 1, &name, "health")?),
                };
                Ok((name, health))
            })
            .await?;
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(rows);
        }
        // `[name, health or null]`, the health pasted in as stored.
        let quoted = match self.engine {
            super::Engine::Sqlite => "json_quote(name)",
            super::Engine::Postgres => "to_json(name)::text",
        };
        let mut rows: Vec<(String, Option<Health>)> = super::batch::json_rows(
            &self.pool,
            self.engine,
            &format!("'[' || {quoted} || ',' || COALESCE(json, 'null') || ']'"),
            &format!(
                "(SELECT {} m.name AS name, h.json AS json FROM machines m \
                 LEFT JOIN health h ON h.machine = m.name)",
                super::batch::rowid_column(self.engine, "m")
            ),
            "name",
        )
        .await?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(rows)
    }

    /// A machine's recorded state alone (cheap: the monitor asks before every check);
    /// None when the machine is gone.
    pub async fn machine_state(&self, name: &str) -> Result<Option<MachineState>, StoreError> {
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM machines WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        state
            .map(|s| {
                MachineState::parse(&s).ok_or_else(|| {
                    StoreError::Corrupt(name.to_string(), format!("unknown state {s:?}"))
                })
            })
            .transpose()
    }

    /// Records an observed power state only if the machine is still in `expected`, so an
    /// observation never overwrites what an operation (in any process) set meanwhile.
    /// Returns whether it changed.
    pub async fn observe_state(
        &self,
        name: &str,
        expected: MachineState,
        to: MachineState,
    ) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE machines SET state = $1, error = NULL, observed_ms = $2 WHERE name = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(super::now_ms())
        .bind(name)
        .bind(expected.as_str())
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// The recorded health of one machine, if it has been checked.
    pub async fn health(&self, machine: &str) -> Result<Option<Health>, StoreError> {
        let json: Option<String> = sqlx::query_scalar("SELECT json FROM health WHERE machine = $1")
            .bind(machine)
            .fetch_optional(&self.pool)
            .await?;
        json.map(|j| {
            serde_json::from_str(&j)
                .map_err(|e| StoreError::Corrupt(machine.to_string(), format!("health: {e}")))
        })
        .transpose()
    }
}
