//! Errors a face can act on: a kind (what class of failure, which decides the HTTP
//! status and the exit code), one line of message, the subject it is about and a hint
//! as data (what to do next). The CLI prints the hint as a command, the TUI as a key;
//! neither has to parse a sentence. All of it survives the trip over the wire.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What class of failure an error is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request itself is wrong (HTTP 400).
    InvalidInput,
    NotFound,
    AlreadyExists,
    /// The target is busy or in a state that refuses this (HTTP 409).
    Conflict,
    Driver,
    Ssh,
    /// The host answered with a key other than the pinned one.
    HostKeyChanged,
    Provision,
    Docker,
    Store,
    /// Stopped on request (Ctrl-C, cancel); what was made stays recorded.
    Interrupted,
    Internal,
    /// No valid bearer token (HTTP 401).
    Unauthorized,
    /// The token's role may not do this (HTTP 403).
    Forbidden,
    /// The server (or another backend) cannot be reached now; trying again may work.
    Unavailable,
    /// An answer of a kind this build does not know (a newer server).
    #[serde(other)]
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Driver => "driver",
            ErrorKind::Ssh => "ssh",
            ErrorKind::HostKeyChanged => "host_key_changed",
            ErrorKind::Provision => "provision",
            ErrorKind::Docker => "docker",
            ErrorKind::Store => "store",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Other => "other",
        }
    }
}

/// What an error is about.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Subject {
    Machine(String),
    Swarm(String),
    Operation(String),
    Token(String),
    /// The server a client talks to (its URL).
    Server(String),
}

impl Subject {
    pub fn name(&self) -> &str {
        match self {
            Subject::Machine(n)
            | Subject::Swarm(n)
            | Subject::Operation(n)
            | Subject::Token(n)
            | Subject::Server(n) => n,
        }
    }
}

/// What the user can do about an error, as an action on the error's subject. Faces
/// render it their own way: the CLI as a command line, the TUI as the key bound to it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Hint {
    /// See what exists (machines, or swarms when the subject is a swarm).
    List,
    /// Look at the subject as it is now.
    Inspect,
    /// Provision the machine again; `trust_new_host_key` when its host key changed on
    /// purpose (a rebuilt host).
    Provision {
        #[serde(default)]
        trust_new_host_key: bool,
    },
    /// Remove the subject; `force` drops the record even when its host is gone.
    Remove {
        #[serde(default)]
        force: bool,
    },
    /// Start the machine.
    Start,
    /// Run the swarm's converge again (a scale finishes what a create or scale left),
    /// with the targets of the interrupted scale when there were some.
    Converge {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        managers: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        workers: Option<u32>,
        #[serde(default)]
        force: bool,
    },
    /// Log in to the server again (a token that expired or was revoked).
    Login,
    /// Try again later: the backend did not answer.
    Retry,
    /// Read a log of the subject's, named here (e.g. `journalctl -u docker` on the host).
    ReadLog { log: String },
}

/// An error as every face shows it. `Display` is the one-line message.
#[derive(Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Hint>,
    /// The lower error this one came from, kept for logs and `source()` chains; it
    /// does not cross the wire.
    #[serde(skip)]
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for Error {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
            && self.message == other.message
            && self.subject == other.subject
            && self.hint == other.hint
    }
}
impl Eq for Error {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.kind).field("message", &self.message);
        if let Some(s) = &self.subject {
            d.field("subject", s);
        }
        if let Some(h) = &self.hint {
            d.field("hint", h);
        }
        if let Some(s) = &self.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            subject: None,
            hint: None,
            source: None,
        }
    }
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn is(&self, kind: ErrorKind) -> bool {
        self.kind == kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Names what the error is about.
    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = Some(subject);
        self
    }
    /// Says what to do about it.
    pub fn hint(mut self, hint: Hint) -> Self {
        self.hint = Some(hint);
        self
    }
    /// Keeps the lower error this one came from.
    pub fn caused_by(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }
    /// The same error with its message prefixed (`web1: ...`), kind and hint kept.
    pub fn context(mut self, prefix: impl fmt::Display) -> Self {
        self.message = format!("{prefix}: {}", self.message);
        self
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidInput, msg)
    }
    /// No machine of that name.
    pub fn not_found(name: &str) -> Self {
        Error::new(
            ErrorKind::NotFound,
            format!("Docker machine {name:?} does not exist"),
        )
        .about(Subject::Machine(name.to_string()))
        .hint(Hint::List)
    }
    /// Something else that does not exist, said in the caller's words.
    pub fn missing(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::NotFound, msg)
    }
    pub fn already_exists(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::AlreadyExists, msg)
    }
    pub fn conflict(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Conflict, msg)
    }
    pub fn driver(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Driver, msg)
    }
    pub fn ssh(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Ssh, msg)
    }
    pub fn host_key_changed(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::HostKeyChanged, msg)
    }
    pub fn provision(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Provision, msg)
    }
    pub fn docker(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Docker, msg)
    }
    pub fn store(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Store, msg)
    }
    pub fn interrupted(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Interrupted, msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, msg)
    }
    pub fn unauthorized(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unauthorized, msg)
    }
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Forbidden, msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Error::new(ErrorKind::Unavailable, msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_shape_keeps_kind_message_subject_and_hint() {
        let e = Error::not_found("web1");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["kind"], "not_found");
        assert_eq!(json["message"], "Docker machine \"web1\" does not exist");
        assert_eq!(json["subject"]["type"], "machine");
        assert_eq!(json["subject"]["name"], "web1");
        assert_eq!(json["hint"]["action"], "list");
        let back: Error = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn older_and_newer_servers_still_parse() {
        // A server before subjects and hints answered only kind and message.
        let old: Error = serde_json::from_str(r#"{"kind":"conflict","message":"busy"}"#).unwrap();
        assert_eq!(old.kind(), ErrorKind::Conflict);
        assert_eq!(old.to_string(), "busy");
        // A kind from a newer server is still an error with its message.
        let new: Error =
            serde_json::from_str(r#"{"kind":"quota_exceeded","message":"too many"}"#).unwrap();
        assert_eq!(new.kind(), ErrorKind::Other);
        assert_eq!(new.to_string(), "too many");
    }

    #[test]
    fn sources_are_kept_but_not_sent() {
        let io = std::io::Error::other("disk on fire");
        let e = Error::store("cannot write the store").caused_by(io);
        assert_eq!(
            std::error::Error::source(&e).map(|s| s.to_string()),
            Some("disk on fire".to_string())
        );
        assert!(!serde_json::to_string(&e).unwrap().contains("fire"));
    }
}
