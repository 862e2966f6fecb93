//! The fleet's state in SQL (sqlx): machines, sealed secrets, certificates, operations.
//! Desired state is written before anything is made; each step records what it made,
//! so an interrupted operation can be finished or removed.
//!
//! One store, two engines behind sqlx's `Any` driver: a SQLite file (the embedded
//! default) or a PostgreSQL database that several servers share (`serve --store
//! postgres://...`). Queries are written once, with `$N` placeholders both engines
//! read; the few places where the dialects differ ask `Store::engine`.

mod access;
mod autoscale;
mod batch;
pub mod command;
mod connect;
mod copy;
mod direct;
mod events;
mod health;
mod leases;
mod location;
mod machines;
mod migrations;
mod notify;
mod operations;
mod replicas;
mod seal;
mod secrets;
mod swarms;

use std::path::{Path, PathBuf};

use sqlx::AnyPool;

pub use access::{token_hash, AuditRecord};
pub use connect::create_postgres_database;
pub use copy::CopyReport;
pub use location::{Engine, StoreLocation};
pub use machines::{machine_owner, MachineRecord};
pub use notify::EventWakeups;
pub use seal::MasterKey;
pub use swarms::{swarm_owner, NodeRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Open { path: String, source: sqlx::Error },
    #[error("store: {0}")]
    Sql(#[from] sqlx::Error),
    /// A list read straight from SQLite (store/direct.rs) failed.
    #[error("store: {0}")]
    Read(String),
    #[error("{0}")]
    Key(String),
    #[error("{0}")]
    Location(String),
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
            StoreError::Location(_) => Error::invalid(e.to_string()),
            _ => Error::store(e.to_string()).caused_by(e),
        }
    }
}

/// Where a store is and which master key seals it: by default a SQLite file and
/// `master.key` in the data dir.
#[derive(Clone, Debug, Default)]
pub struct StoreConfig {
    /// `sqlite:PATH` or `postgres://...`; None: `fleet.db` in the data dir.
    pub url: Option<String>,
    /// The master key file; None: `master.key` in the data dir.
    pub master_key_file: Option<PathBuf>,
}

/// The store: a pool on one SQLite file (WAL) or one PostgreSQL database, plus the
/// master key that seals secrets (kept with the processes, never in the database).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    key: MasterKey,
    engine: Engine,
    /// Where the store is, with any password left out: for messages.
    shown: String,
    /// The PostgreSQL URL (with its password: never shown), for the event listener.
    postgres_url: Option<std::sync::Arc<str>>,
    /// The SQLite file, which lists of many rows read on a connection of their own
    /// (store/direct.rs).
    sqlite_file: Option<std::sync::Arc<Path>>,
    /// On SQLite, the connection the version counters are read on in place.
    kept_reader: Option<std::sync::Arc<direct::KeptReader>>,
    /// A random name of this opening of the store: event notifications carry it, so a
    /// process skips its own.
    writer: std::sync::Arc<str>,
}

impl Store {
    /// Opens (creating if needed) `fleet.db` and `master.key` in `data_dir`.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Store::open_with(data_dir, &StoreConfig::default()).await
    }

    /// Opens the store `config` names; the data dir holds the master key unless the
    /// config names another file. A store sealed with another key is refused before
    /// anything is written to it.
    pub async fn open_with(data_dir: &Path, config: &StoreConfig) -> Result<Store, StoreError> {
        crate::paths::ensure_private_dir(data_dir)
            .map_err(|e| StoreError::Key(format!("cannot create {}: {e}", data_dir.display())))?;
        let location = match &config.url {
            None => StoreLocation::Sqlite(data_dir.join("fleet.db")),
            Some(url) => StoreLocation::parse(url)?,
        };
        let key_file = config
            .master_key_file
            .clone()
            .unwrap_or_else(|| data_dir.join("master.key"));
        let (pool, key) = connect::open(&location, &key_file).await?;
        Ok(Store {
            pool,
            key,
            engine: location.engine(),
            shown: location.to_string(),
            postgres_url: match &location {
                StoreLocation::Postgres(url) => Some(url.as_str().into()),
                StoreLocation::Sqlite(_) => None,
            },
            sqlite_file: match &location {
                StoreLocation::Sqlite(path) => Some(path.as_path().into()),
                StoreLocation::Postgres(_) => None,
            },
            kept_reader: match &location {
                StoreLocation::Sqlite(path) => Some(std::sync::Arc::new(direct::KeptReader::new(
                    path.as_path().into(),
                ))),
                StoreLocation::Postgres(_) => None,
            },
            writer: hex::encode(rand::random::<[u8; 8]>()).into(),
        })
    }

    /// Closes every connection of this opening (and of its clones), waiting for
    /// each: SQLite then folds its write-ahead log into the file, so the file alone is
    /// the whole store (to copy it, say).
    pub async fn close(&self) {
        if let Some(reader) = &self.kept_reader {
            reader.close();
        }
        self.pool.close().await;
    }

    /// Which SQL engine holds the store.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Where the store is (a path, or a URL without its password).
    pub fn location(&self) -> &str {
        &self.shown
    }

    /// A random id naming this fleet, made with the store; labels on driver resources
    /// carry it so one Docker Engine can serve several fleets.
    pub async fn fleet_id(&self) -> Result<String, StoreError> {
        if let Some(id) = self.meta("fleet_id").await? {
            return Ok(id);
        }
        let id = hex::encode(rand::random::<[u8; 6]>());
        sqlx::query("INSERT INTO meta (key, value) VALUES ('fleet_id', $1) ON CONFLICT DO NOTHING")
            .bind(&id)
            .execute(&self.pool)
            .await?;
        Ok(self.meta("fleet_id").await?.unwrap_or(id))
    }

    pub async fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }
}

pub(crate) use crate::api::now_ms;

#[cfg(test)]
pub(crate) mod tests;
