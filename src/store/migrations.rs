//! Schema migrations by name, applied in list order, each once: the table
//! `schema_migrations` records which ran. Rooms add their own entries at the end; a
//! released entry is never edited, only followed by a new one.

use sqlx::SqlitePool;

use super::StoreError;

const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_foundation",
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE machines (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        ip TEXT,
        url TEXT,
        docker_version TEXT,
        swarm TEXT,
        hostname TEXT,
        ssh_user TEXT NOT NULL,
        ssh_port INTEGER NOT NULL,
        host_key TEXT,
        host_key_fp TEXT,
        spec_json TEXT NOT NULL,
        driver_data_json TEXT NOT NULL DEFAULT '{}',
        created_ms INTEGER NOT NULL,
        observed_ms INTEGER NOT NULL
    );
    -- Private keys, sealed with the master key; aad binds each to its owner and kind.
    CREATE TABLE secrets (
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        sealed BLOB NOT NULL,
        PRIMARY KEY (owner, kind)
    );
    -- Public material (certificates), plain.
    CREATE TABLE certs (
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        pem TEXT NOT NULL,
        PRIMARY KEY (owner, kind)
    );
    CREATE TABLE operations (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        json TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        finished_ms INTEGER
    );
    CREATE INDEX operations_target ON operations (target, started_ms);
    "#,
)];

pub async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)")
        .execute(&mut *conn)
        .await?;
    // An immediate (write-locked) transaction per migration: two processes opening a new
    // store at once must not both apply it.
    for (name, sql) in MIGRATIONS {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let done: Option<String> =
            sqlx::query_scalar("SELECT name FROM schema_migrations WHERE name = ?")
                .bind(name)
                .fetch_optional(&mut *conn)
                .await?;
        if done.is_some() {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            continue;
        }
        let applied = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            sqlx::query("INSERT INTO schema_migrations (name, applied_ms) VALUES (?, ?)")
                .bind(name)
                .bind(super::now_ms())
                .execute(&mut *conn)
                .await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match applied {
            Ok(()) => {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}
