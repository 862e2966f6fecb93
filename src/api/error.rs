use serde::{Deserialize, Serialize};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Errors a face shows to a user. Each message is one line that says what went wrong
/// and, where there is one, what to do; the variants survive the trip over the wire.
#[derive(
    Debug, Clone, thiserror::Error, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema,
)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum Error {
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Driver(String),
    #[error("{0}")]
    Ssh(String),
    #[error("{0}")]
    HostKeyChanged(String),
    #[error("{0}")]
    Provision(String),
    #[error("{0}")]
    Docker(String),
    #[error("{0}")]
    Store(String),
    #[error("{0}")]
    Interrupted(String),
    #[error("{0}")]
    Internal(String),
    /// No valid bearer token (HTTP 401).
    #[error("{0}")]
    Unauthorized(String),
    /// The token's role may not do this (HTTP 403); the message names the role needed.
    #[error("{0}")]
    Forbidden(String),
}

impl Error {
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidInput(msg.into())
    }
    pub fn not_found(name: &str) -> Self {
        Error::NotFound(format!(
            "no machine named {name:?}: `flotilla ls` lists the machines there are"
        ))
    }
}
