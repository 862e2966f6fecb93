//! Reading many rows at once. sqlx's SQLite driver hands each row from its worker thread
//! to the caller over a channel: a thread hand-off per row, which costs more than reading
//! the row (a list of 10,000 machines made ~14,000 context switches and took most of
//! `flotilla ls`). Lists therefore ask SQLite for their rows as JSON arrays, a chunk of
//! rows per result row, and decode them here. PostgreSQL is asked the same way (its
//! JSON functions have other names), so one path serves both engines.

use serde::de::DeserializeOwned;
use sqlx::AnyPool;

use super::{Engine, StoreError};

/// Rows per JSON array: big enough that hand-offs vanish, small enough that one result
/// row stays far below SQLite's string limit.
const CHUNK: i64 = 64;

/// The rows of `from` (a table or a parenthesised SELECT), each made by `object` (a
/// `json_object(...)` over its columns, in SQLite's spelling) and decoded to `T`. Chunks come in `order`; the
/// order inside a chunk is SQLite's to choose, so callers that need one sort the result.
pub(super) async fn json_rows<T: DeserializeOwned>(
    pool: &AnyPool,
    engine: Engine,
    object: &str,
    from: &str,
    order: &str,
) -> Result<Vec<T>, StoreError> {
    let sql = match engine {
        Engine::Sqlite => format!(
            "SELECT json_group_array({object}) FROM \
             (SELECT *, (row_number() OVER (ORDER BY {order}) - 1) / {CHUNK} AS chunk__ \
              FROM {from} AS from__) AS chunks__ \
             GROUP BY chunk__ ORDER BY chunk__"
        ),
        Engine::Postgres => {
            let object = object.replacen("json_object(", "json_build_object(", 1);
            format!(
                "SELECT json_agg({object})::text FROM \
                 (SELECT *, (row_number() OVER (ORDER BY {order}) - 1) / {CHUNK} AS chunk__ \
                  FROM {from} AS from__) AS chunks__ \
                 GROUP BY chunk__ ORDER BY chunk__"
            )
        }
    };
    let chunks: Vec<String> = sqlx::query_scalar(&sql).fetch_all(pool).await?;
    let mut rows = Vec::new();
    for chunk in chunks {
        let part: Vec<T> = serde_json::from_str(&chunk)
            .map_err(|e| StoreError::Corrupt(from.to_string(), format!("a listed row: {e}")))?;
        rows.extend(part);
    }
    Ok(rows)
}
