//! The fleet's state in SQLite (sqlx): machines, sealed secrets, certificates, operations.
//! Desired state is written before anything is made; each step records what it made,
//! so an interrupted operation can be finished or removed.

mod access;
mod autoscale;
mod batch;
mod events;
mod health;
mod leases;
mod machines;
mod migrations;
mod operations;
mod replicas;
mod seal;
mod secrets;
mod swarms;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use access::{token_hash, AuditRecord};
pub use machines::{machine_owner, MachineRecord};
pub use seal::MasterKey;
pub use swarms::{swarm_owner, NodeRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("store: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0}")]
    Key(String),
    #[error("Docker machine {0:?} already exists: pick another name, or remove it")]
    Duplicate(String),
    #[error("Docker machine {0:?} does not exist")]
    NotFound(String),
    #[error("a token named {0:?} is active already: pick another name, or revoke it first")]
    DuplicateToken(String),
    #[error("store holds a damaged record for {0}: {1}")]
    Corrupt(String, String),
}

impl From<StoreError> for crate::api::Error {
    fn from(e: StoreError) -> Self {
        use crate::api::{Error, Hint, Subject};
        match &e {
            StoreError::Duplicate(name) => Error::already_exists(e.to_string())
                .about(Subject::Machine(name.clone()))
                .hint(Hint::Remove { force: false }),
            StoreError::NotFound(name) => Error::not_found(name),
            StoreError::DuplicateToken(name) => Error::already_exists(e.to_string())
                .about(Subject::Token(name.clone()))
                .hint(Hint::List),
            _ => Error::store(e.to_string()).caused_by(e),
        }
    }
}

/// The store: one SQLite file in WAL mode plus the master key that seals secrets.
#[derive(Clone)]
pub struct Store {
    pool: SqlitePool,
    key: MasterKey,
}

impl Store {
    /// Opens (creating if needed) `fleet.db` and `master.key` in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        crate::paths::ensure_private_dir(data_dir)
            .map_err(|e| StoreError::Key(format!("cannot create {}: {e}", data_dir.display())))?;
        let key = MasterKey::load_or_create(&data_dir.join("master.key"))?;
        let db = data_dir.join("fleet.db");
        let opts = SqliteConnectOptions::from_str("sqlite://")
            .map_err(|source| StoreError::Open {
                path: db.display().to_string(),
                source,
            })?
            .filename(&db)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // Two processes opening a new store at once race to switch it to WAL, and SQLite
        // answers that race with SQLITE_BUSY at once, whatever the busy timeout: retry,
        // bounded.
        let mut attempt = 0;
        let pool = loop {
            match SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts.clone())
                .await
            {
                Ok(pool) => break pool,
                Err(e) if attempt < 50 && is_busy(&e) => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(20 + 10 * attempt)).await;
                }
                Err(source) => {
                    return Err(StoreError::Open {
                        path: db.display().to_string(),
                        source,
                    })
                }
            }
        };
        set_private(&db);
        migrations::run(&pool).await?;
        Ok(Store { pool, key })
    }

    /// A random id naming this fleet, made with the store; labels on driver resources
    /// carry it so one Docker Engine can serve several fleets.
    pub async fn fleet_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.meta("fleet_id").await? {
            return Ok(id);
        }
        let id = hex::encode(rand::random::<[u8; 6]>());
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('fleet_id', ?)")
            .bind(&id)
            .execute(&self.pool)
            .await?;
        Ok(self.meta("fleet_id").await?.unwrap_or(id))
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }
}

/// SQLITE_BUSY (5) or SQLITE_LOCKED (6).
fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("5") | Some("6")),
        _ => false,
    }
}

fn set_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

pub(crate) use crate::api::now_ms;

#[cfg(test)]
pub(crate) mod tests;
