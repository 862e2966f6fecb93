use serde::{Deserialize, Serialize};

use super::{AutoscaleAction, HealthStatus, MachineState, Operation};

/// One change in the fleet. `seq` is the event's id in the fleet's store: it rises with
/// every event recorded by any process sharing the store, so a stream resumes after it
/// (`Fleet::events`). 0 when the event could not be recorded.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Event {
    pub seq: u64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// The longest streamed output line (longer ones are cut, marked with `…`).
pub const MAX_OUTPUT_LINE_CHARS: usize = 500;
/// The most output lines one step streams; then one line says where the rest is.
pub const MAX_OUTPUT_LINES: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    MachineCreated {
        machine: String,
    },
    MachineRemoved {
        machine: String,
    },
    MachineStateChanged {
        machine: String,
        from: MachineState,
        to: MachineState,
    },
    OperationStarted {
        operation: Operation,
    },
    /// A step of an operation began (`done == false`) or ended.
    OperationProgress {
        operation_id: String,
        target: String,
        step: usize,
        total: usize,
        name: String,
        done: bool,
    },
    OperationFinished {
        operation: Operation,
    },
    /// A line the running step's command printed on the host, as it ran (the engine
    /// install step, a `--custom-install-script` included). At most
    /// `MAX_OUTPUT_LINE_CHARS` characters and `MAX_OUTPUT_LINES` lines per step; the
    /// whole output stays in the step's log on the host.
    OperationOutput {
        operation_id: String,
        target: String,
        line: String,
    },
    /// The monitor's settled view of a machine changed.
    HealthChanged {
        machine: String,
        from: HealthStatus,
        to: HealthStatus,
        reasons: Vec<String>,
    },
    /// A machine's node joined a swarm's cluster (`swarm init` for the first manager,
    /// `swarm join` for the others).
    SwarmNodeJoined {
        swarm: String,
        machine: String,
        /// `manager` or `worker`.
        role: String,
        node_id: String,
    },
    /// A machine's node was removed from a swarm's cluster (`node rm`); `forced` when
    /// its host could not leave first and the node was removed with `--force`.
    SwarmNodeLeft {
        swarm: String,
        machine: String,
        node_id: String,
        forced: bool,
    },
    /// The autoscaler decided for a swarm: to act, or (when a trigger fired) not to, and
    /// why in plain words. `acted` is false in dry run and when the action failed.
    AutoscaleDecided {
        swarm: String,
        action: AutoscaleAction,
        acted: bool,
        dry_run: bool,
        reason: String,
    },
}

impl EventKind {
    /// The machine (or other target) the event is about.
    pub fn target(&self) -> &str {
        match self {
            EventKind::MachineCreated { machine }
            | EventKind::MachineRemoved { machine }
            | EventKind::MachineStateChanged { machine, .. }
            | EventKind::HealthChanged { machine, .. }
            | EventKind::SwarmNodeJoined { machine, .. }
            | EventKind::SwarmNodeLeft { machine, .. } => machine,
            EventKind::OperationStarted { operation }
            | EventKind::OperationFinished { operation } => &operation.target,
            EventKind::OperationProgress { target, .. }
            | EventKind::OperationOutput { target, .. } => target,
            EventKind::AutoscaleDecided { swarm, .. } => swarm,
        }
    }
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            EventKind::OperationStarted { operation }
            | EventKind::OperationFinished { operation } => Some(&operation.id),
            EventKind::OperationProgress { operation_id, .. }
            | EventKind::OperationOutput { operation_id, .. } => Some(operation_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_node_events_have_snake_case_tags() {
        let joined = EventKind::SwarmNodeJoined {
            swarm: "prod".into(),
            machine: "prod-m1".into(),
            role: "manager".into(),
            node_id: "abc".into(),
        };
        let v = serde_json::to_value(&joined).unwrap();
        assert_eq!(v["type"], "swarm_node_joined");
        assert_eq!(joined.target(), "prod-m1");
        let left = EventKind::SwarmNodeLeft {
            swarm: "prod".into(),
            machine: "prod-w2".into(),
            node_id: "def".into(),
            forced: true,
        };
        let v = serde_json::to_value(&left).unwrap();
        assert_eq!(v["type"], "swarm_node_left");
        assert_eq!(v["forced"], true);
        assert_eq!(serde_json::from_value::<EventKind>(v).unwrap(), left);
        assert_eq!(left.operation_id(), None);
    }
}

/// Which recorded events to read (`Fleet::events`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events with a larger id.
    pub after: Option<u64>,
    /// Only events at or after this Unix time in milliseconds.
    pub since_ms: Option<i64>,
    /// At most this many (the backend may cap it; 0 means its default).
    pub limit: u32,
}

/// A page of recorded events, oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<Event>,
    /// The newest event id recorded when the page was read.
    pub last_id: u64,
    /// The oldest event id still recorded (older ones were pruned); 0 when none is.
    pub first_id: u64,
}
