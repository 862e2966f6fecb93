//! Swarms: a Swarm-mode cluster as an object with a desired shape (how many managers,
//! how many workers, what each machine looks like) that the engine makes real and keeps.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::{CloudInit, ContainerOptions, EngineOptions, Error, MachineState};

/// A node's part in a swarm.
#[derive(
    Debug,
    Clone,
    Copy,
    Serialize,
    Deserialize,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Manager,
    Worker,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Manager => "manager",
            Role::Worker => "worker",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim().to_ascii_lowercase().as_str() {
            "manager" => Some(Role::Manager),
            "worker" => Some(Role::Worker),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a swarm is in its life.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SwarmState {
    /// The first create has not finished yet.
    Creating,
    /// A scale, join or rotation is in progress.
    Scaling,
    /// The last operation reached the desired shape.
    Ready,
    /// The shape is not what was asked for (an operation failed or a node is down).
    Degraded,
    Removing,
}

impl SwarmState {
    pub fn as_str(self) -> &'static str {
        match self {
            SwarmState::Creating => "Creating",
            SwarmState::Scaling => "Scaling",
            SwarmState::Ready => "Ready",
            SwarmState::Degraded => "Degraded",
            SwarmState::Removing => "Removing",
        }
    }
    pub fn parse(s: &str) -> Option<SwarmState> {
        [
            SwarmState::Creating,
            SwarmState::Scaling,
            SwarmState::Ready,
            SwarmState::Degraded,
            SwarmState::Removing,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for SwarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What every machine of a swarm is made from: a machine spec without its name and
/// driver (the swarm gives those).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MachineTemplate {
    pub engine: EngineOptions,
    pub container: ContainerOptions,
    pub tls_san: Vec<String>,
    /// cloud-init user-data applied to every machine (sealed in the store once the
    /// swarm is recorded; read back, only its digest is left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub os_profile: Option<String>,
}

/// The desired shape of a swarm. Stored before anything is made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwarmSpec {
    /// Also the prefix of its machines' names: NAME-m1.., NAME-w1..
    pub name: String,
    /// Empty: the default driver.
    #[serde(default)]
    pub driver: String,
    pub managers: u32,
    pub workers: u32,
    #[serde(default)]
    pub template: MachineTemplate,
    /// A template for one role's machines instead of `template` (e.g. workers with
    /// other user-data).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub role_templates: BTreeMap<Role, MachineTemplate>,
    /// Allow an even number of managers (a split-brain risk Raft cannot break).
    #[serde(default)]
    pub force: bool,
}

impl SwarmSpec {
    /// The template a machine of `role` is made from.
    pub fn template_for(&self, role: Role) -> &MachineTemplate {
        self.role_templates.get(&role).unwrap_or(&self.template)
    }

    pub fn new(
        name: impl Into<String>,
        driver: impl Into<String>,
        managers: u32,
        workers: u32,
    ) -> Self {
        SwarmSpec {
            name: name.into(),
            driver: driver.into(),
            managers,
            workers,
            template: MachineTemplate::default(),
            role_templates: BTreeMap::new(),
            force: false,
        }
    }
}

/// One machine of a swarm, as last observed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct SwarmNode {
    pub machine: String,
    pub role: Role,
    /// The swarm's id of the node, once it joined.
    pub node_id: Option<String>,
    /// The machine's state in the store.
    pub machine_state: Option<MachineState>,
    /// As Docker reports it: ready, down, unknown, disconnected.
    pub status: Option<String>,
    /// active, pause or drain.
    pub availability: Option<String>,
    /// Managers: reachable or unreachable.
    pub reachability: Option<String>,
    pub leader: bool,
    /// Joined with `swarm join` rather than made by the swarm.
    pub adopted: bool,
    pub created_ms: i64,
}

impl SwarmNode {
    /// Counted as ready: its machine runs and Docker says the node is ready.
    pub fn is_ready(&self) -> bool {
        self.status.as_deref() == Some("ready")
            && self
                .machine_state
                .map_or(true, |s| s == MachineState::Running)
    }
}

/// A swarm as the store knows it: the desired spec plus what was observed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Swarm {
    pub name: String,
    pub driver: String,
    pub spec: SwarmSpec,
    pub state: SwarmState,
    /// What the last failed operation said, or why the swarm is degraded.
    pub error: Option<String>,
    /// Docker's id of the cluster, once initialised.
    pub cluster_id: Option<String>,
    /// The machine whose node leads the managers, when last observed.
    pub leader: Option<String>,
    pub nodes: Vec<SwarmNode>,
    /// What the last operation did that a user should know (nodes removed with force,
    /// drains that timed out, adopted machines kept).
    #[serde(default)]
    pub report: Vec<String>,
    pub created_ms: i64,
    pub observed_ms: i64,
}

impl Swarm {
    pub fn count(&self, role: Role) -> usize {
        self.nodes.iter().filter(|n| n.role == role).count()
    }
    pub fn ready(&self, role: Role) -> usize {
        self.nodes
            .iter()
            .filter(|n| n.role == role && n.is_ready())
            .count()
    }
}

/// How a service places its tasks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// A set number of replicas.
    Replicated,
    /// One task on every eligible node.
    Global,
    /// Jobs and modes this build does not know.
    #[serde(other)]
    Other,
}

impl ServiceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceMode::Replicated => "replicated",
            ServiceMode::Global => "global",
            ServiceMode::Other => "other",
        }
    }
}

/// One service of a swarm, as a manager reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SwarmService {
    pub id: String,
    pub name: String,
    pub mode: ServiceMode,
    /// Tasks running now.
    pub running: u64,
    /// Tasks wanted: the replica count, or for a global service the eligible nodes.
    pub desired: u64,
    pub image: String,
}

/// What a scale asks for; `None` keeps that count.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ScaleRequest {
    pub managers: Option<u32>,
    pub workers: Option<u32>,
    /// Allow an even number of managers.
    #[serde(default)]
    pub force: bool,
    /// How long a drained node may take to see its tasks run elsewhere before it is
    /// removed anyway (and the report says so).
    pub drain_timeout_secs: u64,
}

/// The longest machine name a swarm makes is NAME-m999; it must stay a DNS label.
pub const MAX_SWARM_NAME: usize = 58;

/// A swarm name is a DNS label short enough to prefix its machines' names.
pub fn validate_swarm_name(name: &str) -> Result<(), Error> {
    if name.len() > MAX_SWARM_NAME {
        return Err(Error::invalid(format!(
            "invalid swarm name {name:?}: it is longer than {MAX_SWARM_NAME} characters (its machines are named NAME-m1, NAME-w1, ...)"
        )));
    }
    super::validate_name(name).map_err(|e| {
        Error::invalid(
            e.to_string()
                .replacen("invalid machine name", "invalid swarm name", 1),
        )
    })
}

/// Refuses a manager count the swarm cannot run on.
pub fn validate_managers(managers: u32, force: bool) -> Result<(), Error> {
    if managers == 0 {
        return Err(Error::invalid(
            "a swarm needs at least 1 manager: use --managers 1 or more (3 or 5 tolerate failures)",
        ));
    }
    if managers % 2 == 0 && !force {
        return Err(Error::invalid(format!(
            "{managers} managers tolerate no more failures than {} would: use an odd number (1, 3, 5), or --force to insist",
            managers - 1
        )));
    }
    Ok(())
}

/// The most machines of one role a swarm may have: NAME-w999 is the longest name that
/// stays a DNS label (see [`MAX_SWARM_NAME`]).
pub const MAX_SWARM_ROLE_COUNT: u32 = 999;
/// The longest a scale may wait for a drained node: a day.
pub const MAX_DRAIN_TIMEOUT_SECS: u64 = 86_400;

/// Refuses counts whose machine names would not be DNS labels, before anything is made.
pub fn validate_counts(managers: u32, workers: u32) -> Result<(), Error> {
    for (n, role) in [(managers, "managers"), (workers, "workers")] {
        if n > MAX_SWARM_ROLE_COUNT {
            return Err(Error::invalid(format!(
                "{n} {role} is too many: a swarm has at most {MAX_SWARM_ROLE_COUNT} of each role (its machines are named NAME-m1..NAME-m{MAX_SWARM_ROLE_COUNT})"
            )));
        }
    }
    Ok(())
}

impl ScaleRequest {
    /// Counts within [`MAX_SWARM_ROLE_COUNT`], a drain timeout of 1 s to a day.
    pub fn validate(&self) -> Result<(), Error> {
        validate_counts(self.managers.unwrap_or(0), self.workers.unwrap_or(0))?;
        if !(1..=MAX_DRAIN_TIMEOUT_SECS).contains(&self.drain_timeout_secs) {
            return Err(Error::invalid(format!(
                "the drain timeout must be between 1 and {MAX_DRAIN_TIMEOUT_SECS} seconds (a day), not {}",
                self.drain_timeout_secs
            )));
        }
        Ok(())
    }
}

/// How many managers must stay reachable for the swarm to take decisions.
pub fn quorum(managers: usize) -> usize {
    managers / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_drain_timeouts_are_bounded() {
        assert!(validate_counts(999, 999).is_ok());
        let e = validate_counts(1, 1000).unwrap_err().to_string();
        assert!(e.contains("1000 workers is too many"), "{e}");
        let ok = ScaleRequest {
            managers: Some(3),
            workers: Some(999),
            force: false,
            drain_timeout_secs: 60,
        };
        assert!(ok.validate().is_ok());
        for bad in [
            ScaleRequest {
                drain_timeout_secs: u64::MAX,
                ..ok.clone()
            },
            ScaleRequest {
                drain_timeout_secs: 0,
                ..ok.clone()
            },
            ScaleRequest {
                managers: Some(1001),
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_counts() {
        assert!(validate_swarm_name("prod").is_ok());
        let e = validate_swarm_name("Prod").unwrap_err().to_string();
        assert!(e.starts_with("invalid swarm name"), "{e}");
        assert!(validate_swarm_name(&"a".repeat(59)).is_err());
        assert!(validate_managers(0, true).is_err());
        assert!(validate_managers(2, false)
            .unwrap_err()
            .to_string()
            .contains("--force"));
        assert!(validate_managers(2, true).is_ok());
        assert!(validate_managers(3, false).is_ok());
        assert_eq!(quorum(1), 1);
        assert_eq!(quorum(2), 2);
        assert_eq!(quorum(3), 2);
        assert_eq!(quorum(5), 3);
    }

    #[test]
    fn spec_round_trips() {
        let mut spec = SwarmSpec::new("prod", "container", 3, 2);
        spec.template.engine.labels.push("a=b".into());
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<SwarmSpec>(&json).unwrap(), spec);
        assert_eq!(Role::parse("Manager"), Some(Role::Manager));
        assert_eq!(SwarmState::parse("ready"), Some(SwarmState::Ready));
    }
}
