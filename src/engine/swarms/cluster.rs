//! Talking to a swarm's machines: a Docker client per machine, bounded waits on hosts
//! that may be dead, finding a manager that can take decisions, and recording what
//! the managers say about the nodes.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::api::{Error, Hint, MachineState, Result, Role, Subject, Swarm};
use crate::docker::swarm::{LocalSwarm, NodeInfo, SWARM_PORT};
use crate::docker::MachineDocker;
use crate::engine::{errors, machines, Inner};

/// One API call to a host that may be dead never waits longer than this.
pub(super) const PROBE: Duration = Duration::from_secs(10);
/// Polling interval of every bounded wait on the cluster.
pub(super) const POLL: Duration = Duration::from_secs(1);

/// Runs one call to `machine` within `PROBE`.
pub(super) async fn within<T>(machine: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    within_for(machine, PROBE, fut).await
}

pub(super) async fn within_for<T>(
    machine: &str,
    limit: Duration,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::docker(format!(
            "{machine} did not answer within {}s",
            limit.as_secs()
        ))
        .about(Subject::Machine(machine.to_string()))
        .hint(Hint::Inspect)),
    }
}

/// A machine's Docker API over TLS, with the fleet's client certificate.
pub(super) async fn docker_for(inner: &Arc<Inner>, machine: &str) -> Result<MachineDocker> {
    let cfg = machines::client_config(inner, machine).await?;
    let dir = inner.paths.machine_dir(machine);
    crate::paths::write_client_certs(&dir, &cfg)
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", dir.display())))?;
    MachineDocker::connect_tls(&cfg.url, &dir).map_err(|e| errors::docker(machine, e))
}

/// The machine's IP as provisioning recorded it.
pub(super) async fn ip_of(inner: &Arc<Inner>, machine: &str) -> Result<String> {
    inner
        .store
        .machine(machine)
        .await?
        .machine
        .ip
        .ok_or_else(|| {
            Error::conflict(format!("{machine} has no IP address recorded"))
                .about(Subject::Machine(machine.to_string()))
                .hint(Hint::Provision {
                    trust_new_host_key: false,
                })
        })
}

/// What the machine's own engine says about its membership, within `PROBE`.
pub(super) async fn local_swarm(inner: &Arc<Inner>, machine: &str) -> Result<LocalSwarm> {
    within(machine, async {
        let d = docker_for(inner, machine).await?;
        d.local_swarm()
            .await
            .map_err(|e| errors::docker(machine, e))
    })
    .await
}

/// A manager that can take decisions for the cluster.
pub(super) struct Manager {
    pub machine: String,
    pub docker: MachineDocker,
    pub ip: String,
}

impl Manager {
    /// Every node as this manager sees it.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>> {
        within(&self.machine, async {
            self.docker
                .nodes()
                .await
                .map_err(|e| errors::docker(&self.machine, e))
        })
        .await
    }

    pub async fn node(&self, id: &str) -> Result<Option<NodeInfo>> {
        within(&self.machine, async {
            self.docker
                .node(id)
                .await
                .map_err(|e| errors::docker(&self.machine, e))
        })
        .await
    }

    /// Where joining nodes reach the managers: every manager's address, this one first.
    pub async fn join_addrs(&self) -> Vec<String> {
        let mut addrs = vec![format!("{}:{SWARM_PORT}", self.ip)];
        if let Ok(nodes) = self.nodes().await {
            for n in nodes.iter().filter(|n| n.manager && n.is_ready()) {
                if let Some(a) = n.addr.as_ref().map(|a| format!("{a}:{SWARM_PORT}")) {
                    if !addrs.contains(&a) {
                        addrs.push(a);
                    }
                }
            }
        }
        addrs
    }
}

/// Finds a manager that can take decisions: the recorded leader first, then the other
/// managers; never one in `skip`. A manager of another cluster than the recorded one
/// does not count. Fails with one line that says what each manager answered.
pub(super) async fn control(inner: &Arc<Inner>, swarm: &Swarm, skip: &[String]) -> Result<Manager> {
    let mut candidates: Vec<&str> = swarm
        .nodes
        .iter()
        .filter(|n| n.role == Role::Manager && !skip.contains(&n.machine))
        .filter(|n| n.machine_state == Some(MachineState::Running))
        .map(|n| n.machine.as_str())
        .collect();
    if let Some(leader) = swarm.leader.as_deref() {
        if let Some(i) = candidates.iter().position(|m| *m == leader) {
            let l = candidates.remove(i);
            candidates.insert(0, l);
        }
    }
    let mut why: Vec<String> = Vec::new();
    for machine in candidates {
        match local_swarm(inner, machine).await {
            Ok(local) if local.is_active() && local.control_available => {
                if let (Some(want), Some(got)) = (&swarm.cluster_id, &local.cluster_id) {
                    if want != got {
                        why.push(format!("{machine} is in another cluster ({got})"));
                        continue;
                    }
                }
                let mgr = Manager {
                    machine: machine.to_string(),
                    docker: docker_for(inner, machine).await?,
                    ip: ip_of(inner, machine).await?,
                };
                // Every manager says it has control; only one that reaches a leader
                // (a quorum) can change anything.
                match mgr.nodes().await {
                    Ok(_) => return Ok(mgr),
                    Err(e) => why.push(format!("{machine} reaches no leader ({e})")),
                }
            }
            Ok(local) if local.is_active() => why.push(format!(
                "{machine} sees no leader{}",
                local.error.map(|e| format!(" ({e})")).unwrap_or_default()
            )),
            Ok(local) => why.push(format!("{machine} is not in a swarm ({})", local.state)),
            Err(e) => why.push(e.to_string()),
        }
    }
    if why.is_empty() {
        why.push("it has no running manager".into());
    }
    Err(Error::docker(format!(
        "no manager of swarm {} can take decisions: {}; the managers may have lost their quorum: bring them back, then run the command again",
        swarm.name,
        why.join("; ")
    )))
}

/// The machines whose engines answer within `PROBE` (asked in parallel).
pub(super) async fn answering(inner: &Arc<Inner>, machines: &[String]) -> HashSet<String> {
    let probes = machines.iter().map(|m| async move {
        let ok = match local_swarm(inner, m).await {
            Ok(local) => local.is_active(),
            Err(_) => false,
        };
        (m.clone(), ok)
    });
    futures::future::join_all(probes)
        .await
        .into_iter()
        .filter(|(_, ok)| *ok)
        .map(|(m, _)| m)
        .collect()
}

/// Which of the cluster's nodes is this machine: the recorded node id, else the node
/// whose hostname is the machine's name (provisioning names hosts after machines).
pub(super) fn node_of<'a>(
    nodes: &'a [NodeInfo],
    machine: &str,
    node_id: Option<&str>,
) -> Option<&'a NodeInfo> {
    match node_id {
        Some(id) => nodes.iter().find(|n| n.id == id),
        None => {
            // Several entries with the hostname (an earlier join that left): the live one.
            let mut same: Vec<&NodeInfo> = nodes.iter().filter(|n| n.hostname == machine).collect();
            same.sort_by_key(|n| !n.is_ready());
            same.first().copied()
        }
    }
}

/// Records what the managers say about every node of the swarm and who leads.
pub(super) async fn observe(
    inner: &Arc<Inner>,
    name: &str,
    mgr: &Manager,
) -> Result<Vec<NodeInfo>> {
    let nodes = mgr.nodes().await?;
    let records = inner.store.swarm_node_records(name).await?;
    let mut leader = None;
    for rec in &records {
        let n = &rec.node;
        match node_of(&nodes, &n.machine, n.node_id.as_deref()) {
            Some(info) => {
                if info.leader {
                    leader = Some(n.machine.clone());
                }
                inner
                    .store
                    .set_node_observed(
                        &n.machine,
                        Some(&info.status),
                        Some(&info.availability),
                        info.reachability.as_deref(),
                        info.leader,
                    )
                    .await?;
            }
            None => {
                inner
                    .store
                    .set_node_observed(&n.machine, None, None, None, false)
                    .await?
            }
        }
    }
    if leader.is_some() {
        inner
            .store
            .set_swarm_leader(name, leader.as_deref())
            .await?;
    }
    Ok(nodes)
}

/// The stored swarm, or NotFound with what to do.
pub(super) async fn stored(inner: &Arc<Inner>, name: &str) -> Result<Swarm> {
    inner
        .store
        .swarm(name)
        .await?
        .ok_or_else(|| not_found(name))
}

pub(super) fn not_found(name: &str) -> Error {
    Error::missing(format!("no swarm named {name:?}"))
        .about(Subject::Swarm(name.to_string()))
        .hint(Hint::List)
}
