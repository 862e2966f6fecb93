//! Opening a store: the pool for its engine, the master key check, the migrations.
//!
//! The master key never enters the database. The store keeps only a value sealed with
//! it (`meta.key_check`), so a process holding another key (a replica given the wrong
//! file) is refused before it writes anything.

use std::path::Path;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Executor};

use super::location::StoreLocation;
use super::{migrations, Engine, MasterKey, StoreError};

/// The `meta` key of the sealed check value, and what it seals.
const KEY_CHECK: &str = "key_check";
const KEY_CHECK_PLAIN: &[u8] = b"flotilla master key check";

/// Connections per process: SQLite has one writer anyway; PostgreSQL serves every
/// replica from one `max_connections`, so each takes a modest share.
const SQLITE_CONNECTIONS: u32 = 4;
const POSTGRES_CONNECTIONS: u32 = 8;
/// How long to wait for a connection before saying the store does not answer.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);

/// Characters kept as they are in a SQLite path made into a URL.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_');

/// The pool and the master key of the store at `location`, migrated to this build.
pub(super) async fn open(
    location: &StoreLocation,
    key_file: &Path,
) -> Result<(AnyPool, MasterKey), StoreError> {
    sqlx::any::install_default_drivers();
    let pool = pool(location).await?;
    let engine = location.engine();
    let checked = key_check(&pool, engine).await?;
    let key = match &checked {
        Some(sealed) => {
            let key = MasterKey::load(key_file)?.ok_or_else(|| {
                StoreError::Key(format!(
                    "{location} is sealed with a master key, and {} does not exist: copy \
                     master.key from a server of this fleet there (or name it with \
                     --master-key-file)",
                    key_file.display()
                ))
            })?;
            verify(&key, sealed, location, key_file)?;
            key
        }
        None => MasterKey::load_or_create(key_file)?,
    };
    migrations::run(&pool, engine).await?;
    if checked.is_some() {
        // Checked above; a store opened to read (`ls`) writes nothing.
        return Ok((pool, key));
    }
    // The first process to open a new store records its key's check; one that raced it
    // with another key learns so here, before it writes anything else.
    let sealed = hex::encode(key.seal(KEY_CHECK, KEY_CHECK_PLAIN)?);
    sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
        .bind(KEY_CHECK)
        .bind(sealed)
        .execute(&pool)
        .await?;
    if let Some(sealed) = key_check(&pool, engine).await? {
        verify(&key, &sealed, location, key_file)?;
    }
    Ok((pool, key))
}

fn verify(
    key: &MasterKey,
    sealed_hex: &str,
    location: &StoreLocation,
    key_file: &Path,
) -> Result<(), StoreError> {
    let opened = hex::decode(sealed_hex.trim())
        .ok()
        .and_then(|sealed| key.open(KEY_CHECK, &sealed).ok());
    match opened.as_deref() {
        Some(KEY_CHECK_PLAIN) => Ok(()),
        _ => Err(StoreError::Key(format!(
            "{} is not the master key of the fleet in {location}: copy master.key from a \
             server of this fleet (every replica needs the same file); nothing was changed",
            key_file.display()
        ))),
    }
}

/// The sealed check value, if the store has one (a new store has no `meta` table yet).
async fn key_check(pool: &AnyPool, engine: Engine) -> Result<Option<String>, StoreError> {
    let has_meta = match engine {
        Engine::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        }
        Engine::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'meta'"
        }
    };
    let n: i64 = sqlx::query_scalar(has_meta).fetch_one(pool).await?;
    if n == 0 {
        return Ok(None);
    }
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
        .bind(KEY_CHECK)
        .fetch_optional(pool)
        .await?)
}

async fn pool(location: &StoreLocation) -> Result<AnyPool, StoreError> {
    let shown = location.to_string();
    let open_error = |source| StoreError::Open {
        path: shown.clone(),
        source,
    };
    match location {
        StoreLocation::Postgres(url) => AnyPoolOptions::new()
            .max_connections(POSTGRES_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await
            .map_err(open_error),
        StoreLocation::Sqlite(path) => {
            let url = format!(
                "sqlite://{}?mode=rwc",
                utf8_percent_encode(&path.to_string_lossy(), PATH_KEEP)
            );
            let options = AnyPoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute("PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;")
                            .await?;
                        // Each connection the pool adds later asks for WAL too, and may
                        // meet the same race with another process (CI saw it: sqlx
                        // logged the failed connection on the CLI's stderr): retry here,
                        // bounded, as the first connection is retried below.
                        let mut attempt = 0;
                        loop {
                            match conn.execute("PRAGMA journal_mode = WAL;").await {
                                Ok(_) => break,
                                Err(e) if attempt < 50 && is_busy(&e) => {
                                    attempt += 1;
                                    tokio::time::sleep(Duration::from_millis(5 + 5 * attempt))
                                        .await;
                                }
                                Err(e) => return Err(e),
                            }
                        }
                        conn.execute("PRAGMA synchronous = NORMAL;").await?;
                        Ok(())
                    })
                });
            // Two processes opening a new store at once race to switch it to WAL, and
            // SQLite answers that race with SQLITE_BUSY at once, whatever the busy
            // timeout: retry, bounded.
            let mut attempt = 0;
            let pool = loop {
                match options.clone().connect(&url).await {
                    Ok(pool) => break pool,
                    Err(e) if attempt < 50 && is_busy(&e) => {
                        attempt += 1;
                        tokio::time::sleep(Duration::from_millis(20 + 10 * attempt)).await;
                    }
                    Err(source) => return Err(open_error(source)),
                }
            };
            set_private(path);
            Ok(pool)
        }
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

/// Makes an empty database `name` (lower-case letters, digits, `_`) on the PostgreSQL
/// server `admin_url` reaches, and returns the URL of the new database: for tests, and
/// for a first set-up by hand.
pub async fn create_postgres_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(StoreError::Location(format!(
            "database name {name:?}: use 1 to 63 lower-case letters, digits and _"
        )));
    }
    let shown = super::location::redact(admin_url);
    let mut url = url::Url::parse(admin_url)
        .map_err(|e| StoreError::Location(format!("store {shown:?}: {e}")))?;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|source| StoreError::Open {
            path: shown.clone(),
            source,
        })?;
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .await?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}
