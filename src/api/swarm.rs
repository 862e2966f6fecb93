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

    /// An operation on the swarm is under way (or was, when its process died).
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            SwarmState::Creating | SwarmState::Scaling | SwarmState::Removing
        )
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
    /// A swarm as first recorded: its desired shape, Creating, no nodes yet.
    pub fn planned(spec: &SwarmSpec, now_ms: i64) -> Swarm {
        Swarm {
            name: spec.name.clone(),
            driver: spec.driver.clone(),
            spec: spec.clone(),
            state: SwarmState::Creating,
            error: None,
            cluster_id: None,
            leader: None,
            nodes: Vec::new(),
            report: Vec::new(),
            created_ms: now_ms,
            observed_ms: now_ms,
        }
    }

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

/// What a scale will do, decided by one rule for the engine and for the faces that
/// preview it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScalePlan {
    /// Machines to make, in the order they are named.
    pub add: Vec<(Role, String)>,
    /// Nodes to drain and remove, in the order they leave.
    pub drain: Vec<(Role, String)>,
}

/// A node counts as healthy for a shrink when its machine runs, Docker says it is
/// ready and, for a manager, it is not unreachable. The engine hands in nodes with
/// the facts it just probed; a face hands in the last observed ones.
pub fn node_healthy(n: &SwarmNode) -> bool {
    n.is_ready() && n.reachability.as_deref() != Some("unreachable")
}

/// The number a swarm gave a machine (prod-w12 -> 12): rows planned in the same
/// millisecond are told apart by it, the higher one being the newer.
pub fn node_ordinal(machine: &str) -> u64 {
    let digits = machine.len() - machine.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    machine[machine.len() - digits..].parse().unwrap_or(0)
}

/// The `count` nodes of `role` a shrink removes, in the order they leave: the
/// unhealthy first, then machines the swarm made before adopted ones, newest first;
/// a leader last.
pub fn nodes_to_drain(nodes: &[SwarmNode], role: Role, count: usize) -> Vec<&SwarmNode> {
    let mut of_role: Vec<&SwarmNode> = nodes.iter().filter(|n| n.role == role).collect();
    of_role.sort_by_key(|n| {
        (
            node_healthy(n),
            n.leader,
            n.adopted,
            std::cmp::Reverse((n.created_ms, node_ordinal(&n.machine))),
        )
    });
    of_role.truncate(count);
    of_role
}

/// The names of `count` new machines of `role` in swarm `name`: NAME-m1.., NAME-w1..,
/// the lowest ordinals that `taken` (machines and nodes that exist) leaves free.
pub fn new_node_names(
    name: &str,
    role: Role,
    count: usize,
    taken: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let letter = match role {
        Role::Manager => 'm',
        Role::Worker => 'w',
    };
    let mut out: Vec<String> = Vec::with_capacity(count);
    let mut ordinal = 1u64;
    while out.len() < count {
        let candidate = format!("{name}-{letter}{ordinal}");
        ordinal += 1;
        if !taken(&candidate) && !out.contains(&candidate) {
            out.push(candidate);
        }
    }
    out
}

/// What scaling `swarm` (its nodes as they are) by `req` adds and drains. `taken`
/// says which machine names exist outside the swarm's nodes.
pub fn plan_scale(swarm: &Swarm, req: &ScaleRequest, taken: &dyn Fn(&str) -> bool) -> ScalePlan {
    let mut plan = ScalePlan::default();
    for (role, want) in [
        (Role::Manager, req.managers.unwrap_or(swarm.spec.managers)),
        (Role::Worker, req.workers.unwrap_or(swarm.spec.workers)),
    ] {
        let want = want as usize;
        let have = swarm.count(role);
        if want > have {
            let in_swarm = |n: &str| taken(n) || swarm.nodes.iter().any(|x| x.machine == n);
            for n in new_node_names(&swarm.name, role, want - have, &in_swarm) {
                plan.add.push((role, n));
            }
        } else {
            for n in nodes_to_drain(&swarm.nodes, role, have - want) {
                plan.drain.push((role, n.machine.clone()));
            }
        }
    }
    plan
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

    fn node(machine: &str, role: Role, ready: bool, leader: bool, created_ms: i64) -> SwarmNode {
        SwarmNode {
            machine: machine.into(),
            role,
            node_id: None,
            machine_state: Some(MachineState::Running),
            status: Some(if ready { "ready" } else { "down" }.into()),
            availability: Some("active".into()),
            reachability: None,
            leader,
            adopted: false,
            created_ms,
        }
    }

    fn swarm(nodes: Vec<SwarmNode>) -> Swarm {
        let m = nodes.iter().filter(|n| n.role == Role::Manager).count() as u32;
        let w = nodes.iter().filter(|n| n.role == Role::Worker).count() as u32;
        Swarm {
            name: "prod".into(),
            driver: "container".into(),
            spec: SwarmSpec::new("prod", "container", m, w),
            state: SwarmState::Ready,
            error: None,
            cluster_id: None,
            leader: None,
            nodes,
            report: vec![],
            created_ms: 0,
            observed_ms: 0,
        }
    }

    fn req(managers: Option<u32>, workers: Option<u32>) -> ScaleRequest {
        ScaleRequest {
            managers,
            workers,
            force: false,
            drain_timeout_secs: 60,
        }
    }

    #[test]
    fn a_grow_names_the_lowest_free_ordinals() {
        let s = swarm(vec![
            node("prod-m1", Role::Manager, true, true, 1),
            node("prod-w2", Role::Worker, true, false, 2),
        ]);
        // prod-w1 is gone from the swarm but a machine of that name exists.
        let plan = plan_scale(&s, &req(Some(3), Some(3)), &|n| n == "prod-w1");
        assert_eq!(
            plan.add,
            vec![
                (Role::Manager, "prod-m2".to_string()),
                (Role::Manager, "prod-m3".to_string()),
                (Role::Worker, "prod-w3".to_string()),
                (Role::Worker, "prod-w4".to_string()),
            ]
        );
        assert!(plan.drain.is_empty());
        assert_eq!(
            plan_scale(&s, &req(None, None), &|_| false),
            ScalePlan::default()
        );
    }

    #[test]
    fn a_shrink_drains_the_unhealthy_then_the_newest_and_the_leader_last() {
        let mut adopted = node("prod-w9", Role::Worker, true, false, 90);
        adopted.adopted = true;
        let mut unreachable = node("prod-m2", Role::Manager, true, false, 20);
        unreachable.reachability = Some("unreachable".into());
        let s = swarm(vec![
            node("prod-m1", Role::Manager, true, false, 10),
            unreachable,
            node("prod-m3", Role::Manager, true, true, 30),
            node("prod-w1", Role::Worker, true, false, 5),
            node("prod-w2", Role::Worker, true, false, 5),
            node("prod-w3", Role::Worker, false, false, 1),
            adopted,
        ]);
        let plan = plan_scale(&s, &req(Some(1), Some(1)), &|_| false);
        assert_eq!(
            plan.drain,
            vec![
                // The unreachable manager first, then the follower; the leader stays.
                (Role::Manager, "prod-m2".to_string()),
                (Role::Manager, "prod-m1".to_string()),
                // The down worker, then the newest made one (same ms: higher ordinal);
                // the adopted one stays longest.
                (Role::Worker, "prod-w3".to_string()),
                (Role::Worker, "prod-w2".to_string()),
                (Role::Worker, "prod-w1".to_string()),
            ]
        );
        assert!(plan.add.is_empty());
        assert_eq!(node_ordinal("prod-w12"), 12);
        assert_eq!(node_ordinal("web"), 0);
    }

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
