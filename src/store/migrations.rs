//! Schema migrations by name, applied in list order, each once: the table
//! `schema_migrations` records which ran. Rooms add their own entries at the end; a
//! released entry is never edited, only followed by a new one.
//!
//! Each engine has its list, entry for entry under the same names (a unit test holds
//! them in step): SQLite's types and triggers are not PostgreSQL's. An entry written in
//! portable DDL (TEXT, BIGINT, PRIMARY KEY) may be given once, in `PORTABLE`.

use sqlx::AnyPool;

use super::{Engine, StoreError};

/// Entries both engines run as written, after their own lists.
const PORTABLE: &[(&str, &str)] = &[
    (
        "autoscale_next",
        r#"
    -- The autoscaler's next decision per swarm, from its latest look (api::AutoscaleNext
    -- as JSON), replaced every round.
    CREATE TABLE autoscale_next (
        swarm TEXT PRIMARY KEY,
        time_ms BIGINT NOT NULL,
        json TEXT NOT NULL
    );
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

const SQLITE: &[(&str, &str)] = &[
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
        "tokens_version",
        r#"
    -- Moves when a token is made, revoked or removed (not when it is only used), so a
    -- server can keep its checks of tokens until it moves.
    INSERT OR IGNORE INTO meta (key, value) VALUES ('tokens_version', '0');
    CREATE TRIGGER tokens_version_insert AFTER INSERT ON tokens BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'tokens_version';
    END;
    CREATE TRIGGER tokens_version_update
        AFTER UPDATE OF id, name, role, hash, expires_ms, revoked_ms ON tokens BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'tokens_version';
    END;
    CREATE TRIGGER tokens_version_delete AFTER DELETE ON tokens BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'tokens_version';
    END;
    "#,
    ),
    (
        "brief_columns",
        r#"
    -- What a list of machines in brief shows, kept apart from the JSON it comes from so
    -- the list parses neither specs nor health samples: each spec's engine labels and
    -- each health sample's reasons, as JSON arrays.
    ALTER TABLE machines ADD COLUMN labels_json TEXT NOT NULL DEFAULT '[]';
    UPDATE machines SET labels_json = COALESCE(json_extract(spec_json, '$.engine.labels'), '[]');
    ALTER TABLE health ADD COLUMN reasons_json TEXT NOT NULL DEFAULT '[]';
    UPDATE health SET reasons_json = COALESCE(json_extract(json, '$.reasons'), '[]');
    "#,
    ),
    (
        "brief_indexes",
        r#"
    -- A list in brief (`ls` of a local fleet) reads these two indexes alone, never the
    -- rows, whose specs and health samples are most of their bytes: a third of the
    -- pages at 10,000 machines, in name order; the TUI's health list takes the names
    -- from the first. PostgreSQL reads its lists another way (store/batch.rs) and has
    -- no need of them.
    CREATE INDEX machines_brief ON machines
        (name, driver, state, error, ip, url, docker_version, swarm, observed_ms, labels_json);
    CREATE INDEX health_brief ON health (machine, status, checked_ms, reasons_json);
    "#,
    ),
];

const POSTGRES: &[(&str, &str)] = &[
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
        ssh_port BIGINT NOT NULL,
        host_key TEXT,
        host_key_fp TEXT,
        spec_json TEXT NOT NULL,
        driver_data_json TEXT NOT NULL DEFAULT '{}',
        created_ms BIGINT NOT NULL,
        observed_ms BIGINT NOT NULL
    );
    CREATE TABLE secrets (
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        sealed BYTEA NOT NULL,
        PRIMARY KEY (owner, kind)
    );
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
        started_ms BIGINT NOT NULL,
        finished_ms BIGINT
    );
    CREATE INDEX operations_target ON operations (target, started_ms);
    "#,
    ),
    (
        "server_tokens_audit",
        r#"
    CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE,
        created_ms BIGINT NOT NULL,
        expires_ms BIGINT,
        revoked_ms BIGINT,
        last_used_ms BIGINT
    );
    CREATE INDEX tokens_name ON tokens (name);
    -- Identity BY DEFAULT: `store migrate` copies ids as they were, then moves the
    -- sequence past them.
    CREATE TABLE audit (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        time_ms BIGINT NOT NULL,
        token_id TEXT,
        actor TEXT,
        remote TEXT,
        action TEXT NOT NULL,
        target TEXT,
        status BIGINT NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit (time_ms);
    CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_append_only();
    "#,
    ),
    (
        "monitor_health_events",
        r#"
    CREATE TABLE health (
        machine TEXT PRIMARY KEY REFERENCES machines (name) ON DELETE CASCADE,
        status TEXT NOT NULL,
        checked_ms BIGINT NOT NULL,
        json TEXT NOT NULL
    );
    CREATE TABLE events (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        time_ms BIGINT NOT NULL,
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
    CREATE TABLE swarms (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        state TEXT NOT NULL,
        error TEXT,
        cluster_id TEXT,
        leader TEXT,
        spec_json TEXT NOT NULL,
        report_json TEXT NOT NULL DEFAULT '[]',
        created_ms BIGINT NOT NULL,
        observed_ms BIGINT NOT NULL
    );
    CREATE TABLE swarm_nodes (
        machine TEXT PRIMARY KEY,
        swarm TEXT NOT NULL REFERENCES swarms (name) ON DELETE CASCADE,
        role TEXT NOT NULL,
        node_id TEXT,
        status TEXT,
        availability TEXT,
        reachability TEXT,
        leader BIGINT NOT NULL DEFAULT 0,
        adopted BIGINT NOT NULL DEFAULT 0,
        leaving BIGINT NOT NULL DEFAULT 0,
        created_ms BIGINT NOT NULL
    );
    CREATE INDEX swarm_nodes_swarm ON swarm_nodes (swarm);
    "#,
    ),
    (
        "leases",
        r#"
    CREATE TABLE leases (
        target TEXT PRIMARY KEY,
        operation_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        expires_ms BIGINT NOT NULL
    );
    "#,
    ),
    (
        "audit_retention",
        r#"
    -- As on SQLite: the delete trigger lets through only entries below the mark that
    -- Store::prune_audit writes, inside its transaction.
    CREATE TABLE audit_prune (keep_from BIGINT NOT NULL);
    CREATE FUNCTION audit_delete_below_mark() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.id >= COALESCE((SELECT MIN(keep_from) FROM audit_prune), 0) THEN
                RAISE EXCEPTION 'the audit log is append-only';
            END IF;
            RETURN OLD;
        END $$;
    DROP TRIGGER audit_no_delete ON audit;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION audit_delete_below_mark();
    "#,
    ),
    (
        "machines_version",
        r#"
    INSERT INTO meta (key, value) VALUES ('machines_version', '0') ON CONFLICT DO NOTHING;
    CREATE FUNCTION machines_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE meta SET value = (CAST(value AS BIGINT) + 1)::text
                WHERE key = 'machines_version';
            RETURN NULL;
        END $$;
    CREATE TRIGGER machines_version AFTER INSERT OR UPDATE OR DELETE ON machines
        FOR EACH STATEMENT EXECUTE FUNCTION machines_version_bump();
    "#,
    ),
    (
        "swarm_autoscale",
        r#"
    CREATE TABLE swarm_autoscale (
        swarm TEXT PRIMARY KEY,
        policy_json TEXT NOT NULL,
        updated_ms BIGINT NOT NULL
    );
    CREATE TABLE autoscale_decisions (
        id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
        swarm TEXT NOT NULL,
        json TEXT NOT NULL,
        time_ms BIGINT NOT NULL
    );
    CREATE INDEX autoscale_decisions_swarm ON autoscale_decisions (swarm, id);
    "#,
    ),
    (
        "tokens_version",
        r#"
    INSERT INTO meta (key, value) VALUES ('tokens_version', '0') ON CONFLICT DO NOTHING;
    CREATE FUNCTION tokens_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE meta SET value = (CAST(value AS BIGINT) + 1)::text
                WHERE key = 'tokens_version';
            RETURN NULL;
        END $$;
    CREATE TRIGGER tokens_version_change
        AFTER INSERT OR DELETE OR UPDATE OF id, name, role, hash, expires_ms, revoked_ms
        ON tokens FOR EACH STATEMENT EXECUTE FUNCTION tokens_version_bump();
    "#,
    ),
    (
        "brief_columns",
        r#"
    -- What a list of machines in brief shows, kept apart from the JSON it comes from so
    -- the list parses neither specs nor health samples: each spec's engine labels and
    -- each health sample's reasons, as JSON arrays.
    ALTER TABLE machines ADD COLUMN labels_json TEXT NOT NULL DEFAULT '[]';
    UPDATE machines SET labels_json = COALESCE((spec_json::json->'engine'->'labels')::text, '[]');
    ALTER TABLE health ADD COLUMN reasons_json TEXT NOT NULL DEFAULT '[]';
    UPDATE health SET reasons_json = COALESCE((json::json->'reasons')::text, '[]');
    "#,
    ),
    (
        "brief_indexes",
        r#"
    -- SQLite's brief lists read covering indexes made here. PostgreSQL's come in JSON
    -- chunks the server builds from the rows (store/batch.rs) and need none; the step
    -- is kept so both engines have the same migrations in the same order.
    SELECT 1;
    "#,
    ),
];

/// Tables whose ids the store assigns (identity columns on PostgreSQL): a copy that
/// writes ids must move their sequences past them.
pub(super) const IDENTITY_TABLES: &[&str] = &["audit", "events", "autoscale_decisions"];

/// This engine's migrations, in order.
fn list(engine: Engine) -> impl Iterator<Item = &'static (&'static str, &'static str)> {
    let own = match engine {
        Engine::Sqlite => SQLITE,
        Engine::Postgres => POSTGRES,
    };
    own.iter().chain(PORTABLE.iter())
}

pub async fn run(pool: &AnyPool, engine: Engine) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    match engine {
        Engine::Sqlite => {
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)")
                .execute(&mut *conn)
                .await?;
        }
        Engine::Postgres => {
            // Replicas starting together: one applies, the others wait on this lock
            // (held to the end of its transaction) and then find the work done.
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(7046517061)) AS locked")
                .execute(&mut *tx)
                .await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
                .execute(&mut *tx)
                .await?;
            for (name, sql) in list(engine) {
                if applied(&mut tx, name).await? {
                    continue;
                }
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                record(&mut tx, name).await?;
            }
            tx.commit().await?;
            return Ok(());
        }
    }
    // Every open of a store comes here (each CLI command): when all is applied, one
    // read answers, with no write lock taken.
    let done: Vec<String> = sqlx::query_scalar("SELECT name FROM schema_migrations")
        .fetch_all(&mut *conn)
        .await?;
    if list(engine).all(|(name, _)| done.iter().any(|d| d == name)) {
        return Ok(());
    }
    // SQLite: an immediate (write-locked) transaction per migration: two processes
    // opening a new store at once must not both apply it.
    for (name, sql) in list(engine) {
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        if applied(&mut conn, name).await? {
            sqlx::query("COMMIT").execute(&mut *conn).await?;
            continue;
        }
        let done = async {
            sqlx::raw_sql(sql).execute(&mut *conn).await?;
            record(&mut conn, name).await
        }
        .await;
        match done {
            Ok(()) => {
                sqlx::query("COMMIT").execute(&mut *conn).await?;
            }
            Err(e) => {
                let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                return Err(e);
            }
        }
    }
    Ok(())
}

async fn applied(conn: &mut sqlx::AnyConnection, name: &str) -> Result<bool, StoreError> {
    let done: Option<String> =
        sqlx::query_scalar("SELECT name FROM schema_migrations WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(done.is_some())
}

async fn record(conn: &mut sqlx::AnyConnection, name: &str) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO schema_migrations (name, applied_ms) VALUES ($1, $2)")
        .bind(name)
        .bind(super::now_ms())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_engines_have_the_same_migrations_in_the_same_order() {
        let sqlite: Vec<_> = SQLITE.iter().map(|(n, _)| n).collect();
        let postgres: Vec<_> = POSTGRES.iter().map(|(n, _)| n).collect();
        assert_eq!(sqlite, postgres);
    }
}
