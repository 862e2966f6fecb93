//! Swarm mode through a machine's Docker API over TLS: init, join, leave, the join
//! tokens, nodes (list, inspect, availability, role, remove) and tasks.
//!
//! Everything goes through bollard except the token rotation: bollard 0.19 has no
//! `/swarm/update`, so that one request is made with reqwest over the same TLS files.

use std::collections::HashMap;
use std::sync::Arc;

use bollard::errors::Error as BollardError;
use bollard::models::{
    LocalNodeState, NodeSpec, NodeSpecAvailabilityEnum, NodeSpecRoleEnum, NodeState,
    SwarmInitRequest, SwarmJoinRequest, TaskState,
};
use bollard::query_parameters::{
    DeleteNodeOptionsBuilder, LeaveSwarmOptionsBuilder, ListServicesOptions,
    ListTasksOptionsBuilder, UpdateNodeOptionsBuilder,
};

use super::{describe, DockerError, MachineDocker};

/// The port managers listen on for the cluster's control plane.
pub const SWARM_PORT: u16 = 2377;

/// What a node's own engine says about its swarm membership (`docker info`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalSwarm {
    /// inactive, pending, active, error or locked.
    pub state: String,
    pub node_id: Option<String>,
    /// The cluster's id; engines report it only on managers.
    pub cluster_id: Option<String>,
    /// A manager that can take decisions (it sees a leader).
    pub control_available: bool,
    pub error: Option<String>,
    /// `IP:2377` of the managers this node knows.
    pub managers: Vec<String>,
}

impl LocalSwarm {
    pub fn is_active(&self) -> bool {
        self.state == "active"
    }
}

/// The cluster as a manager sees it (`docker swarm inspect`), with its join tokens.
/// The tokens are secrets: this type does not print them.
#[derive(Clone)]
pub struct Cluster {
    pub id: String,
    pub version: u64,
    pub worker_token: String,
    pub manager_token: String,
    spec: Option<bollard::models::SwarmSpec>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("id", &self.id)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// A node as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub version: u64,
    pub hostname: String,
    pub manager: bool,
    /// active, pause or drain.
    pub availability: String,
    /// ready, down, unknown or disconnected.
    pub status: String,
    pub addr: Option<String>,
    pub leader: bool,
    /// reachable or unreachable (managers only).
    pub reachability: Option<String>,
    pub labels: HashMap<String, String>,
    /// What the scheduler may hand out on the node: memory in bytes, CPU in 1e-9 CPUs.
    pub memory_bytes: i64,
    pub nano_cpus: i64,
}

impl NodeInfo {
    pub fn is_ready(&self) -> bool {
        self.status == "ready"
    }
}

/// A task as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo {
    pub id: String,
    pub service_id: String,
    pub node_id: Option<String>,
    /// What the orchestrator wants: running, shutdown, ...
    pub desired: String,
    /// What the node last reported: new ... running, shutdown, failed, ...
    pub state: String,
    /// Why it is in that state, as the scheduler says (a pending task: `no suitable
    /// node (insufficient resources on 2 nodes)`); empty when it says nothing.
    pub message: String,
    /// What the task reserves: memory in bytes, CPU in 1e-9 CPUs (0: nothing).
    pub reserved_memory: i64,
    pub reserved_nano_cpus: i64,
}

impl TaskInfo {
    pub fn wants_running(&self) -> bool {
        self.desired == "running"
    }
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
    /// Still on its way to running (the scheduler or the node works on it).
    pub fn is_starting(&self) -> bool {
        matches!(
            self.state.as_str(),
            "new"
                | "allocated"
                | "pending"
                | "assigned"
                | "accepted"
                | "preparing"
                | "ready"
                | "starting"
        )
    }
}

/// A service as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceInfo {
    pub id: String,
    pub name: String,
    /// replicated, global or other (jobs).
    pub mode: &'static str,
    pub image: String,
    pub running: u64,
    pub desired: u64,
}

fn local_state(s: &LocalNodeState) -> &'static str {
    match s {
        LocalNodeState::EMPTY | LocalNodeState::INACTIVE => "inactive",
        LocalNodeState::PENDING => "pending",
        LocalNodeState::ACTIVE => "active",
        LocalNodeState::ERROR => "error",
        LocalNodeState::LOCKED => "locked",
    }
}

fn node_state(s: &NodeState) -> &'static str {
    match s {
        NodeState::UNKNOWN => "unknown",
        NodeState::DOWN => "down",
        NodeState::READY => "ready",
        NodeState::DISCONNECTED => "disconnected",
    }
}

fn task_state(s: &TaskState) -> String {
    s.to_string()
}

impl MachineDocker {
    fn swarm_err(&self, what: &str, e: BollardError) -> DockerError {
        DockerError::Api {
            url: self.url.clone(),
            reason: format!("{what}: {}", describe(&e)),
        }
    }

    /// This engine's view of its swarm membership.
    pub async fn local_swarm(&self) -> Result<LocalSwarm, DockerError> {
        let d = self.negotiated().await?;
        let info = d
            .info()
            .await
            .map_err(|e| self.swarm_err("docker info", e))?;
        let Some(sw) = info.swarm else {
            return Ok(LocalSwarm {
                state: "inactive".into(),
                ..LocalSwarm::default()
            });
        };
        Ok(LocalSwarm {
            state: sw
                .local_node_state
                .as_ref()
                .map_or("inactive", local_state)
                .to_string(),
            node_id: sw.node_id.filter(|s| !s.is_empty()),
            cluster_id: sw.cluster.and_then(|c| c.id).filter(|s| !s.is_empty()),
            control_available: sw.control_available.unwrap_or(false),
            error: sw.error.filter(|s| !s.is_empty()),
            managers: sw
                .remote_managers
                .unwrap_or_default()
                .into_iter()
                .filter_map(|p| p.addr)
                .collect(),
        })
    }

    /// `docker swarm init --advertise-addr IP`; returns the new node's id.
    pub async fn swarm_init(&self, advertise_ip: &str) -> Result<String, DockerError> {
        let d = self.negotiated().await?;
        let req = SwarmInitRequest {
            listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
            advertise_addr: Some(format!("{advertise_ip}:{SWARM_PORT}")),
            ..Default::default()
        };
        d.init_swarm(req)
            .await
            .map_err(|e| self.swarm_err("swarm init", e))
    }

    /// `docker swarm join --token T --advertise-addr IP MANAGER:2377`. The token is not
    /// part of any error message.
    pub async fn swarm_join(
        &self,
        advertise_ip: &str,
        managers: &[String],
        token: &str,
    ) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        let req = SwarmJoinRequest {
            listen_addr: Some(format!("0.0.0.0:{SWARM_PORT}")),
            advertise_addr: Some(format!("{advertise_ip}:{SWARM_PORT}")),
            remote_addrs: Some(managers.to_vec()),
            join_token: Some(token.to_string()),
            ..Default::default()
        };
        d.join_swarm(req).await.map_err(|e| {
            let reason = describe(&e).replace(token, "<token>");
            DockerError::Api {
                url: self.url.clone(),
                reason: format!("swarm join: {reason}"),
            }
        })
    }

    /// `docker swarm leave [--force]`; leaving when not in a swarm is not an error.
    pub async fn swarm_leave(&self, force: bool) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        let opts = LeaveSwarmOptionsBuilder::default().force(force).build();
        match d.leave_swarm(Some(opts)).await {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 503,
                message,
            }) if message.contains("not part of a swarm") => Ok(()),
            Err(e) => Err(self.swarm_err("swarm leave", e)),
        }
    }

    /// The cluster with its join tokens (managers only).
    pub async fn cluster(&self) -> Result<Cluster, DockerError> {
        let d = self.negotiated().await?;
        let sw = d
            .inspect_swarm()
            .await
            .map_err(|e| self.swarm_err("swarm inspect", e))?;
        let tokens = sw.join_tokens.unwrap_or_default();
        let missing = |what: &str| DockerError::Api {
            url: self.url.clone(),
            reason: format!("swarm inspect: the answer has no {what}"),
        };
        Ok(Cluster {
            id: sw.id.ok_or_else(|| missing("id"))?,
            version: sw.version.and_then(|v| v.index).unwrap_or(0),
            worker_token: tokens.worker.ok_or_else(|| missing("worker token"))?,
            manager_token: tokens.manager.ok_or_else(|| missing("manager token"))?,
            spec: sw.spec,
        })
    }

    /// Every node of the cluster (managers only).
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, DockerError> {
        let d = self.negotiated().await?;
        let nodes = d
            .list_nodes(None::<bollard::query_parameters::ListNodesOptions>)
            .await
            .map_err(|e| self.swarm_err("node ls", e))?;
        Ok(nodes.into_iter().filter_map(node_info).collect())
    }

    /// One node, or None when the cluster does not know it (any more).
    pub async fn node(&self, id: &str) -> Result<Option<NodeInfo>, DockerError> {
        let d = self.negotiated().await?;
        match d.inspect_node(id).await {
            Ok(n) => Ok(node_info(n)),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(e) => Err(self.swarm_err("node inspect", e)),
        }
    }

    /// Changes a node's spec. Updates are versioned: a concurrent change (the
    /// orchestrator updates nodes too) makes it read the node again and retry.
    async fn node_update(
        &self,
        id: &str,
        change: impl Fn(&mut NodeSpec),
    ) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        let mut last = None;
        for _ in 0..5 {
            let node = d
                .inspect_node(id)
                .await
                .map_err(|e| self.swarm_err("node inspect", e))?;
            let version = node.version.and_then(|v| v.index).unwrap_or(0);
            let mut spec = node.spec.unwrap_or_default();
            change(&mut spec);
            let opts = UpdateNodeOptionsBuilder::default()
                .version(version as i64)
                .build();
            match d.update_node(id, spec, opts).await {
                Ok(()) => return Ok(()),
                Err(BollardError::DockerResponseServerError {
                    status_code: 500,
                    message,
                }) if message.contains("out of sequence") => {
                    last = Some(message);
                }
                Err(e) => return Err(self.swarm_err("node update", e)),
            }
        }
        Err(DockerError::Api {
            url: self.url.clone(),
            reason: format!(
                "node update: the node kept changing under us: {}",
                last.unwrap_or_default()
            ),
        })
    }

    /// `docker node update --availability active|pause|drain ID`.
    pub async fn node_set_availability(
        &self,
        id: &str,
        availability: &str,
    ) -> Result<(), DockerError> {
        let value = match availability {
            "active" => NodeSpecAvailabilityEnum::ACTIVE,
            "pause" => NodeSpecAvailabilityEnum::PAUSE,
            "drain" => NodeSpecAvailabilityEnum::DRAIN,
            other => {
                return Err(DockerError::Api {
                    url: self.url.clone(),
                    reason: format!("node update: unknown availability {other:?}"),
                })
            }
        };
        self.node_update(id, |spec| spec.availability = Some(value))
            .await
    }

    /// `docker node promote` (true) or `docker node demote` (false).
    pub async fn node_set_manager(&self, id: &str, manager: bool) -> Result<(), DockerError> {
        let role = if manager {
            NodeSpecRoleEnum::MANAGER
        } else {
            NodeSpecRoleEnum::WORKER
        };
        self.node_update(id, |spec| spec.role = Some(role)).await
    }

    /// Sets node labels (kept beside any the user set).
    pub async fn node_label(
        &self,
        id: &str,
        labels: &[(String, String)],
    ) -> Result<(), DockerError> {
        self.node_update(id, |spec| {
            let map = spec.labels.get_or_insert_with(HashMap::new);
            for (k, v) in labels {
                map.insert(k.clone(), v.clone());
            }
        })
        .await
    }

    /// `docker node rm [--force] ID`; a node that is gone already is not an error.
    pub async fn node_remove(&self, id: &str, force: bool) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        let opts = DeleteNodeOptionsBuilder::default().force(force).build();
        match d.delete_node(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(e) => Err(self.swarm_err("node rm", e)),
        }
    }

    /// Every task the cluster knows (managers only); `node` narrows to one node's.
    pub async fn tasks(&self, node: Option<&str>) -> Result<Vec<TaskInfo>, DockerError> {
        let d = self.negotiated().await?;
        let mut filters: HashMap<&str, Vec<&str>> = HashMap::new();
        if let Some(n) = node {
            filters.insert("node", vec![n]);
        }
        let opts = ListTasksOptionsBuilder::default().filters(&filters).build();
        let tasks = d
            .list_tasks(Some(opts))
            .await
            .map_err(|e| self.swarm_err("task ls", e))?;
        Ok(tasks
            .into_iter()
            .filter_map(|t| {
                let reserved = t
                    .spec
                    .as_ref()
                    .and_then(|s| s.resources.as_ref())
                    .and_then(|r| r.reservations.as_ref());
                let reserved_memory = reserved.and_then(|r| r.memory_bytes).unwrap_or(0);
                let reserved_nano_cpus = reserved.and_then(|r| r.nano_cpus).unwrap_or(0);
                Some(TaskInfo {
                    reserved_memory,
                    reserved_nano_cpus,
                    id: t.id?,
                    service_id: t.service_id.unwrap_or_default(),
                    node_id: t.node_id.filter(|s| !s.is_empty()),
                    desired: t.desired_state.as_ref().map(task_state).unwrap_or_default(),
                    state: t
                        .status
                        .as_ref()
                        .and_then(|s| s.state.as_ref())
                        .map(task_state)
                        .unwrap_or_default(),
                    message: t
                        .status
                        .map(|s| {
                            s.err
                                .filter(|e| !e.is_empty())
                                .or(s.message)
                                .unwrap_or_default()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect())
    }

    /// The cluster's services with their task counts (managers only), by name.
    pub async fn services(&self) -> Result<Vec<ServiceInfo>, DockerError> {
        let d = self.negotiated().await?;
        let opts = ListServicesOptions {
            filters: None,
            status: Some(true),
        };
        let services = d
            .list_services(Some(opts))
            .await
            .map_err(|e| self.swarm_err("service ls", e))?;
        let mut out: Vec<ServiceInfo> = services
            .into_iter()
            .filter_map(|s| {
                let spec = s.spec.unwrap_or_default();
                let mode = spec.mode.unwrap_or_default();
                let mode = if mode.global.is_some() {
                    "global"
                } else if mode.replicated.is_some() {
                    "replicated"
                } else {
                    "other"
                };
                let image = spec
                    .task_template
                    .and_then(|t| t.container_spec)
                    .and_then(|c| c.image)
                    .unwrap_or_default();
                let status = s.service_status.unwrap_or_default();
                Some(ServiceInfo {
                    id: s.id?,
                    name: spec.name.unwrap_or_default(),
                    mode,
                    // Image references carry a digest after '@': keep the name a person reads.
                    image: image.split('@').next().unwrap_or_default().to_string(),
                    running: status.running_tasks.unwrap_or(0),
                    desired: status.desired_tasks.unwrap_or(0),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `docker swarm join-token --rotate` for both roles: new tokens, the old ones stop
    /// working. bollard 0.19 has no `/swarm/update`, so this one request goes through
    /// reqwest with the same TLS files and API version.
    pub async fn swarm_rotate_tokens(&self) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        let version = d.client_version();
        let cluster = self.cluster().await?;
        let err = |reason: String| DockerError::Api {
            url: self.url.clone(),
            reason: format!("swarm update: {reason}"),
        };
        let tls = self.rustls_config().map_err(err)?;
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(std::time::Duration::from_secs(super::REQUEST_TIMEOUT_SECS))
            .build()
            .map_err(|e| err(describe(&e)))?;
        let url = format!(
            "https://{}/v{version}/swarm/update?version={}&rotateWorkerToken=true&rotateManagerToken=true",
            self.addr, cluster.version
        );
        let resp = client
            .post(&url)
            .json(&cluster.spec.unwrap_or_default())
            .send()
            .await
            .map_err(|e| err(describe(&e)))?;
        if !resp.status().is_success() {
            let status = resp.status();
            let body = resp.text().await.unwrap_or_default();
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| {
                    v.get("message")
                        .and_then(|m| m.as_str())
                        .map(str::to_string)
                })
                .unwrap_or(body);
            return Err(err(format!("{status}: {}", message.trim())));
        }
        Ok(())
    }

    /// A rustls client configuration from the machine's ca.pem, cert.pem and key.pem.
    fn rustls_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let read = |p: &std::path::Path| {
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(&read(&self.ca)?) {
            let cert = cert.map_err(|e| format!("{}: {e}", self.ca.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", self.ca.display()))?;
        }
        let chain: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read(&self.cert)?)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", self.cert.display()))?;
        let key = PrivateKeyDer::from_pem_slice(&read(&self.key)?)
            .map_err(|e| format!("{}: {e}", self.key.display()))?;
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| e.to_string())
    }
}

fn node_info(n: bollard::models::Node) -> Option<NodeInfo> {
    let spec = n.spec.unwrap_or_default();
    let status = n.status.unwrap_or_default();
    let manager = n.manager_status;
    let resources = n
        .description
        .as_ref()
        .and_then(|d| d.resources.clone())
        .unwrap_or_default();
    Some(NodeInfo {
        memory_bytes: resources.memory_bytes.unwrap_or(0),
        nano_cpus: resources.nano_cpus.unwrap_or(0),
        id: n.id?,
        version: n.version.and_then(|v| v.index).unwrap_or(0),
        hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
        manager: matches!(spec.role, Some(NodeSpecRoleEnum::MANAGER)),
        availability: spec.availability.map(|a| a.to_string()).unwrap_or_default(),
        status: status
            .state
            .as_ref()
            .map_or("unknown", node_state)
            .to_string(),
        addr: status.addr,
        leader: manager.as_ref().and_then(|m| m.leader).unwrap_or(false),
        reachability: manager.and_then(|m| m.reachability).map(|r| r.to_string()),
        labels: spec.labels.unwrap_or_default(),
    })
}
