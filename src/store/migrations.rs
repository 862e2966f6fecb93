//! Schema migrations, applied in order; `PRAGMA user_version` records how far we got.

use sqlx::SqlitePool;

use super::StoreError;

const MIGRATIONS: &[&str] = &[
    // 1: the foundation
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
];

pub async fn run(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    // An exclusive transaction per migration: two processes opening a new store at once
    // must not both apply it.
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let target = i as i64 + 1;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        let current: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *conn)
            .await?;
        if current >= target {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            continue;
        }
        let applied = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            sqlx::query(&format!("PRAGMA user_version = {target}"))
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
