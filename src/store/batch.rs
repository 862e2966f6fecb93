//! Reading many rows at once. sqlx's SQLite driver hands each row from its worker thread
//! to the caller over a channel: a thread hand-off per row, which costs more than reading
//! the row (a list of 10,000 machines made ~14,000 context switches and took most of
//! `flotilla ls`). Lists therefore ask for their rows as one JSON array per chunk of
//! rows, and decode them here. Each row's JSON is put together by the caller's
//! expression, so JSON a column already holds (a spec, a health sample) is pasted in
//! as it is, neither escaped as a string nor checked by the engine, and parsed once,
//! here. PostgreSQL is asked the same way; the machine lists on SQLite, the ones `ls`
//! and the TUI wait for, are read straight from the rows instead (store/direct.rs).

use serde::de::DeserializeOwned;
use sqlx::AnyPool;

use super::{Engine, StoreError};

/// Rows per JSON array: one hand-off per this many rows, and a result string small
/// enough (a few hundred KB) that the allocator reuses its memory from chunk to chunk
/// instead of mapping fresh pages for each.
const CHUNK: i64 = 500;

/// The rows of `from` (a table, or a parenthesised SELECT which on SQLite names a
/// `rowid` column), each the JSON text `item` makes of it (an SQL expression in the
/// store's engine's dialect, e.g. a `json_object(...)` of columns, or columns of JSON
/// pasted into an array), decoded to `T`; in no particular order (callers sort).
///
/// Each chunk is the next CHUNK rows after the last one read, in the order of a unique
/// key, through its index: no sort, no copy of the rows. On SQLite the key is the
/// rowid, the table's own order, read straight down the table; ordered by `key` (a
/// unique column) instead, each row would be one more look-up from the key's index
/// into the table, which made a list of 10,000 machines take twice as long.
pub(super) async fn json_rows<T: DeserializeOwned>(
    pool: &AnyPool,
    engine: Engine,
    item: &str,
    from: &str,
    key: &str,
) -> Result<Vec<T>, StoreError> {
    let (concat, key) = match engine {
        Engine::Sqlite => ("group_concat", "rowid"),
        Engine::Postgres => ("string_agg", key),
    };
    // Concatenated in the chunk's order; `||` with NULL is NULL, so an empty chunk
    // gives NULL. The last key comes as text from either engine.
    let sql = format!(
        "SELECT '[' || {concat}(item__, ',') || ']', CAST(MAX(key__) AS TEXT), COUNT(*) FROM \
         (SELECT ({item}) AS item__, {key} AS key__ FROM {from} AS from__ \
          WHERE {key} > $1 ORDER BY {key} LIMIT {CHUNK}) AS chunk__"
    );
    let mut rows = Vec::new();
    let mut after = match engine {
        Engine::Sqlite => After::Rowid(i64::MIN),
        Engine::Postgres => After::Key(String::new()),
    };
    loop {
        let query = sqlx::query_as(&sql);
        let query = match &after {
            After::Rowid(id) => query.bind(*id),
            After::Key(key) => query.bind(key.clone()),
        };
        let (chunk, last, count): (Option<String>, Option<String>, i64) =
            query.fetch_one(pool).await?;
        if let Some(chunk) = chunk.filter(|_| count > 0) {
            let part: Vec<T> = serde_json::from_str(&chunk)
                .map_err(|e| StoreError::Corrupt(from.to_string(), format!("a listed row: {e}")))?;
            rows.extend(part);
        }
        match last {
            Some(last) if count >= CHUNK => {
                after = match after {
                    After::Rowid(_) => After::Rowid(last.parse().map_err(|e| {
                        StoreError::Corrupt(from.to_string(), format!("a rowid {last:?}: {e}"))
                    })?),
                    After::Key(_) => After::Key(last),
                }
            }
            _ => return Ok(rows),
        }
    }
}

/// Where the next chunk starts.
enum After {
    Rowid(i64),
    Key(String),
}

/// For a SELECT given to [`json_rows`] as `from`: on SQLite, the rowid of `table` as
/// the column `rowid` (with its comma), which the chunks are read in; nothing elsewhere.
pub(super) fn rowid_column(engine: Engine, table: &str) -> String {
    match engine {
        Engine::Sqlite => format!("{table}.rowid AS rowid,"),
        Engine::Postgres => String::new(),
    }
}
