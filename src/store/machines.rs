//! Machine rows: the desired spec plus the last observed facts.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, Engine, Store, StoreError};
use crate::api::{HealthBrief, HealthStatus, Machine, MachineBrief, MachineSpec, MachineState};

/// A machine with what only the engine needs (the pinned host key line).
#[derive(Debug, Clone)]
pub struct MachineRecord {
    pub machine: Machine,
    pub host_key: Option<String>,
}

const COLUMNS: &str =
    "name, driver, state, error, ip, url, docker_version, swarm, hostname, ssh_user, \
     ssh_port, host_key, host_key_fp, spec_json, driver_data_json, created_ms, observed_ms";

/// The plain columns of a listed machine (what a [`Machine`] shows besides its spec
/// and driver data), in the order [`listed_item`] gives them.
#[derive(serde::Deserialize)]
struct ListedColumns {
    name: String,
    driver: String,
    state: String,
    error: Option<String>,
    ip: Option<String>,
    url: Option<String>,
    docker_version: Option<String>,
    swarm: Option<String>,
    hostname: Option<String>,
    ssh_user: String,
    ssh_port: i64,
    host_key_fp: Option<String>,
    created_ms: i64,
    observed_ms: i64,
}

/// A listed row as [`listed_item`] makes it: `[columns, spec, driver data]`, the two
/// JSON columns pasted in as they are stored, so each is parsed once, here.
#[derive(serde::Deserialize)]
struct ListedRow(ListedColumns, MachineSpec, serde_json::Value);

/// The plain columns of a machine in brief, with its health's (none: never recorded),
/// in the order [`brief_item`] gives them.
#[derive(serde::Deserialize)]
struct BriefColumns {
    name: String,
    driver: String,
    state: String,
    error: Option<String>,
    ip: Option<String>,
    url: Option<String>,
    docker_version: Option<String>,
    swarm: Option<String>,
    observed_ms: i64,
    health: Option<String>,
    checked_ms: Option<i64>,
}

/// A machine in brief as [`brief_item`] makes it: `[columns, labels, health reasons]`,
/// the two arrays kept apart from the spec and the health sample (`labels_json`,
/// `reasons_json`), so neither is read.
#[derive(serde::Deserialize)]
struct BriefRow(BriefColumns, Vec<String>, Vec<String>);

/// The columns of [`BriefRow`] in its order, for a direct read on SQLite: each table
/// through its brief index (migration `brief_indexes`), which holds every column asked
/// for, so no row is read. Named, not left to the planner, which without statistics
/// looks health up by its key and reads the row.
const BRIEF_SELECT: &str = "SELECT m.name, m.driver, m.state, m.error, m.ip, m.url, \
     m.docker_version, m.swarm, m.observed_ms, h.status, h.checked_ms, m.labels_json, \
     h.reasons_json FROM machines m INDEXED BY machines_brief \
     LEFT JOIN health h INDEXED BY health_brief ON h.machine = m.name";

impl BriefRow {
    /// A row of [`BRIEF_SELECT`].
    fn read(row: &rusqlite::Row<'_>) -> Result<BriefRow, StoreError> {
        let name: String = row.get(0)?;
        let labels = super::direct::strings(row, 11, &name)?;
        let reasons = super::direct::strings(row, 12, &name)?;
        Ok(BriefRow(
            BriefColumns {
                name,
                driver: row.get(1)?,
                state: row.get(2)?,
                error: row.get(3)?,
                ip: row.get(4)?,
                url: row.get(5)?,
                docker_version: row.get(6)?,
                swarm: row.get(7)?,
                observed_ms: row.get(8)?,
                health: row.get(9)?,
                checked_ms: row.get(10)?,
            },
            labels,
            reasons,
        ))
    }
}

/// `[[<fields>...], <JSON columns>...]` as the engine spells it: `fields` become a
/// JSON array of their values (escaped by the engine; serde reads a struct from its
/// fields in declaration order, so `fields` lists a struct's fields in that order, and
/// no key is written or read), `json_columns` (holding JSON) are pasted in.
fn array_item(engine: Engine, fields: &[&str], json_columns: &[&str]) -> String {
    let values = fields.join(", ");
    let object = match engine {
        Engine::Sqlite => format!("json_array({values})"),
        Engine::Postgres => format!("json_build_array({values})::text"),
    };
    let mut item = format!("'[' || {object}");
    for c in json_columns {
        item.push_str(&format!(" || ',' || {c}"));
    }
    item.push_str(" || ']'");
    item
}

/// The item [`BriefRow`] is read from, for [`super::batch::json_rows`] over
/// [`brief_from`].
fn brief_item(engine: Engine) -> String {
    array_item(
        engine,
        &[
            "name",
            "driver",
            "state",
            "error",
            "ip",
            "url",
            "docker_version",
            "swarm",
            "observed_ms",
            "health",
            "checked_ms",
        ],
        &["labels_json", "reasons_json"],
    )
}

/// Machines with their health's brief columns: one pass over both tables.
fn brief_from(engine: Engine) -> String {
    format!(
        "(SELECT {} m.name AS name, m.driver AS driver, m.state AS state, m.error AS error, \
         m.ip AS ip, m.url AS url, m.docker_version AS docker_version, m.swarm AS swarm, \
         m.observed_ms AS observed_ms, m.labels_json AS labels_json, h.status AS health, \
         h.checked_ms AS checked_ms, COALESCE(h.reasons_json, '[]') AS reasons_json \
         FROM machines m LEFT JOIN health h ON h.machine = m.name)",
        super::batch::rowid_column(engine, "m")
    )
}

/// The item [`ListedRow`] is read from, for [`super::batch::json_rows`].
fn listed_item(engine: Engine) -> String {
    array_item(
        engine,
        &[
            "name",
            "driver",
            "state",
            "error",
            "ip",
            "url",
            "docker_version",
            "swarm",
            "hostname",
            "ssh_user",
            "ssh_port",
            "host_key_fp",
            "created_ms",
            "observed_ms",
        ],
        &["spec_json", "driver_data_json"],
    )
}

/// A machine read one at a time: its spec and driver data come as text and are
/// parsed here (a damaged one is named).
fn from_row(row: &AnyRow) -> Result<MachineRecord, StoreError> {
    let name: String = row.try_get("name")?;
    let corrupt = |what: String| StoreError::Corrupt(name.clone(), what);
    let spec_json: String = row.try_get("spec_json")?;
    let spec: MachineSpec =
        serde_json::from_str(&spec_json).map_err(|e| corrupt(format!("spec: {e}")))?;
    let driver_data_json: String = row.try_get("driver_data_json")?;
    let driver_data = serde_json::from_str(&driver_data_json)
        .map_err(|e| corrupt(format!("driver data: {e}")))?;
    let columns = ListedColumns {
        driver: row.try_get("driver")?,
        state: row.try_get("state")?,
        error: row.try_get("error")?,
        ip: row.try_get("ip")?,
        url: row.try_get("url")?,
        docker_version: row.try_get("docker_version")?,
        swarm: row.try_get("swarm")?,
        hostname: row.try_get("hostname")?,
        ssh_user: row.try_get("ssh_user")?,
        ssh_port: row.try_get("ssh_port")?,
        host_key_fp: row.try_get("host_key_fp")?,
        created_ms: row.try_get("created_ms")?,
        observed_ms: row.try_get("observed_ms")?,
        name,
    };
    let machine = ListedRow(columns, spec, driver_data).into_machine()?;
    Ok(MachineRecord {
        machine,
        host_key: row.try_get("host_key")?,
    })
}

/// A stored state name, or the row named as damaged.
fn parse_state(name: &str, state: &str) -> Result<MachineState, StoreError> {
    MachineState::parse(state)
        .ok_or_else(|| StoreError::Corrupt(name.to_string(), format!("unknown state {state:?}")))
}

/// The columns of [`ListedRow`] in its order, for a direct read on SQLite.
const LISTED_SELECT: &str = "SELECT name, driver, state, error, ip, url, docker_version, \
     swarm, hostname, ssh_user, ssh_port, host_key_fp, created_ms, observed_ms, spec_json, \
     driver_data_json FROM machines";

impl ListedRow {
    /// A row of [`LISTED_SELECT`]; a damaged spec or driver data is named.
    fn read(row: &rusqlite::Row<'_>) -> Result<ListedRow, StoreError> {
        let name: String = row.get(0)?;
        let spec: MachineSpec = super::direct::json(row, 14, &name, "spec")?;
        let driver_data = super::direct::json(row, 15, &name, "driver data")?;
        Ok(ListedRow(
            ListedColumns {
                driver: row.get(1)?,
                state: row.get(2)?,
                error: row.get(3)?,
                ip: row.get(4)?,
                url: row.get(5)?,
                docker_version: row.get(6)?,
                swarm: row.get(7)?,
                hostname: row.get(8)?,
                ssh_user: row.get(9)?,
                ssh_port: row.get(10)?,
                host_key_fp: row.get(11)?,
                created_ms: row.get(12)?,
                observed_ms: row.get(13)?,
                name,
            },
            spec,
            driver_data,
        ))
    }

    fn into_machine(self) -> Result<Machine, StoreError> {
        let ListedRow(c, spec, driver_data) = self;
        Ok(Machine {
            state: parse_state(&c.name, &c.state)?,
            driver: c.driver,
            error: c.error,
            ip: c.ip,
            url: c.url,
            docker_version: c.docker_version,
            swarm: c.swarm,
            hostname: c.hostname,
            ssh_user: c.ssh_user,
            ssh_port: c.ssh_port.clamp(0, u16::MAX as i64) as u16,
            host_key_fingerprint: c.host_key_fp,
            spec,
            driver_data,
            created_ms: c.created_ms,
            observed_ms: c.observed_ms,
            name: c.name,
        })
    }
}

/// `UPDATE machines SET <set>, observed_ms = now WHERE name = ?`, binding the values in order.
macro_rules! update {
    ($store:expr, $name:expr, $set:literal, $($value:expr),+) => {{
        // $set numbers its own placeholders from $1; the two after it follow on.
        let n = [$(stringify!($value)),+].len();
        let sql = format!("UPDATE machines SET {}, observed_ms = ${} WHERE name = ${}", $set, n + 1, n + 2);
        let res = sqlx::query(&sql)
            $(.bind($value))+
            .bind(now_ms())
            .bind($name)
            .execute(&$store.pool)
            .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound($name.to_string()));
        }
        Ok(())
    }};
}

/// The spec's engine labels as stored apart (`labels_json`) for lists in brief.
fn labels_json(name: &str, spec: &MachineSpec) -> Result<String, StoreError> {
    serde_json::to_string(&spec.engine.labels)
        .map_err(|e| StoreError::Corrupt(name.to_string(), e.to_string()))
}

impl Store {
    /// Records a new machine's desired state. A name already taken is `Duplicate`.
    pub async fn insert_machine(&self, m: &Machine) -> Result<(), StoreError> {
        let spec = serde_json::to_string(&m.spec)
            .map_err(|e| StoreError::Corrupt(m.name.clone(), e.to_string()))?;
        let labels = labels_json(&m.name, &m.spec)?;
        let res = sqlx::query(
            "INSERT INTO machines (name, driver, state, error, ip, url, docker_version, swarm, hostname, \
             ssh_user, ssh_port, spec_json, driver_data_json, created_ms, observed_ms, labels_json) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        )
        .bind(&m.name)
        .bind(&m.driver)
        .bind(m.state.as_str())
        .bind(&m.error)
        .bind(&m.ip)
        .bind(&m.url)
        .bind(&m.docker_version)
        .bind(&m.swarm)
        .bind(&m.hostname)
        .bind(&m.ssh_user)
        .bind(m.ssh_port as i64)
        .bind(spec)
        .bind(m.driver_data.to_string())
        .bind(m.created_ms)
        .bind(m.observed_ms)
        .bind(labels)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {
                Err(StoreError::Duplicate(m.name.clone()))
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn machine(&self, name: &str) -> Result<MachineRecord, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM machines WHERE name = $1"))
            .bind(name)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(name.to_string()))?;
        from_row(&row)
    }

    pub async fn machines(&self) -> Result<Vec<Machine>, StoreError> {
        if let Some(file) = &self.sqlite_file {
            let mut machines = super::direct::rows(file.clone(), LISTED_SELECT, ListedRow::read)
                .await?
                .into_iter()
                .map(ListedRow::into_machine)
                .collect::<Result<Vec<_>, _>>()?;
            machines.sort_by(|a, b| a.name.cmp(&b.name));
            return Ok(machines);
        }
        let listed: Result<Vec<ListedRow>, StoreError> = super::batch::json_rows(
            &self.pool,
            self.engine,
            &listed_item(self.engine),
            "machines",
            "name",
        )
        .await;
        let mut machines = match listed {
            Ok(rows) => rows
                .into_iter()
                .map(ListedRow::into_machine)
                .collect::<Result<Vec<_>, _>>()?,
            // A damaged row fails the whole fast read without saying which: read row by
            // row, which names it.
            Err(StoreError::Sql(_) | StoreError::Corrupt(..)) => {
                let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM machines ORDER BY name"))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|row| from_row(row).map(|r| r.machine))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Err(e) => return Err(e),
        };
        machines.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(machines)
    }

    /// Every machine in brief, by name, with its recorded health in brief: no spec,
    /// driver data or health sample is read or parsed, so a list of thousands stays
    /// quick.
    pub async fn machine_briefs(&self) -> Result<Vec<MachineBrief>, StoreError> {
        let rows: Vec<BriefRow> = match &self.sqlite_file {
            Some(file) => super::direct::rows(file.clone(), BRIEF_SELECT, BriefRow::read).await?,
            None => {
                let listed = super::batch::json_rows(
                    &self.pool,
                    self.engine,
                    &brief_item(self.engine),
                    &brief_from(self.engine),
                    "name",
                )
                .await;
                match listed {
                    Ok(rows) => rows,
                    // A damaged JSON column fails the whole chunk without saying whose:
                    // find it row by row.
                    Err(e @ StoreError::Corrupt(..)) => return Err(self.damaged_brief(e).await),
                    Err(e) => return Err(e),
                }
            }
        };
        let mut briefs = rows
            .into_iter()
            .map(|BriefRow(c, labels, reasons)| {
                let health = match c.health {
                    Some(status) => Some(HealthBrief {
                        status: HealthStatus::parse(&status).ok_or_else(|| {
                            StoreError::Corrupt(c.name.clone(), format!("health {status:?}"))
                        })?,
                        reasons,
                        checked_ms: c.checked_ms.unwrap_or(0),
                    }),
                    None => None,
                };
                Ok(MachineBrief {
                    state: parse_state(&c.name, &c.state)?,
                    name: c.name,
                    driver: c.driver,
                    error: c.error,
                    ip: c.ip,
                    url: c.url,
                    docker_version: c.docker_version,
                    swarm: c.swarm,
                    observed_ms: c.observed_ms,
                    labels,
                    health,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        briefs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(briefs)
    }

    /// The machine whose labels or health reasons cannot be read, named; `failed`
    /// (what the list said) when each reads.
    async fn damaged_brief(&self, failed: StoreError) -> StoreError {
        let rows: Result<Vec<(String, String, Option<String>)>, _> = sqlx::query_as(
            "SELECT m.name, m.labels_json, h.reasons_json FROM machines m \
             LEFT JOIN health h ON h.machine = m.name",
        )
        .fetch_all(&self.pool)
        .await;
        for (name, labels, reasons) in rows.unwrap_or_default() {
            for (column, text) in [("labels_json", Some(labels)), ("reasons_json", reasons)] {
                if let Some(Err(e)) = text.map(|t| serde_json::from_str::<Vec<String>>(&t)) {
                    return StoreError::Corrupt(name, format!("{column}: {e}"));
                }
            }
        }
        failed
    }

    /// Moves with every change to any machine row (a trigger counts them), from any
    /// process sharing the store.
    pub async fn machines_version(&self) -> Result<u64, StoreError> {
        Ok(self
            .meta("machines_version")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// `machines_version` and `tokens_version` in one read.
    /// A server reads them on every request: on SQLite in place (`direct::KeptReader`),
    /// through sqlx when that would wait.
    pub async fn versions(&self) -> Result<(u64, u64), StoreError> {
        const SQL: &str =
            "SELECT key, value FROM meta WHERE key IN ('machines_version', 'tokens_version')";
        let kept = self.kept_reader.as_ref().and_then(|r| {
            r.try_read(|conn| {
                let mut statement = conn.prepare_cached(SQL)?;
                let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<(String, String)>>>()
            })
        });
        let rows: Vec<(String, String)> = match kept {
            Some(rows) => rows,
            None => sqlx::query_as(SQL).fetch_all(&self.pool).await?,
        };
        let get = |key: &str| {
            rows.iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((get("machines_version"), get("tokens_version")))
    }

    pub async fn set_state(
        &self,
        name: &str,
        state: MachineState,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        update!(self, name, "state = $1, error = $2", state.as_str(), error)
    }

    pub async fn set_driver_data(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<(), StoreError> {
        update!(self, name, "driver_data_json = $1", data.to_string())
    }

    pub async fn set_address(
        &self,
        name: &str,
        ip: Option<&str>,
        url: Option<&str>,
    ) -> Result<(), StoreError> {
        update!(self, name, "ip = $1, url = $2", ip, url)
    }

    pub async fn set_docker_version(&self, name: &str, version: &str) -> Result<(), StoreError> {
        update!(self, name, "docker_version = $1", version)
    }

    pub async fn set_hostname(&self, name: &str, hostname: &str) -> Result<(), StoreError> {
        update!(self, name, "hostname = $1", hostname)
    }

    /// Rewrites the stored spec (sealing values a store made before kept in clear).
    pub async fn set_machine_spec(&self, name: &str, spec: &MachineSpec) -> Result<(), StoreError> {
        let json = serde_json::to_string(spec)
            .map_err(|e| StoreError::Corrupt(name.to_string(), e.to_string()))?;
        let labels = labels_json(name, spec)?;
        update!(self, name, "spec_json = $1, labels_json = $2", json, labels)
    }

    pub async fn set_ssh_port(&self, name: &str, port: u16) -> Result<(), StoreError> {
        update!(self, name, "ssh_port = $1", port as i64)
    }

    /// Pins (or with `None` forgets) the machine's SSH host key.
    pub async fn set_host_key(
        &self,
        name: &str,
        key: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let (line, fp) = key.map_or((None, None), |(l, f)| (Some(l), Some(f)));
        update!(self, name, "host_key = $1, host_key_fp = $2", line, fp)
    }

    /// Removes the machine's row with its secrets and certificates, in one transaction.
    pub async fn delete_machine(&self, name: &str) -> Result<(), StoreError> {
        let owner = machine_owner(name);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM machines WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        super::secrets::forget_owner_in(&mut tx, &owner).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The owner key of a machine's secrets and certificates.
pub fn machine_owner(name: &str) -> String {
    format!("machine:{name}")
}
