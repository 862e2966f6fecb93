//! Schema migrations by name, applied in list order, each once: the table
//! `schema_migrations` records which ran. Rooms add their own entries at the end; a
//! released entry is never edited, only followed by a new one.

use sqlx::SqlitePool;

use super::StoreError;

const MIGRATIONS: &[(&str, &str)] = &[
    (
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
    ),
    (
        "server_tokens_audit",
        r#"
    -- Bearer tokens of `flotilla serve`: only a SHA-256 hash of each token is kept.
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_ms INTEGER NOT NULL,
        expires_ms INTEGER,
        revoked_ms INTEGER,
        last_used_ms INTEGER
    );
    CREATE INDEX tokens_name ON tokens (name);
    -- The audit log is append-only: the triggers refuse to change or delete an entry.
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms INTEGER NOT NULL,
        token_id TEXT,
        actor TEXT,
        remote TEXT,
        action TEXT NOT NULL,
        target TEXT,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit (time_ms);
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    "#,
    ),
    (
        "monitor_health_events",
        r#"
    -- The monitor's latest sample per machine (the full api::Health as JSON), so `ls`
    -- and `flotilla health` answer without waiting on hosts.
    CREATE TABLE health (
        machine TEXT PRIMARY KEY REFERENCES machines (name) ON DELETE CASCADE,
        status TEXT NOT NULL,
        checked_ms INTEGER NOT NULL,
        json TEXT NOT NULL
    );
    -- Every event of every process sharing the store, pruned to a bounded size and age;
    -- the id is the global order a follower resumes from.
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ms INTEGER NOT NULL,
        type TEXT NOT NULL,
        target TEXT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE INDEX events_time ON events (time_ms);
    "#,
    ),
    (
        "swarms",
        r#"
    -- A swarm's desired shape (spec_json) and what was observed of it; its join tokens
    -- are sealed secrets of the owner 'swarm:NAME'.
    CREATE TABLE swarms (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        cluster_id TEXT,
        leader TEXT,
        spec_json TEXT NOT NULL,
        report_json TEXT NOT NULL DEFAULT '[]',
        created_ms INTEGER NOT NULL,
        observed_ms INTEGER NOT NULL
    );
    -- One row per node, written before its machine is made (no foreign key to machines
    -- for that reason), so a rerun converges to the plan instead of making more.
    CREATE TABLE swarm_nodes (
        machine TEXT PRIMARY KEY,
        swarm TEXT NOT NULL REFERENCES swarms (name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        node_id TEXT,
        status TEXT,
        availability TEXT,
        reachability TEXT,
        leader INTEGER NOT NULL DEFAULT 0,
        adopted INTEGER NOT NULL DEFAULT 0,
        leaving INTEGER NOT NULL DEFAULT 0,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX swarm_nodes_swarm ON swarm_nodes (swarm);
    "#,
    ),
    (
        "leases",
        r#"
    -- Which process runs the operation on a target (store/leases.rs): renewed while it
    -- runs, so a dead owner's lease expires and frees the target.
    CREATE TABLE leases (
        target TEXT PRIMARY KEY,
        operation_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    "#,
    ),
    (
        "audit_retention",
        r#"
    -- Pruning the audit log has one deliberate path (Store::prune_audit): in one
    -- transaction it writes the lowest id it keeps here, deletes the entries below it
    -- and clears the mark. The delete trigger now refuses any entry at or above the
    -- mark, so a plain DELETE (no mark) still fails, as does any UPDATE.
    CREATE TABLE audit_prune (keep_from INTEGER NOT NULL);
    DROP TRIGGER audit_no_delete;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        WHEN old.id >= COALESCE((SELECT MIN(keep_from) FROM audit_prune), 0)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    "#,
    ),
    (
        "machines_version",
        r#"
    -- A number that changes with every change to the machines table, whichever process
    -- made it: a server keeps the list it serialized until this moves (ETag, 304).
    INSERT OR IGNORE INTO meta (key, value) VALUES ('machines_version', '0');
    CREATE TRIGGER machines_version_insert AFTER INSERT ON machines BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'machines_version';
    END;
    CREATE TRIGGER machines_version_update AFTER UPDATE ON machines BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'machines_version';
    END;
    CREATE TRIGGER machines_version_delete AFTER DELETE ON machines BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'machines_version';
    END;
    "#,
    ),
    (
        "swarm_autoscale",
        r#"
    -- A swarm's autoscaling policy (checked JSON, api::AutoscalePolicy); no row: off.
    CREATE TABLE swarm_autoscale (
        swarm TEXT PRIMARY KEY,
        policy_json TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    -- The autoscaler's decisions, the newest AUTOSCALE_DECISIONS_KEPT per swarm.
    CREATE TABLE autoscale_decisions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        swarm TEXT NOT NULL,
        json TEXT NOT NULL,
        time_ms INTEGER NOT NULL
    );
    CREATE INDEX autoscale_decisions_swarm ON autoscale_decisions (swarm, id);
    "#,
    ),
    (
        "replicas",
        r#"
    -- Server replicas sharing this store (store/replicas.rs): each heartbeats its row
    -- and counts as dead after expires_ms; the live monitoring ones share the checks.
    CREATE TABLE replicas (
        id TEXT PRIMARY KEY,
        process TEXT NOT NULL,
        started_ms BIGINT NOT NULL,
        heartbeat_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL,
        monitoring BIGINT NOT NULL,
        monitored BIGINT NOT NULL
    );
    "#,
    ),
];

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
