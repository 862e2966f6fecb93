//! Lists of many rows on SQLite, read straight from the rows. sqlx's SQLite driver
//! hands each row from its worker thread to the caller over a channel, so lists ask it
//! for JSON chunks instead (store/batch.rs), which costs SQLite building the JSON and
//! us parsing it: two thirds of `flotilla ls` at 10,000 machines. Here a list is read
//! on a read-only connection of its own (rusqlite, on the same SQLite library as
//! sqlx's), in one blocking task: one statement, each column read in place. It sees
//! what is committed, as any reader of a WAL store does. PostgreSQL lists keep the JSON
//! chunks, which cross its wire as one message each.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{OpenFlags, Row};

use super::StoreError;

/// How long a read waits for a lock (a writer finishing a checkpoint), as sqlx's own
/// connections do.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Every row `sql` selects from the SQLite store at `file`, each made by `read`.
pub(super) async fn rows<T: Send + 'static>(
    file: Arc<Path>,
    sql: &'static str,
    read: fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let read_all = move || -> Result<Vec<T>, StoreError> {
        let conn = open_reader(&file, BUSY_TIMEOUT)?;
        let mut statement = conn.prepare(sql)?;
        let mut rows = statement.query([])?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            out.push(read(row)?);
        }
        Ok(out)
    };
    match tokio::task::spawn_blocking(read_all).await {
        Ok(rows) => rows,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => Err(StoreError::Read(format!("a list's reader stopped: {e}"))),
    }
}

/// A read-only connection to the SQLite store at `file` that waits up to `busy` for a
/// lock.
fn open_reader(file: &Path, busy: Duration) -> rusqlite::Result<rusqlite::Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(busy)?;
    Ok(conn)
}

/// A read-only connection kept for the small reads a server makes on every request
/// (the store's version counters), run in place on the caller's thread. Through sqlx
/// each was a hand-off to its worker thread and back: on two cores busy with TLS, a
/// wait for that thread to be scheduled, in every request's latency. A read that
/// would wait (the connection in use by another request, a lock held) is not made
/// here: the caller reads through sqlx instead.
pub(super) struct KeptReader {
    file: Arc<Path>,
    conn: std::sync::Mutex<Option<rusqlite::Connection>>,
}

impl KeptReader {
    pub(super) fn new(file: Arc<Path>) -> KeptReader {
        KeptReader {
            file,
            conn: std::sync::Mutex::new(None),
        }
    }

    /// `read` on the kept connection (opened on first use); None when it would wait
    /// or fails, and the caller then reads another way.
    pub(super) fn try_read<T>(
        &self,
        read: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T>,
    ) -> Option<T> {
        let mut slot = self.conn.try_lock().ok()?;
        if slot.is_none() {
            // Busy at once rather than wait on this thread: sqlx's connections wait.
            *slot = Some(open_reader(&self.file, Duration::ZERO).ok()?);
        }
        let conn = slot.as_ref()?;
        match read(conn) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::debug!("a kept read on {} failed: {e}", self.file.display());
                None
            }
        }
    }

    /// Closes the connection, so the store's last connection can fold the log into
    /// the file (`Store::close`). A later read opens it again.
    pub(super) fn close(&self) {
        if let Ok(mut slot) = self.conn.lock() {
            *slot = None;
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> StoreError {
        StoreError::Read(e.to_string())
    }
}

/// Column `column` of `row` (of `owner`'s record, for a message), holding a JSON array
/// of strings; `[]` is read without a parser.
pub(super) fn strings(
    row: &Row<'_>,
    column: usize,
    owner: &str,
) -> Result<Vec<String>, StoreError> {
    let bytes = match row.get_ref(column)? {
        ValueRef::Null => return Ok(Vec::new()),
        ValueRef::Text(b) | ValueRef::Blob(b) => b,
        other => {
            return Err(StoreError::Corrupt(
                owner.to_string(),
                format!("a list of strings stored as {:?}", other.data_type()),
            ))
        }
    };
    if bytes == b"[]" {
        return Ok(Vec::new());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let name = row.as_ref().column_name(column).unwrap_or("a column");
        StoreError::Corrupt(owner.to_string(), format!("{name}: {e}"))
    })
}

/// Column `column` of `row` (of `owner`'s record), holding `what` as JSON: parsed in
/// place; a damaged value is named with its owner.
pub(super) fn json<T: serde::de::DeserializeOwned>(
    row: &Row<'_>,
    column: usize,
    owner: &str,
    what: &str,
) -> Result<T, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(owner.to_string(), format!("{what}: {e}"));
    let bytes = row
        .get_ref(column)?
        .as_bytes()
        .map_err(|e| corrupt(e.to_string()))?;
    serde_json::from_slice(bytes).map_err(|e| corrupt(e.to_string()))
}
