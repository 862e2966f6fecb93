//! Copying a whole fleet from one store to another (`flotilla store migrate`), for a
//! fleet that moves from its SQLite file to a PostgreSQL shared by several servers.
//!
//! Both stores are opened with the same master key, so sealed secrets move as they are
//! (never opened on the way). The copy is one transaction on the destination, which must
//! hold no fleet yet: a failure leaves it as it was. Then every table is read back from
//! both sides and compared, row by row.

use std::fmt;

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{Store, StoreError};

/// How a column is read and written.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Int,
    Blob,
}
use Kind::{Blob, Int, Text};

/// A table copied: its name, its key (the order rows are read and compared in), its
/// columns.
struct Table {
    name: &'static str,
    key: &'static str,
    columns: &'static [(&'static str, Kind)],
}

/// Every table of the fleet, parents before children (foreign keys). A migration that
/// adds a table adds it here or to `NOT_COPIED` (a unit test holds the lists to the
/// schema).
const TABLES: &[Table] = &[
    Table {
        name: "meta",
        key: "key",
        columns: &[("key", Text), ("value", Text)],
    },
    Table {
        name: "machines",
        key: "name",
        columns: &[
            ("name", Text),
            ("driver", Text),
            ("state", Text),
            ("error", Text),
            ("ip", Text),
            ("url", Text),
            ("docker_version", Text),
            ("swarm", Text),
            ("hostname", Text),
            ("ssh_user", Text),
            ("ssh_port", Int),
            ("host_key", Text),
            ("host_key_fp", Text),
            ("spec_json", Text),
            ("driver_data_json", Text),
            ("created_ms", Int),
            ("observed_ms", Int),
            ("labels_json", Text),
        ],
    },
    Table {
        name: "health",
        key: "machine",
        columns: &[
            ("machine", Text),
            ("status", Text),
            ("checked_ms", Int),
            ("json", Text),
            ("reasons_json", Text),
        ],
    },
    Table {
        name: "secrets",
        key: "owner, kind",
        columns: &[("owner", Text), ("kind", Text), ("sealed", Blob)],
    },
    Table {
        name: "certs",
        key: "owner, kind",
        columns: &[("owner", Text), ("kind", Text), ("pem", Text)],
    },
    Table {
        name: "operations",
        key: "id",
        columns: &[
            ("id", Text),
            ("kind", Text),
            ("target", Text),
            ("json", Text),
            ("started_ms", Int),
            ("finished_ms", Int),
        ],
    },
    Table {
        name: "tokens",
        key: "id",
        columns: &[
            ("id", Text),
            ("name", Text),
            ("role", Text),
            ("hash", Text),
            ("created_ms", Int),
            ("expires_ms", Int),
            ("revoked_ms", Int),
            ("last_used_ms", Int),
        ],
    },
    Table {
        name: "audit",
        key: "id",
        columns: &[
            ("id", Int),
            ("time_ms", Int),
            ("token_id", Text),
            ("actor", Text),
            ("remote", Text),
            ("action", Text),
            ("target", Text),
            ("status", Int),
            ("outcome", Text),
        ],
    },
    Table {
        name: "events",
        key: "id",
        columns: &[
            ("id", Int),
            ("time_ms", Int),
            ("type", Text),
            ("target", Text),
            ("json", Text),
        ],
    },
    Table {
        name: "swarms",
        key: "name",
        columns: &[
            ("name", Text),
            ("driver", Text),
            ("state", Text),
            ("error", Text),
            ("cluster_id", Text),
            ("leader", Text),
            ("spec_json", Text),
            ("report_json", Text),
            ("created_ms", Int),
            ("observed_ms", Int),
        ],
    },
    Table {
        name: "swarm_nodes",
        key: "machine",
        columns: &[
            ("machine", Text),
            ("swarm", Text),
            ("role", Text),
            ("node_id", Text),
            ("status", Text),
            ("availability", Text),
            ("reachability", Text),
            ("leader", Int),
            ("adopted", Int),
            ("leaving", Int),
            ("created_ms", Int),
        ],
    },
    Table {
        name: "leases",
        key: "target",
        columns: &[
            ("target", Text),
            ("operation_id", Text),
            ("owner", Text),
            ("expires_ms", Int),
        ],
    },
    Table {
        name: "swarm_autoscale",
        key: "swarm",
        columns: &[("swarm", Text), ("policy_json", Text), ("updated_ms", Int)],
    },
    Table {
        name: "autoscale_next",
        key: "swarm",
        columns: &[("swarm", Text), ("time_ms", Int), ("json", Text)],
    },
    Table {
        name: "autoscale_decisions",
        key: "id",
        columns: &[
            ("id", Int),
            ("swarm", Text),
            ("json", Text),
            ("time_ms", Int),
        ],
    },
];

/// `meta` keys that belong to the store itself, not to the fleet: the key check (the
/// destination made its own with the same key) and the counters its triggers keep.
const OWN_META: &[&str] = &["key_check", "machines_version", "tokens_version"];

/// Tables that must be empty in a destination: any row means it already holds a fleet.
const FLEET_TABLES: &[&str] = &["machines", "swarms", "tokens", "audit", "events", "secrets"];

/// Rows per INSERT: few round trips, far below either engine's parameter limit.
const ROWS_PER_INSERT: usize = 200;

/// What a copy moved, table by table, all verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    pub tables: Vec<(String, u64)>,
}

impl fmt::Display for CopyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .tables
            .iter()
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        write!(f, "{}", parts.join(", "))
    }
}

/// One value of a row, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Blob(Option<Vec<u8>>),
}

impl Store {
    /// Copies every table of this store into `dest` (which must hold no fleet) in one
    /// transaction, then reads both back and compares them.
    pub async fn copy_into(&self, dest: &Store) -> Result<CopyReport, StoreError> {
        for table in FLEET_TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&dest.pool)
                .await?;
            if n > 0 {
                return Err(StoreError::Location(format!(
                    "{} already holds a fleet ({n} rows in {table}): copy into an empty \
                     database, or drop that one first",
                    dest.location()
                )));
            }
        }
        let mut report = CopyReport { tables: Vec::new() };
        let mut tx = dest.pool.begin().await?;
        // Rows a server of the destination may have written on its first start (its
        // fleet id, settings) give way to the fleet's own.
        sqlx::query(&format!(
            "DELETE FROM meta WHERE key NOT IN ('{}')",
            OWN_META.join("', '")
        ))
        .execute(&mut *tx)
        .await?;
        for table in TABLES {
            let rows = self.read(table, &mut *self.pool.acquire().await?).await?;
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                insert(table, chunk, &mut tx).await?;
            }
            report
                .tables
                .push((table.name.to_string(), rows.len() as u64));
        }
        if dest.engine == super::Engine::Postgres {
            for table in super::migrations::IDENTITY_TABLES {
                // The next id the sequence hands out follows the copied ones.
                sqlx::query(&format!(
                    "SELECT 1 FROM (SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)) AS moved"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        for table in TABLES {
            let ours = self.read(table, &mut *self.pool.acquire().await?).await?;
            let theirs = dest.read(table, &mut *dest.pool.acquire().await?).await?;
            if ours != theirs {
                let at = ours
                    .iter()
                    .zip(&theirs)
                    .position(|(a, b)| a != b)
                    .unwrap_or(ours.len().min(theirs.len()));
                return Err(StoreError::Corrupt(
                    dest.location().to_string(),
                    format!(
                        "the copy of {} differs from the source at row {} ({} rows here, {} \
                         there): drop the destination and copy again",
                        table.name,
                        at + 1,
                        ours.len(),
                        theirs.len()
                    ),
                ));
            }
        }
        Ok(report)
    }

    /// Every row of `table` in key order (meta without the store's own keys).
    async fn read(
        &self,
        table: &Table,
        conn: &mut sqlx::AnyConnection,
    ) -> Result<Vec<Vec<Cell>>, StoreError> {
        let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
        let filter = if table.name == "meta" {
            format!("WHERE key NOT IN ('{}')", OWN_META.join("', '"))
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT {} FROM {} {filter} ORDER BY {}",
            columns.join(", "),
            table.name,
            table.key
        );
        let rows: Vec<AnyRow> = sqlx::query(&sql).fetch_all(&mut *conn).await?;
        rows.iter()
            .map(|row| {
                table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, kind))| {
                        Ok(match kind {
                            Text => Cell::Text(row.try_get(i)?),
                            Int => Cell::Int(row.try_get(i)?),
                            Blob => Cell::Blob(row.try_get(i)?),
                        })
                    })
                    .collect::<Result<Vec<Cell>, sqlx::Error>>()
                    .map_err(StoreError::from)
            })
            .collect()
    }
}

/// One multi-row INSERT of `rows` into `table`.
async fn insert(
    table: &Table,
    rows: &[Vec<Cell>],
    conn: &mut sqlx::AnyConnection,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = table.columns.len();
    let values: Vec<String> = (0..rows.len())
        .map(|r| {
            let marks: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
            format!("({})", marks.join(", "))
        })
        .collect();
    let columns: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {}",
        table.name,
        columns.join(", "),
        values.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for row in rows {
        for cell in row {
            query = match cell {
                Cell::Text(v) => query.bind(v.clone()),
                Cell::Int(v) => query.bind(*v),
                Cell::Blob(v) => query.bind(v.clone()),
            };
        }
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tables a copy leaves alone: the destination keeps its own migration record, the
    /// prune mark is empty outside a prune,
    /// and the replicas are the processes of the source, which stop before a copy.
    const NOT_COPIED: &[&str] = &["schema_migrations", "audit_prune", "replicas"];

    /// Every table of a new store is either copied or named as not copied, and every
    /// copied column exists: a migration that adds one must say what a copy does with it.
    #[tokio::test]
    async fn the_copy_covers_every_table_and_column_of_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        for name in &tables {
            let listed =
                TABLES.iter().any(|t| t.name == name) || NOT_COPIED.contains(&name.as_str());
            assert!(listed, "table {name} is neither copied nor in NOT_COPIED");
            let Some(table) = TABLES.iter().find(|t| t.name == name) else {
                continue;
            };
            let columns: Vec<String> =
                sqlx::query_scalar(&format!("SELECT name FROM pragma_table_info('{name}')"))
                    .fetch_all(&store.pool)
                    .await
                    .unwrap();
            let copied: Vec<&str> = table.columns.iter().map(|(c, _)| *c).collect();
            assert_eq!(copied, columns, "columns of {name}");
        }
        for t in TABLES {
            assert!(
                tables.iter().any(|n| n == t.name),
                "{} is not in the schema",
                t.name
            );
        }
    }

    /// A fleet with something in every kind of table, copied from SQLite into the
    /// store the test run is on (PostgreSQL under FLOTILLA_TEST_STORE=postgres, else
    /// another SQLite file), reads back the same through the store's own API.
    #[tokio::test]
    async fn a_fleet_copied_to_another_store_reads_back_the_same_and_continues() {
        use crate::api::{
            AccessRole, AuditQuery, Event, EventKind, EventQuery, MachineSpec, Role, SwarmSpec,
            SwarmState, TokenSpec,
        };
        let home = tempfile::tempdir().unwrap();
        let source = Store::open(home.path()).await.unwrap();
        for name in ["web1", "web2", "db1"] {
            let m = crate::api::Machine::planned(&MachineSpec::new(name, "container"), 1);
            source.insert_machine(&m).await.unwrap();
            source
                .put_secret(
                    &super::super::machine_owner(name),
                    "ssh_key",
                    &format!("KEY-{name}"),
                )
                .await
                .unwrap();
        }
        source
            .set_host_key("web1", Some(("ssh-ed25519 AAAA", "SHA256:x")))
            .await
            .unwrap();
        source
            .put_cert("fleet", "ca", "-----BEGIN CERTIFICATE-----")
            .await
            .unwrap();
        let token = source
            .create_token(&TokenSpec {
                name: "ops".into(),
                role: AccessRole::Operator,
                ttl_secs: None,
            })
            .await
            .unwrap();
        for i in 0..3 {
            source
                .audit_append(&super::super::AuditRecord {
                    token_id: None,
                    actor: Some("admin".into()),
                    remote: None,
                    action: format!("action {i}"),
                    target: None,
                    status: 200,
                    outcome: "ok".into(),
                })
                .await
                .unwrap();
        }
        let mut events: Vec<Event> = (0..5)
            .map(|i| Event {
                seq: 0,
                time_ms: crate::api::now_ms() + i,
                kind: EventKind::MachineCreated {
                    machine: format!("m{i}"),
                },
            })
            .collect();
        source.insert_events(&mut events).await.unwrap();
        let swarm = crate::api::Swarm {
            state: SwarmState::Ready,
            cluster_id: Some("c1".into()),
            ..crate::api::Swarm::planned(&SwarmSpec::new("prod", "container", 1, 1), 1)
        };
        source.insert_swarm(&swarm).await.unwrap();
        source
            .add_swarm_node("prod", "web1", Role::Manager, false)
            .await
            .unwrap();
        let fleet_id = source.fleet_id().await.unwrap();

        let elsewhere = tempfile::tempdir().unwrap();
        let mut config = crate::store::tests::config(elsewhere.path()).await;
        if config.url.is_none() {
            config.url = Some(format!(
                "sqlite:{}",
                elsewhere.path().join("copy.db").display()
            ));
        }
        config.master_key_file = Some(home.path().join("master.key"));
        let dest = Store::open_with(elsewhere.path(), &config).await.unwrap();
        let report = source.copy_into(&dest).await.unwrap();
        let count = |t: &str| report.tables.iter().find(|(n, _)| n == t).map(|(_, n)| *n);
        assert_eq!(count("machines"), Some(3));
        assert_eq!(count("events"), Some(5));
        assert_eq!(count("audit"), Some(3));

        // Through the API, as a server on the copy would read it.
        assert_eq!(
            dest.machines().await.unwrap(),
            source.machines().await.unwrap()
        );
        assert_eq!(
            dest.machine("web1").await.unwrap().host_key.as_deref(),
            Some("ssh-ed25519 AAAA")
        );
        assert_eq!(
            dest.secret(&super::super::machine_owner("db1"), "ssh_key")
                .await
                .unwrap()
                .as_deref(),
            Some("KEY-db1")
        );
        assert_eq!(dest.fleet_id().await.unwrap(), fleet_id);
        let found = dest.token_by_secret(&token.token).await.unwrap().unwrap();
        assert_eq!(found.name, "ops");
        let audit = dest.audit(&AuditQuery::default()).await.unwrap();
        assert_eq!(audit.len(), 3);
        let page = dest.events(&EventQuery::default()).await.unwrap();
        assert_eq!(
            page.events,
            source.events(&EventQuery::default()).await.unwrap().events
        );
        let prod = dest.swarm("prod").await.unwrap().unwrap();
        assert_eq!(prod.nodes.len(), 1);

        // The copy goes on where the source stopped: new ids follow the copied ones.
        let mut next = vec![events[0].clone()];
        dest.insert_events(&mut next).await.unwrap();
        assert_eq!(next[0].seq, events[4].seq + 1);
        // And a store that holds a fleet is not copied over.
        let err = source.copy_into(&dest).await.unwrap_err().to_string();
        assert!(err.contains("already holds a fleet"), "{err}");
    }
}
