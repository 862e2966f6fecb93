//! Reading many rows at once. sqlx's SQLite driver hands each row from its worker thread
//! to the caller over a channel: a thread hand-off per row, which costs more than reading
//! the row (a list of 10,000 machines made ~14,000 context switches and took most of
//! `flotilla ls`). Lists therefore ask SQLite for their rows as JSON arrays, a chunk of
//! rows per query, and decode them here. PostgreSQL is asked the same way (its
//! JSON functions have other names), so one path serves both engines.

use serde::de::DeserializeOwned;
use sqlx::AnyPool;

use super::{Engine, StoreError};

/// Rows per JSON array: one hand-off per this many rows, and one result string of a
/// few MB at most, far below SQLite's string limit. (Smaller in unit tests, so a
/// test's list spans several chunks.)
const CHUNK: i64 = if cfg!(test) { 500 } else { 2_000 };

/// The rows of `from` (a table or a parenthesised SELECT), each made by `object` (a
/// `json_object(...)` over its columns, in SQLite's spelling unless the caller gives
/// PostgreSQL's) and decoded to `T`, in the order of `key`, a unique column. Each
/// chunk is the next CHUNK rows after the last key read, through the key's index: no
/// sort, no copy of the rows.
pub(super) async fn json_rows<T: DeserializeOwned>(
    pool: &AnyPool,
    engine: Engine,
    object: &str,
    from: &str,
    key: &str,
) -> Result<Vec<T>, StoreError> {
    let array = match engine {
        Engine::Sqlite => format!("json_group_array({object})"),
        Engine::Postgres => format!(
            "json_agg({})::text",
            object.replacen("json_object(", "json_build_object(", 1)
        ),
    };
    let sql = format!(
        "SELECT {array}, MAX({key}), COUNT(*) FROM \
         (SELECT * FROM {from} AS from__ WHERE {key} > $1 ORDER BY {key} LIMIT {CHUNK}) AS chunk__"
    );
    let mut rows = Vec::new();
    let mut after = String::new();
    loop {
        let (chunk, last, count): (Option<String>, Option<String>, i64) =
            sqlx::query_as(&sql).bind(&after).fetch_one(pool).await?;
        if let Some(chunk) = chunk.filter(|_| count > 0) {
            let part: Vec<T> = serde_json::from_str(&chunk)
                .map_err(|e| StoreError::Corrupt(from.to_string(), format!("a listed row: {e}")))?;
            rows.extend(part);
        }
        match last {
            Some(last) if count >= CHUNK => after = last,
            _ => return Ok(rows),
        }
    }
}
