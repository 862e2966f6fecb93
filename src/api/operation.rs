use serde::{Deserialize, Serialize};

use super::Error;

/// The most operations one `Fleet::operations` call returns.
pub const MAX_OPERATIONS_PAGE: u32 = 1000;

/// Refuses an operations page size outside 1..=1000.
pub fn validate_operations_limit(limit: u32) -> Result<u32, Error> {
    if (1..=MAX_OPERATIONS_PAGE).contains(&limit) {
        Ok(limit)
    } else {
        Err(Error::invalid(format!(
            "limit {limit} is out of range: ask for 1 to {MAX_OPERATIONS_PAGE} operations"
        )))
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OperationKind {
    Create,
    Remove,
    Provision,
    RegenerateCerts,
    SwarmCreate,
    SwarmScale,
    SwarmJoin,
    SwarmRemove,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OperationKind::Create => "create",
            OperationKind::Remove => "rm",
            OperationKind::Provision => "provision",
            OperationKind::RegenerateCerts => "regenerate-certs",
            OperationKind::SwarmCreate => "swarm-create",
            OperationKind::SwarmScale => "swarm-scale",
            OperationKind::SwarmJoin => "swarm-join",
            OperationKind::SwarmRemove => "swarm-rm",
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

/// The first step of removing a machine whose host flotilla did not make (the generic
/// driver): the host is left running; `rm` says so.
pub const STEP_LEAVE_HOST: &str = "leave the host running (generic: flotilla did not make it)";

impl Operation {
    /// Whether this removal left the machine's host running.
    pub fn left_host_running(&self) -> bool {
        self.steps.iter().any(|s| s.name == STEP_LEAVE_HOST)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Step {
    pub name: String,
    pub state: StepState,
    /// Milliseconds the step took, once it ended.
    pub elapsed_ms: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    Failed { error: Error },
}

/// Long work (create, rm, provision, regenerate-certs) as something that can be
/// watched, awaited and resumed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Operation {
    pub id: String,
    pub kind: OperationKind,
    pub target: String,
    pub steps: Vec<Step>,
    pub outcome: Option<Outcome>,
    /// Unix time in milliseconds.
    pub started_ms: i64,
    pub finished_ms: Option<i64>,
}

impl Operation {
    pub fn is_finished(&self) -> bool {
        self.outcome.is_some()
    }
    /// The operation's result as a `Result`, once it has finished.
    pub fn result(&self) -> Option<Result<(), Error>> {
        match &self.outcome {
            None => None,
            Some(Outcome::Succeeded) => Some(Ok(())),
            Some(Outcome::Failed { error }) => Some(Err(error.clone())),
        }
    }
}
