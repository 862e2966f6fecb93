//! Machine rows: the desired spec plus the last observed facts.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, Engine, Store, StoreError};
use crate::api::{Machine, MachineBrief, MachineSpec, MachineState};

/// A machine with what only the engine needs (the pinned host key line).
#[derive(Debug, Clone)]
pub struct MachineRecord {
    pub machine: Machine,
    pub host_key: Option<String>,
}

const COLUMNS: &str =
    "name, driver, state, error, ip, url, docker_version, swarm, hostname, ssh_user, \
     ssh_port, host_key, host_key_fp, spec_json, driver_data_json, created_ms, observed_ms";

/// A listed row: every column a [`Machine`] shows, with the spec and driver data as
/// the JSON objects they are (SQLite's `json()` embeds them), so a list parses each
/// once instead of as escaped text and then again.
#[derive(serde::Deserialize)]
struct ListedRow {
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
    spec: MachineSpec,
    driver_data: serde_json::Value,
    created_ms: i64,
    observed_ms: i64,
}

/// A machine in brief as listed: the labels straight out of the spec.
#[derive(serde::Deserialize)]
struct BriefRow {
    name: String,
    driver: String,
    state: String,
    error: Option<String>,
    ip: Option<String>,
    url: Option<String>,
    docker_version: Option<String>,
    swarm: Option<String>,
    observed_ms: i64,
    labels: Option<Vec<String>>,
}

fn brief_object(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "json_object('name', name, 'driver', driver, 'state', state, \
             'error', error, 'ip', ip, 'url', url, 'docker_version', docker_version, \
             'swarm', swarm, 'observed_ms', observed_ms, \
             'labels', json_extract(spec_json, '$.engine.labels'))"
        }
        Engine::Postgres => {
            "json_build_object('name', name, 'driver', driver, 'state', state, \
             'error', error, 'ip', ip, 'url', url, 'docker_version', docker_version, \
             'swarm', swarm, 'observed_ms', observed_ms, \
             'labels', spec_json::json->'engine'->'labels')"
        }
    }
}

/// The object [`ListedRow`] is read from, per engine, for [`super::batch::json_rows`].
fn listed_object(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "json_object('name', name, 'driver', driver, 'state', state, \
             'error', error, 'ip', ip, 'url', url, 'docker_version', docker_version, \
             'swarm', swarm, 'hostname', hostname, 'ssh_user', ssh_user, \
             'ssh_port', ssh_port, 'host_key_fp', host_key_fp, 'spec', json(spec_json), \
             'driver_data', json(driver_data_json), 'created_ms', created_ms, \
             'observed_ms', observed_ms)"
        }
        Engine::Postgres => {
            "json_build_object('name', name, 'driver', driver, 'state', state, \
             'error', error, 'ip', ip, 'url', url, 'docker_version', docker_version, \
             'swarm', swarm, 'hostname', hostname, 'ssh_user', ssh_user, \
             'ssh_port', ssh_port, 'host_key_fp', host_key_fp, 'spec', spec_json::json, \
             'driver_data', driver_data_json::json, 'created_ms', created_ms, \
             'observed_ms', observed_ms)"
        }
    }
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
    let machine = ListedRow {
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
        spec,
        driver_data,
        created_ms: row.try_get("created_ms")?,
        observed_ms: row.try_get("observed_ms")?,
        name,
    }
    .into_machine()?;
    Ok(MachineRecord {
        machine,
        host_key: row.try_get("host_key")?,
    })
}

impl ListedRow {
    fn into_machine(self) -> Result<Machine, StoreError> {
        let state = MachineState::parse(&self.state).ok_or_else(|| {
            StoreError::Corrupt(self.name.clone(), format!("unknown state {:?}", self.state))
        })?;
        Ok(Machine {
            driver: self.driver,
            state,
            error: self.error,
            ip: self.ip,
            url: self.url,
            docker_version: self.docker_version,
            swarm: self.swarm,
            hostname: self.hostname,
            ssh_user: self.ssh_user,
            ssh_port: self.ssh_port.clamp(0, u16::MAX as i64) as u16,
            host_key_fingerprint: self.host_key_fp,
            spec: self.spec,
            driver_data: self.driver_data,
            created_ms: self.created_ms,
            observed_ms: self.observed_ms,
            name: self.name,
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

impl Store {
    /// Records a new machine's desired state. A name already taken is `Duplicate`.
    pub async fn insert_machine(&self, m: &Machine) -> Result<(), StoreError> {
        let spec = serde_json::to_string(&m.spec)
            .map_err(|e| StoreError::Corrupt(m.name.clone(), e.to_string()))?;
        let res = sqlx::query(
            "INSERT INTO machines (name, driver, state, error, ip, url, docker_version, swarm, hostname, \
             ssh_user, ssh_port, spec_json, driver_data_json, created_ms, observed_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
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
        let listed: Result<Vec<ListedRow>, StoreError> = super::batch::json_rows(
            &self.pool,
            self.engine,
            listed_object(self.engine),
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

    /// Every machine in brief, by name: no spec or driver data is read or parsed, so a
    /// list of thousands stays quick.
    pub async fn machine_briefs(&self) -> Result<Vec<MachineBrief>, StoreError> {
        let rows: Vec<BriefRow> = super::batch::json_rows(
            &self.pool,
            self.engine,
            brief_object(self.engine),
            "machines",
            "name",
        )
        .await?;
        rows.into_iter()
            .map(|r| {
                let state = MachineState::parse(&r.state).ok_or_else(|| {
                    StoreError::Corrupt(r.name.clone(), format!("unknown state {:?}", r.state))
                })?;
                Ok(MachineBrief {
                    name: r.name,
                    driver: r.driver,
                    state,
                    error: r.error,
                    ip: r.ip,
                    url: r.url,
                    docker_version: r.docker_version,
                    swarm: r.swarm,
                    observed_ms: r.observed_ms,
                    labels: r.labels.unwrap_or_default(),
                })
            })
            .collect()
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
    pub async fn versions(&self) -> Result<(u64, u64), StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT key, value FROM meta WHERE key IN ('machines_version', 'tokens_version')",
        )
        .fetch_all(&self.pool)
        .await?;
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
        update!(self, name, "spec_json = $1", json)
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
