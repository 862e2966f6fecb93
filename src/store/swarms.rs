//! Swarm rows: the desired shape, the cluster's id, and one row per node. A node row
//! is written before its machine is made, so a rerun after a crash finds the plan and
//! converges to it instead of making other machines. Join tokens are sealed secrets of
//! the owner `swarm:NAME`.

use sqlx::any::AnyRow;
use sqlx::Row;

use super::{now_ms, Store, StoreError};
use crate::api::{MachineState, Role, Swarm, SwarmNode, SwarmSpec, SwarmState};

/// The owner key of a swarm's secrets (its join tokens).
pub fn swarm_owner(name: &str) -> String {
    format!("swarm:{name}")
}

const SWARM_COLUMNS: &str = "name, driver, state, error, cluster_id, leader, spec_json, \
     report_json, created_ms, observed_ms";

const NODE_SELECT: &str = "SELECT n.machine, n.swarm, n.role, n.node_id, n.status, \
     n.availability, n.reachability, n.leader, n.adopted, n.leaving, n.created_ms, \
     m.state AS machine_state FROM swarm_nodes n LEFT JOIN machines m ON m.name = n.machine";

/// A node row with what only the engine needs.
#[derive(Debug, Clone)]
pub struct NodeRecord {
    pub swarm: String,
    pub node: SwarmNode,
    /// Chosen for removal by a scale-down that has not finished.
    pub leaving: bool,
}

fn node_from_row(row: &AnyRow) -> Result<NodeRecord, StoreError> {
    let machine: String = row.try_get("machine")?;
    let corrupt = |what: String| StoreError::Corrupt(machine.clone(), what);
    let role: String = row.try_get("role")?;
    let machine_state: Option<String> = row.try_get("machine_state")?;
    let machine_state = match machine_state {
        Some(s) => {
            Some(MachineState::parse(&s).ok_or_else(|| corrupt(format!("unknown state {s:?}")))?)
        }
        None => None,
    };
    Ok(NodeRecord {
        swarm: row.try_get("swarm")?,
        leaving: row.try_get::<i64, _>("leaving")? != 0,
        node: SwarmNode {
            role: Role::parse(&role).ok_or_else(|| corrupt(format!("unknown role {role:?}")))?,
            node_id: row.try_get("node_id")?,
            machine_state,
            status: row.try_get("status")?,
            availability: row.try_get("availability")?,
            reachability: row.try_get("reachability")?,
            leader: row.try_get::<i64, _>("leader")? != 0,
            adopted: row.try_get::<i64, _>("adopted")? != 0,
            created_ms: row.try_get("created_ms")?,
            machine: machine.clone(),
        },
    })
}

fn swarm_from_row(row: &AnyRow, nodes: Vec<SwarmNode>) -> Result<Swarm, StoreError> {
    let name: String = row.try_get("name")?;
    let corrupt = |what: String| StoreError::Corrupt(format!("swarm {name}"), what);
    let state: String = row.try_get("state")?;
    let spec: SwarmSpec = serde_json::from_str(&row.try_get::<String, _>("spec_json")?)
        .map_err(|e| corrupt(format!("spec: {e}")))?;
    let report: Vec<String> = serde_json::from_str(&row.try_get::<String, _>("report_json")?)
        .map_err(|e| corrupt(format!("report: {e}")))?;
    Ok(Swarm {
        driver: row.try_get("driver")?,
        state: SwarmState::parse(&state)
            .ok_or_else(|| corrupt(format!("unknown state {state:?}")))?,
        error: row.try_get("error")?,
        cluster_id: row.try_get("cluster_id")?,
        leader: row.try_get("leader")?,
        spec,
        report,
        nodes,
        created_ms: row.try_get("created_ms")?,
        observed_ms: row.try_get("observed_ms")?,
        name,
    })
}

/// Managers first, then in the order they were planned.
fn sort_nodes(nodes: &mut [SwarmNode]) {
    nodes.sort_by(|a, b| {
        (a.role, a.created_ms, &a.machine).cmp(&(b.role, b.created_ms, &b.machine))
    });
}

/// `UPDATE swarms SET <set>, observed_ms = now WHERE name = ?`; false when no such swarm.
macro_rules! update_swarm {
    ($store:expr, $name:expr, $set:literal, $($value:expr),+) => {{
        // $set numbers its own placeholders from $1; the two after it follow on.
        let n = [$(stringify!($value)),+].len();
        let sql = format!("UPDATE swarms SET {}, observed_ms = ${} WHERE name = ${}", $set, n + 1, n + 2);
        let res = sqlx::query(&sql)
            $(.bind($value))+
            .bind(now_ms())
            .bind($name)
            .execute(&$store.pool)
            .await?;
        Ok(res.rows_affected() > 0)
    }};
}

macro_rules! update_node {
    ($store:expr, $machine:expr, $set:literal, $($value:expr),+) => {{
        let n = [$(stringify!($value)),+].len();
        let sql = format!("UPDATE swarm_nodes SET {} WHERE machine = ${}", $set, n + 1);
        sqlx::query(&sql)
            $(.bind($value))+
            .bind($machine)
            .execute(&$store.pool)
            .await?;
        Ok(())
    }};
}

impl Store {
    /// Records a new swarm's desired shape; false when the name is taken.
    pub async fn insert_swarm(&self, s: &Swarm) -> Result<bool, StoreError> {
        let spec = serde_json::to_string(&s.spec)
            .map_err(|e| StoreError::Corrupt(format!("swarm {}", s.name), e.to_string()))?;
        let res = sqlx::query(
            "INSERT INTO swarms (name, driver, state, error, cluster_id, leader, spec_json, report_json, created_ms, observed_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, '[]', $8, $9)",
        )
        .bind(&s.name)
        .bind(&s.driver)
        .bind(s.state.as_str())
        .bind(&s.error)
        .bind(&s.cluster_id)
        .bind(&s.leader)
        .bind(spec)
        .bind(s.created_ms)
        .bind(s.observed_ms)
        .execute(&self.pool)
        .await;
        match res {
            Ok(_) => Ok(true),
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn swarm(&self, name: &str) -> Result<Option<Swarm>, StoreError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {SWARM_COLUMNS} FROM swarms WHERE name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let mut nodes: Vec<SwarmNode> = self
            .swarm_node_records(name)
            .await?
            .into_iter()
            .map(|r| r.node)
            .collect();
        sort_nodes(&mut nodes);
        swarm_from_row(&row, nodes).map(Some)
    }

    pub async fn swarms(&self) -> Result<Vec<Swarm>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {SWARM_COLUMNS} FROM swarms ORDER BY name"))
            .fetch_all(&self.pool)
            .await?;
        let node_rows = sqlx::query(NODE_SELECT).fetch_all(&self.pool).await?;
        let mut all: Vec<NodeRecord> = node_rows
            .iter()
            .map(node_from_row)
            .collect::<Result<_, _>>()?;
        rows.iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                let mut nodes: Vec<SwarmNode> = Vec::new();
                all.retain(|r| {
                    if r.swarm == name {
                        nodes.push(r.node.clone());
                        false
                    } else {
                        true
                    }
                });
                sort_nodes(&mut nodes);
                swarm_from_row(row, nodes)
            })
            .collect()
    }

    /// A swarm's node rows, with whether each is leaving.
    pub async fn swarm_node_records(&self, swarm: &str) -> Result<Vec<NodeRecord>, StoreError> {
        let rows = sqlx::query(&format!("{NODE_SELECT} WHERE n.swarm = $1"))
            .bind(swarm)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(node_from_row).collect()
    }

    /// The swarm node row of a machine, in whichever swarm.
    pub async fn swarm_node(&self, machine: &str) -> Result<Option<NodeRecord>, StoreError> {
        let row = sqlx::query(&format!("{NODE_SELECT} WHERE n.machine = $1"))
            .bind(machine)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(node_from_row).transpose()
    }

    pub async fn set_swarm_spec(&self, name: &str, spec: &SwarmSpec) -> Result<bool, StoreError> {
        let json = serde_json::to_string(spec)
            .map_err(|e| StoreError::Corrupt(format!("swarm {name}"), e.to_string()))?;
        update_swarm!(self, name, "spec_json = $1", json)
    }

    pub async fn set_swarm_state(
        &self,
        name: &str,
        state: SwarmState,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        update_swarm!(self, name, "state = $1, error = $2", state.as_str(), error)
    }

    pub async fn set_swarm_cluster(
        &self,
        name: &str,
        cluster_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        update_swarm!(self, name, "cluster_id = $1", cluster_id)
    }

    pub async fn set_swarm_leader(
        &self,
        name: &str,
        leader: Option<&str>,
    ) -> Result<bool, StoreError> {
        update_swarm!(self, name, "leader = $1", leader)
    }

    /// What the last operation on the swarm wants the user to know.
    pub async fn set_swarm_report(
        &self,
        name: &str,
        report: &[String],
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(report)
            .map_err(|e| StoreError::Corrupt(format!("swarm {name}"), e.to_string()))?;
        update_swarm!(self, name, "report_json = $1", json)
    }

    /// Plans a node: its row exists before its machine does. A machine already planned
    /// for this swarm keeps its row; one in another swarm is `Duplicate`.
    pub async fn add_swarm_node(
        &self,
        swarm: &str,
        machine: &str,
        role: Role,
        adopted: bool,
    ) -> Result<(), StoreError> {
        if let Some(existing) = self.swarm_node(machine).await? {
            if existing.swarm == swarm {
                return Ok(());
            }
            return Err(StoreError::Duplicate(machine.to_string()));
        }
        sqlx::query(
            "INSERT INTO swarm_nodes (machine, swarm, role, adopted, created_ms) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(machine)
        .bind(swarm)
        .bind(role.as_str())
        .bind(adopted as i64)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn set_node_id(
        &self,
        machine: &str,
        node_id: Option<&str>,
    ) -> Result<(), StoreError> {
        update_node!(self, machine, "node_id = $1", node_id)
    }

    pub async fn set_node_role(&self, machine: &str, role: Role) -> Result<(), StoreError> {
        update_node!(self, machine, "role = $1", role.as_str())
    }

    pub async fn set_node_leaving(&self, machine: &str, leaving: bool) -> Result<(), StoreError> {
        update_node!(self, machine, "leaving = $1", leaving as i64)
    }

    /// What a manager last said about the node.
    pub async fn set_node_observed(
        &self,
        machine: &str,
        status: Option<&str>,
        availability: Option<&str>,
        reachability: Option<&str>,
        leader: bool,
    ) -> Result<(), StoreError> {
        update_node!(
            self,
            machine,
            "status = $1, availability = $2, reachability = $3, leader = $4",
            status,
            availability,
            reachability,
            leader as i64
        )
    }

    pub async fn remove_swarm_node(&self, machine: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM swarm_nodes WHERE machine = $1")
            .bind(machine)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Forgets a swarm: its row, its node rows and its sealed tokens, in one transaction.
    pub async fn delete_swarm(&self, name: &str) -> Result<(), StoreError> {
        let owner = swarm_owner(name);
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM swarm_nodes WHERE swarm = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM swarms WHERE name = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        for table in ["swarm_autoscale", "autoscale_decisions", "autoscale_next"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE swarm = $1"))
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        super::secrets::forget_owner_in(&mut tx, &owner).await?;
        sqlx::query("UPDATE machines SET swarm = NULL WHERE swarm = $1")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets (or with `None` clears) the machine's swarm column, which `ls` shows.
    pub async fn set_machine_swarm(
        &self,
        machine: &str,
        swarm: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE machines SET swarm = $1 WHERE name = $2")
            .bind(swarm)
            .bind(machine)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Machine, MachineSpec};

    fn swarm(name: &str) -> Swarm {
        Swarm::planned(&SwarmSpec::new(name, "container", 1, 2), 1)
    }

    fn machine(name: &str) -> Machine {
        Machine {
            name: name.into(),
            driver: "container".into(),
            state: MachineState::Running,
            error: None,
            ip: None,
            url: None,
            docker_version: None,
            swarm: None,
            hostname: None,
            ssh_user: "root".into(),
            ssh_port: 22,
            host_key_fingerprint: None,
            spec: MachineSpec::new(name, "container"),
            driver_data: serde_json::json!({}),
            created_ms: 1,
            observed_ms: 1,
        }
    }

    #[tokio::test]
    async fn a_swarm_round_trips_with_its_planned_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::tests::open(dir.path()).await;
        assert!(store.insert_swarm(&swarm("prod")).await.unwrap());
        assert!(
            !store.insert_swarm(&swarm("prod")).await.unwrap(),
            "a second insert is refused"
        );

        // Planned before the machine exists: no machine state yet.
        store
            .add_swarm_node("prod", "prod-w1", Role::Worker, false)
            .await
            .unwrap();
        store
            .add_swarm_node("prod", "prod-m1", Role::Manager, false)
            .await
            .unwrap();
        store
            .add_swarm_node("prod", "prod-m1", Role::Manager, false)
            .await
            .unwrap();
        store.insert_machine(&machine("prod-m1")).await.unwrap();
        store
            .set_machine_swarm("prod-m1", Some("prod"))
            .await
            .unwrap();
        store.set_node_id("prod-m1", Some("abc")).await.unwrap();
        store
            .set_node_observed(
                "prod-m1",
                Some("ready"),
                Some("active"),
                Some("reachable"),
                true,
            )
            .await
            .unwrap();

        let s = store.swarm("prod").await.unwrap().unwrap();
        assert_eq!(s.nodes.len(), 2);
        assert_eq!(s.nodes[0].machine, "prod-m1", "managers first");
        assert_eq!(s.nodes[0].machine_state, Some(MachineState::Running));
        assert!(s.nodes[0].is_ready() && s.nodes[0].leader);
        assert_eq!(s.nodes[1].machine_state, None);
        assert_eq!(
            store
                .machine("prod-m1")
                .await
                .unwrap()
                .machine
                .swarm
                .as_deref(),
            Some("prod")
        );

        // A machine belongs to one swarm only.
        assert!(store.insert_swarm(&swarm("other")).await.unwrap());
        assert!(store
            .add_swarm_node("other", "prod-m1", Role::Worker, true)
            .await
            .is_err());
        assert_eq!(store.swarms().await.unwrap().len(), 2);

        store
            .set_swarm_report("prod", &["forced".to_string()])
            .await
            .unwrap();
        store
            .put_secret(&swarm_owner("prod"), "join_token_worker", "SWMTKN-1-x")
            .await
            .unwrap();
        assert_eq!(
            store.swarm("prod").await.unwrap().unwrap().report,
            ["forced"]
        );

        store.delete_swarm("prod").await.unwrap();
        assert!(store.swarm("prod").await.unwrap().is_none());
        assert!(store.swarm_node("prod-w1").await.unwrap().is_none());
        assert_eq!(store.owner_items(&swarm_owner("prod")).await.unwrap(), 0);
        assert_eq!(store.machine("prod-m1").await.unwrap().machine.swarm, None);
    }
}
