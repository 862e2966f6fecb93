//! The monitor's swarm hook: how the managers see each member. Per swarm with members
//! being checked, one reachable manager (the recorded leader first) is asked for the
//! node list, once, and each member's node status, availability and, for managers,
//! reachability are read from it. A swarm whose managers all fail to answer gives its
//! members no swarm facts this round (their own checks say what is wrong).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use async_trait::async_trait;

use super::cluster::{docker_for, node_of, within_for};
use crate::api::{MachineState, Role, Swarm, SwarmNodeHealth};
use crate::docker::swarm::NodeInfo;
use crate::docker::MachineDocker;
use crate::engine::monitor::{SwarmMember, SwarmProbe};
use crate::engine::{errors, Inner};

/// One manager's `node ls` never holds the round longer than this (the monitor bounds
/// the whole round by its probe timeout, 5 s by default): a dead leader leaves time
/// to ask the next manager.
const ASK: Duration = Duration::from_secs(2);

/// Registered on the monitor when the engine opens (`Local::open`).
pub(crate) struct NodeProbe {
    inner: Weak<Inner>,
    /// Docker clients of managers that are not members being checked, kept between
    /// rounds; dropped when a call through them fails.
    clients: Mutex<HashMap<String, Arc<MachineDocker>>>,
}

impl NodeProbe {
    pub fn new(inner: Weak<Inner>) -> NodeProbe {
        NodeProbe {
            inner,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, machine: &str) -> Option<Arc<MachineDocker>> {
        lock(&self.clients).get(machine).cloned()
    }

    /// The node list as one manager of `swarm` sees it: the leader first, then the
    /// other running managers. `None` when none answers.
    async fn node_list(
        &self,
        inner: &Arc<Inner>,
        swarm: &Swarm,
        members: &[&SwarmMember],
    ) -> Option<Vec<NodeInfo>> {
        let mut managers: Vec<&str> = swarm
            .nodes
            .iter()
            .filter(|n| n.role == Role::Manager)
            .filter(|n| n.machine_state == Some(MachineState::Running))
            .map(|n| n.machine.as_str())
            .collect();
        if let Some(leader) = swarm.leader.as_deref() {
            if let Some(i) = managers.iter().position(|m| *m == leader) {
                let l = managers.remove(i);
                managers.insert(0, l);
            }
        }
        for machine in managers {
            // The member's own client when its check reached the engine; else ours.
            let open = members
                .iter()
                .find(|m| m.machine.name == machine)
                .and_then(|m| m.docker.clone());
            let asked = within_for(machine, ASK, async {
                let docker = match open.or_else(|| self.cached(machine)) {
                    Some(d) => d,
                    None => {
                        let d = Arc::new(docker_for(inner, machine).await?);
                        lock(&self.clients).insert(machine.to_string(), d.clone());
                        d
                    }
                };
                docker.nodes().await.map_err(|e| errors::docker(machine, e))
            })
            .await;
            match asked {
                Ok(nodes) => return Some(nodes),
                Err(e) => {
                    tracing::debug!(swarm = %swarm.name, "manager {machine} gives no node list: {e}");
                    lock(&self.clients).remove(machine);
                }
            }
        }
        None
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[async_trait]
impl SwarmProbe for NodeProbe {
    async fn nodes(&self, members: &[SwarmMember]) -> HashMap<String, SwarmNodeHealth> {
        let Some(inner) = self.inner.upgrade() else {
            return HashMap::new();
        };
        let mut by_swarm: HashMap<&str, Vec<&SwarmMember>> = HashMap::new();
        for m in members {
            if let Some(s) = m.machine.swarm.as_deref() {
                by_swarm.entry(s).or_default().push(m);
            }
        }
        let inner = &inner;
        let rounds = by_swarm.into_iter().map(|(name, members)| async move {
            let swarm = match inner.store.swarm(name).await {
                Ok(Some(s)) => s,
                Ok(None) => return Vec::new(),
                Err(e) => {
                    tracing::debug!(swarm = %name, "cannot read the swarm: {e}");
                    return Vec::new();
                }
            };
            let Some(nodes) = self.node_list(inner, &swarm, &members).await else {
                return Vec::new();
            };
            members
                .iter()
                .filter_map(|m| {
                    let recorded = swarm
                        .nodes
                        .iter()
                        .find(|n| n.machine == m.machine.name)
                        .and_then(|n| n.node_id.as_deref());
                    let info = node_of(&nodes, &m.machine.name, recorded)?;
                    Some((m.machine.name.clone(), node_health(&swarm.name, info)))
                })
                .collect()
        });
        futures::future::join_all(rounds)
            .await
            .into_iter()
            .flatten()
            .collect()
    }
}

/// A node as a manager lists it, in the monitor's terms.
fn node_health(swarm: &str, n: &NodeInfo) -> SwarmNodeHealth {
    SwarmNodeHealth {
        swarm: swarm.to_string(),
        node_id: n.id.clone(),
        role: if n.manager {
            Role::Manager
        } else {
            Role::Worker
        }
        .to_string(),
        status: n.status.clone(),
        availability: n.availability.clone(),
        manager_reachability: if n.manager {
            n.reachability.clone()
        } else {
            None
        },
        leader: n.leader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(manager: bool, status: &str, reachability: Option<&str>) -> NodeInfo {
        NodeInfo {
            id: "n1".into(),
            version: 1,
            hostname: "prod-m1".into(),
            manager,
            availability: "active".into(),
            status: status.into(),
            addr: None,
            leader: false,
            reachability: reachability.map(str::to_string),
            labels: HashMap::new(),
            memory_bytes: 0,
            nano_cpus: 0,
        }
    }

    #[test]
    fn nodes_map_to_the_monitors_terms() {
        let h = node_health("prod", &node(true, "ready", Some("reachable")));
        assert_eq!(h.role, "manager");
        assert_eq!(h.status, "ready");
        assert_eq!(h.availability, "active");
        assert_eq!(h.manager_reachability.as_deref(), Some("reachable"));
        let h = node_health("prod", &node(false, "down", None));
        assert_eq!(h.role, "worker");
        assert_eq!(h.status, "down");
        assert_eq!(h.manager_reachability, None);
    }
}
