use serde::{Deserialize, Serialize};

use super::{MachineState, Operation};

/// One change in the fleet. `seq` rises by one per event within an engine's lifetime.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Event {
    pub seq: u64,
    /// Unix time in milliseconds.
    pub time_ms: i64,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
}

impl EventKind {
    /// The machine (or other target) the event is about.
    pub fn target(&self) -> &str {
        match self {
            EventKind::MachineCreated { machine }
            | EventKind::MachineRemoved { machine }
            | EventKind::MachineStateChanged { machine, .. } => machine,
            EventKind::OperationStarted { operation }
            | EventKind::OperationFinished { operation } => &operation.target,
            EventKind::OperationProgress { target, .. } => target,
        }
    }
    pub fn operation_id(&self) -> Option<&str> {
        match self {
            EventKind::OperationStarted { operation }
            | EventKind::OperationFinished { operation } => Some(&operation.id),
            EventKind::OperationProgress { operation_id, .. } => Some(operation_id),
            _ => None,
        }
    }
}
