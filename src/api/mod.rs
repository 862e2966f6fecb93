//! The contract between the faces (CLI, TUI) and the backends (local engine, remote
//! server). Every type here is also the wire format of the REST API, so it holds no I/O.

mod access;
mod address;
mod admin;
mod autoscale;
mod cloud_init;
mod engine_options;
mod error;
mod event;
mod filter;
mod follow;
mod health;
mod import;
mod machine;
mod operation;
mod provisioning;
mod replica;
pub mod rest;
mod swarm;
mod time;

pub use self::time::{
    format_duration, format_utc, now_ms, parse_duration, parse_utc, MAX_DURATION,
};
pub use access::{
    validate_token_name, AccessRole, AuditEntry, AuditPruned, AuditQuery, AuditRetention, Backend,
    Identity, NewToken, ServerInfo, SshCertRequest, TokenInfo, TokenSpec, API_VERSION, LOCAL_ACTOR,
    MAX_TOKEN_TTL_SECS, MIN_TOKEN_TTL_SECS, TOKEN_ID_PREFIX, TOKEN_PREFIX,
};
pub use address::{
    certificate_fingerprint, normalize_fingerprint, normalize_server_url, normalize_server_urls,
    MAX_SERVER_URLS,
};
pub use admin::{AuditRecord, FleetAdmin, Grant, StoreVersions};
pub use autoscale::{
    parse_budget, parse_percent, AutoscaleAction, AutoscaleBody, AutoscaleDecision, AutoscaleNext,
    AutoscalePolicy, AutoscaleStatus, AUTOSCALE_DECISIONS_KEPT, MAX_AUTOSCALE_BUDGET,
    MAX_AUTOSCALE_STEP, MAX_AUTOSCALE_WINDOW_SECS,
};
pub use cloud_init::{validate_user_data, UserDataKind, MAX_USER_DATA};
pub use engine_options::{
    canonical_json, daemon_key, EngineField, EngineOptionsError, MAX_ENGINE_CONFIG_BYTES,
    MAX_INSTALL_SCRIPT_BYTES,
};
pub use error::{Error, ErrorKind, Hint, Result, Subject};
pub use event::{Event, EventKind, EventPage, EventQuery, MAX_OUTPUT_LINES, MAX_OUTPUT_LINE_CHARS};
pub use filter::{glob, FilterKey, Filters};
pub use follow::{follow, newest_event_id, FollowFrom};
pub use health::{
    DiskUsage, DockerHealth, Health, HealthBrief, HealthSample, HealthStatus, Metrics,
    MonitorSettings, SwarmNodeHealth,
};
pub use import::{ImportedMachine, MAX_PEM};
pub use machine::{
    tcp_url, validate_name, validate_ssh_user, validate_tls_sans, ClientConfig, CloudInit,
    CloudInitInstall, ContainerOptions, EngineInstall, EngineOptions, GenericOptions, Machine,
    MachineBrief, MachineSpec, MachineState, SshAccess, SshLogin, DEFAULT_ENGINE_PORT,
    MAX_PRIVATE_KEY_BYTES, MAX_TLS_SANS, SEALED_ENV_VALUE,
};
pub use operation::{
    validate_operations_limit, Operation, OperationKind, Outcome, Step, StepState,
    MAX_OPERATIONS_PAGE, STEP_LEAVE_HOST,
};
pub use provisioning::{MachineLog, OsProfileInfo, MAX_LOG_BYTES};
pub use replica::{
    heartbeat_period, replica_for, replica_ttl, validate_replica_name, Replica, MAX_REPLICA_NAME,
};
pub use swarm::{
    new_node_names, node_healthy, node_ordinal, nodes_to_drain, plan_scale, quorum,
    validate_counts, validate_managers, validate_swarm_name, MachineTemplate, Role, ScalePlan,
    ScaleRequest, ServiceMode, Swarm, SwarmNode, SwarmService, SwarmSpec, SwarmState,
    MAX_DRAIN_TIMEOUT_SECS, MAX_SWARM_ROLE_COUNT,
};

use async_trait::async_trait;
use tokio::sync::broadcast;

/// Everything a face can ask of a fleet. `engine::Local` implements it in-process;
/// a remote client will implement it over HTTP. Long work returns an [`Operation`]
/// at once and runs on; its progress arrives as [`Event`]s from [`Fleet::subscribe`].
#[async_trait]
pub trait Fleet: Send + Sync {
    /// All machines as the store knows them; never waits on a host.
    async fn list(&self) -> Result<Vec<Machine>>;
    /// All machines in brief (what `ls` shows), by name, each with its health in brief
    /// where the backend has it: a backend that can read less for it does (the local
    /// store reads neither specs nor driver data nor whole health samples).
    async fn list_brief(&self) -> Result<Vec<MachineBrief>> {
        briefs_from_list_and_health(self).await
    }
    /// One machine as the store knows it.
    async fn get(&self, name: &str) -> Result<Machine>;

    /// Validates the spec, records the desired machine and starts creating it.
    async fn create(&self, spec: MachineSpec) -> Result<Operation>;
    /// Removes machines; with `force` the record goes even when the host cannot be reached.
    async fn remove(&self, name: &str, force: bool) -> Result<Operation>;
    /// Reruns provisioning; it converges, so a second run changes nothing.
    async fn provision(&self, name: &str, trust_new_host_key: bool) -> Result<Operation>;
    /// Reissues the server certificate (and with `client` the fleet's client certificate).
    async fn regenerate_certs(&self, name: &str, client: bool) -> Result<Operation>;

    async fn start(&self, name: &str) -> Result<Machine>;
    async fn stop(&self, name: &str) -> Result<Machine>;
    async fn restart(&self, name: &str) -> Result<Machine>;
    async fn kill(&self, name: &str) -> Result<Machine>;
    /// Asks the driver now (unlike `get`, which answers from the store).
    async fn status(&self, name: &str) -> Result<MachineState>;

    /// What a docker client needs to talk to the machine over TLS.
    async fn client_config(&self, name: &str) -> Result<ClientConfig>;
    /// What an SSH client needs to reach the machine.
    async fn ssh_access(&self, name: &str) -> Result<SshAccess>;
    /// Runs a shell (`command` empty) or a command on the machine over SSH, attached to
    /// this process's terminal (a PTY when stdin is one), and returns its exit status.
    /// The host key pinned at provisioning is enforced. The caller gives up the terminal
    /// for the duration (the TUI suspends itself). `login` logs in as another user of
    /// the host with that user's key (the machine's own login when `None`).
    async fn ssh_attach(
        &self,
        name: &str,
        login: Option<&SshLogin>,
        command: &[String],
    ) -> Result<u32>;

    /// The OS profiles provisioning chooses from: built-in ones and the fleet's own.
    async fn os_profiles(&self) -> Result<Vec<OsProfileInfo>>;
    /// A log provisioning left on the machine's host (`flotilla logs NAME --cloud-init`),
    /// its last MAX_LOG_BYTES when longer.
    async fn machine_log(&self, name: &str, log: MachineLog) -> Result<String>;
    /// The machine's cloud-init user-data, unsealed (`inspect --user-data`); None when
    /// it has none.
    async fn user_data(&self, name: &str) -> Result<Option<String>>;
    /// The machine's `--engine-env`, its values unsealed (`inspect --engine-env`;
    /// operators only on a server, audited). Everywhere else a value reads `<sealed>`.
    async fn engine_env(&self, name: &str) -> Result<Vec<(String, String)>>;

    /// Where this fleet is and who uses it: the header of the TUI, `flotilla info`.
    async fn backend(&self) -> Result<Backend>;

    /// One operation by id, with its steps and outcome so far.
    async fn operation(&self, id: &str) -> Result<Operation>;
    /// Running and recent operations of every process sharing the fleet, newest first,
    /// at most `limit` (1..=1000).
    async fn operations(&self, limit: u32) -> Result<Vec<Operation>>;
    /// Asks a running operation to stop at its next step; what it made stays recorded.
    async fn cancel(&self, id: &str) -> Result<()>;
    /// Every event from now on. A receiver that falls behind loses the oldest events
    /// and learns how many (`RecvError::Lagged`); the engine never waits for it.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
    /// Recorded events (from every process sharing the fleet), oldest first: those after
    /// `query.after` (an event id), or since `query.since_ms`, at most `query.limit`.
    /// `EventPage::last_id` is the newest id recorded, so a follower can start there.
    async fn events(&self, query: EventQuery) -> Result<EventPage>;

    /// The latest health of the named machines (every machine when `names` is empty),
    /// from the backend's monitor or the store, without waiting on hosts; with
    /// `check_now` the backend checks those machines first (one round).
    async fn health(&self, names: &[String], check_now: bool) -> Result<Vec<Health>>;
    /// A machine's recent samples, oldest first, kept by the backend's running monitor
    /// (empty when none runs): the TUI's sparklines.
    async fn health_history(&self, name: &str) -> Result<Vec<HealthSample>>;
    /// Makes sure a monitor runs in the backend (embedded: in this process, until it
    /// ends; it reconfigures one already running). A server runs its own always.
    async fn start_monitor(&self, settings: MonitorSettings) -> Result<()>;
    /// The live server replicas sharing this fleet's store, by id (none for a fleet no
    /// server serves): which of them monitor, and how many machines each checks.
    async fn replicas(&self) -> Result<Vec<Replica>>;

    /// Validates the spec, records the swarm's desired shape and starts making it:
    /// machines in parallel, `swarm init` on the first manager, joins for the rest.
    /// Rerunning it on an existing swarm converges to the stored shape.
    async fn swarm_create(&self, spec: SwarmSpec) -> Result<Operation>;
    /// All swarms as the store knows them; never waits on a host.
    async fn swarm_list(&self) -> Result<Vec<Swarm>>;
    /// One swarm, with its nodes as a reachable manager sees them now (the stored view
    /// when none answers in time).
    async fn swarm_get(&self, name: &str) -> Result<Swarm>;
    /// Changes the desired counts and converges: adds machines first, then drains and
    /// removes surplus nodes without ever breaking the managers' quorum.
    async fn swarm_scale(&self, name: &str, req: ScaleRequest) -> Result<Operation>;
    /// Adopts an existing machine into the swarm as `role`.
    async fn swarm_join(&self, name: &str, machine: &str, role: Role) -> Result<Operation>;
    /// Issues new join tokens (the old ones stop working) and stores them sealed.
    async fn swarm_rotate_tokens(&self, name: &str) -> Result<()>;
    /// Removes the swarm and every machine in it; with `force` it goes on past hosts
    /// that cannot be reached.
    async fn swarm_remove(&self, name: &str, force: bool) -> Result<Operation>;
    /// What a docker client needs to talk to the swarm: a reachable manager, the leader
    /// when it answers.
    async fn swarm_client_config(&self, name: &str) -> Result<ClientConfig>;
    /// The swarm's services as a reachable manager sees them now (name, mode, replicas
    /// running/desired, image).
    async fn swarm_services(&self, name: &str) -> Result<Vec<SwarmService>>;
    /// The swarm's autoscaling policy (none: off) and its latest decisions, newest first.
    async fn swarm_autoscale(&self, name: &str) -> Result<AutoscaleStatus>;
    /// Sets the swarm's autoscaling policy (checked by its type), or with `None` turns
    /// autoscaling off. A running autoscaler picks the change up at its next round.
    async fn set_swarm_autoscale(
        &self,
        name: &str,
        policy: Option<AutoscalePolicy>,
    ) -> Result<AutoscaleStatus>;
    /// Makes sure the autoscaler runs in the backend (embedded: in this process, with
    /// the health monitor it reads, until the process ends). A server runs its own always.
    async fn start_autoscaler(&self) -> Result<()>;

    // generic hosts and imports
    /// Adopts a machine another tool made (docker-machine) as a `generic` machine: its
    /// key and TLS material sealed in the store, its host key pinned on first contact.
    /// Docker answers with the imported certificates until the machine is provisioned.
    /// A host that does not answer is still recorded, in Error with the reason.
    async fn import(&self, machine: ImportedMachine) -> Result<Machine>;

    // docker-machine parity
    /// Upgrades the machine's Docker Engine through its OS profile's package method
    /// (docker-machine's `upgrade`), then configures and waits for it like `provision`
    /// and records the new version. The operation's kind is `provision`.
    async fn upgrade(&self, name: &str) -> Result<Operation>;
}

/// The machines in brief made from the whole list and the whole health: for a backend
/// that has no cheaper way to read them.
pub async fn briefs_from_list_and_health<F: Fleet + ?Sized>(
    fleet: &F,
) -> Result<Vec<MachineBrief>> {
    let (machines, health) = futures::join!(fleet.list(), fleet.health(&[], false));
    // A list without health is still a list (the health column shows unknown).
    Ok(MachineBrief::with_health(
        &machines?,
        &health.unwrap_or_default(),
    ))
}
