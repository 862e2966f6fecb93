//! SSH client (russh): one connection per session, commands as channels on it.
//! Host keys are pinned on first contact and verified after.
//!
//!
//! Layout: `keys` (generation, parsing, fingerprints), `session` (connection,
//! host-key check, exec/upload), `attached` (interactive `run_attached`),
//! `quote` (POSIX shell quoting).

use std::time::Duration;

mod attached;
mod keys;
mod quote;
mod session;
#[cfg(test)]
mod tests;

pub use quote::shell_quote;

#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("ssh login as {user} at {addr} was refused: the key is not accepted")]
    Auth { user: String, addr: String },
    #[error("the host key of {addr} changed: pinned {expected}, offered {got}")]
    HostKeyChanged {
        addr: String,
        expected: String,
        got: String,
    },
    #[error("invalid ssh key: {0}")]
    Key(String),
    #[error("ssh channel failed: {0}")]
    Channel(String),
    #[error("timed out after {0:?} waiting for ssh at {1}")]
    Timeout(Duration, String),
    #[error("{0} has no pinned host key yet: it was never provisioned")]
    NoPinnedKey(String),
    /// A host printed more than [`MAX_OUTPUT_BYTES`]: the command was stopped there,
    /// so one host cannot fill the memory of whoever runs commands on it.
    #[error("a command on {addr} printed more than {limit} bytes and was stopped; it ended with: {tail}")]
    OutputTooLarge {
        addr: String,
        limit: usize,
        tail: String,
    },
}

/// The most output (stdout and stderr together) kept from one command; past it the
/// command fails with [`SshError::OutputTooLarge`].
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// A generated or parsed key pair, in OpenSSH formats.
#[derive(Clone)]
pub struct KeyPair {
    /// `-----BEGIN OPENSSH PRIVATE KEY-----...`
    pub private_pem: String,
    /// `ssh-ed25519 AAAA... comment`
    pub public_line: String,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public_line", &self.public_line)
            .finish_non_exhaustive()
    }
}

/// How to treat the server's host key.
#[derive(Debug, Clone)]
pub enum HostKeyCheck {
    /// First contact: accept whatever key is offered (it is then readable via `Session::host_key`).
    TrustOnFirstUse,
    /// Only this key (OpenSSH public line) is accepted; anything else is `HostKeyChanged`.
    Pinned(String),
}

#[derive(Debug, Clone)]
pub struct ExecOutput {
    pub status: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

pub struct Target<'a> {
    pub host: &'a str,
    pub port: u16,
    pub user: &'a str,
    pub private_key_pem: &'a str,
    pub host_key: HostKeyCheck,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the private key.
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("host_key", &self.host_key)
            .finish_non_exhaustive()
    }
}

/// Generates a new ed25519 key pair; `comment` ends up in the public line.
pub fn generate_ed25519(comment: &str) -> Result<KeyPair, SshError> {
    keys::generate_ed25519(comment)
}
/// Parses an OpenSSH private key (ed25519, ecdsa or rsa) and returns it with its public line.
pub fn parse_private_key(pem: &str) -> Result<KeyPair, SshError> {
    keys::parse_private_key(pem)
}
/// `SHA256:...` fingerprint of an OpenSSH public key line.
pub fn fingerprint(public_line: &str) -> Result<String, SshError> {
    keys::fingerprint(public_line)
}

/// One authenticated SSH connection. Every command runs on its own channel, so
/// the methods take `&self` and may run concurrently (share it with `Arc`).
///
/// Dropping a `Session` closes the TCP connection; `close` does it politely
/// (SSH disconnect message) and waits briefly for the connection to end.
pub struct Session {
    inner: session::Inner,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("addr", &self.inner.addr)
            .field("user", &self.inner.user)
            .field("host_key", &self.inner.host_key)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// One connection attempt, bounded by `timeout`.
    pub async fn connect(target: &Target<'_>, timeout: Duration) -> Result<Session, SshError> {
        session::connect_once(target, timeout)
            .await
            .map(|inner| Session { inner })
            .map_err(|failure| failure.error)
    }
    /// One attempt that logs in with an OpenSSH user certificate (`certificate`, the
    /// `...-cert-v01@openssh.com` line) for the target's key.
    pub async fn connect_with_certificate(
        target: &Target<'_>,
        certificate: &str,
        timeout: Duration,
    ) -> Result<Session, SshError> {
        session::connect_once_cert(target, Some(certificate), timeout)
            .await
            .map(|inner| Session { inner })
            .map_err(|failure| failure.error)
    }
    /// Retries connection-refused / unreachable until `deadline` passes (hosts booting).
    /// Auth and host-key errors are returned at once: retrying cannot fix them.
    pub async fn connect_retry(
        target: &Target<'_>,
        deadline: Duration,
    ) -> Result<Session, SshError> {
        session::connect_retry(target, deadline)
            .await
            .map(|inner| Session { inner })
    }
    /// The server's host key as an OpenSSH public line.
    pub fn host_key(&self) -> &str {
        &self.inner.host_key
    }
    /// Runs a command on a new channel; collects exit status, stdout, stderr.
    pub async fn exec(&self, command: &str) -> Result<ExecOutput, SshError> {
        self.inner.exec(command, None, None).await
    }
    /// Like `exec`, feeding `stdin` to the command and closing it.
    pub async fn exec_with_stdin(
        &self,
        command: &str,
        stdin: &[u8],
    ) -> Result<ExecOutput, SshError> {
        self.inner.exec(command, Some(stdin), None).await
    }
    /// Like `exec`, handing each piece of the command's stderr to `tap` as it arrives
    /// (a long step's output, streamed); the whole output is returned too.
    pub async fn exec_streaming_stderr(
        &self,
        command: &str,
        tap: &mut session::OutputTap<'_>,
    ) -> Result<ExecOutput, SshError> {
        self.inner.exec(command, None, Some(tap)).await
    }
    /// Writes `contents` to `path` on the host (parent dirs made), mode e.g. 0o600.
    /// Writes in place (truncate), so bind-mounted files such as /etc/hostname work.
    pub async fn upload(&self, path: &str, contents: &[u8], mode: u32) -> Result<(), SshError> {
        self.inner.upload(path, contents, mode).await
    }
    /// Interactive: a shell (command None) or a command, wired to this process's
    /// stdin/stdout/stderr. With a PTY when stdin is a terminal (raw mode, follows
    /// window resizes). Returns the remote exit status.
    /// `term` is the terminal type the PTY asks for (the user's TERM).
    pub async fn run_attached(&self, command: Option<&str>, term: &str) -> Result<u32, SshError> {
        attached::run_attached(&self.inner, command, term).await
    }
    /// Says goodbye to the server and waits (briefly) for the connection to end.
    pub async fn close(self) {
        self.inner.close().await
    }
}

/// An interactive session on a machine from what the fleet handed out for it: a shell
/// (`command` empty) or a command, on this process's terminal; the pinned host key is
/// enforced and a certificate is used when the access carries one. Both backends run
/// `Fleet::ssh_attach` through this.
pub async fn attach(
    access: &crate::api::SshAccess,
    command: &[String],
    term: &str,
) -> Result<u32, SshError> {
    let pinned = access
        .host_key
        .clone()
        .ok_or_else(|| SshError::NoPinnedKey(access.machine.clone()))?;
    let target = Target {
        host: &access.host,
        port: access.port,
        user: &access.user,
        private_key_pem: &access.private_key_pem,
        host_key: HostKeyCheck::Pinned(pinned),
    };
    let timeout = Duration::from_secs(15);
    let session = match &access.certificate {
        // A remote fleet: our own key, certified by the fleet's SSH CA for a short time.
        Some(cert) => Session::connect_with_certificate(&target, cert, timeout).await?,
        None => Session::connect(&target, timeout).await?,
    };
    let command = (!command.is_empty()).then(|| command.join(" "));
    let status = session.run_attached(command.as_deref(), term).await;
    session.close().await;
    status
}

/// The contract's wording of an SSH error for a machine (both backends use it): the
/// machine as subject, and what to do as a hint.
pub fn api_error(machine: &str, e: SshError) -> crate::api::Error {
    use crate::api::{Error, Hint, Subject};
    let err = match e {
        SshError::HostKeyChanged { expected, got, .. } => Error::host_key_changed(format!(
            "the SSH host key of {machine} changed (pinned {expected}, offered {got}): someone may be \
             intercepting the connection, or the host was rebuilt"
        ))
        .hint(Hint::Provision {
            trust_new_host_key: true,
        }),
        SshError::Auth { user, .. } => Error::ssh(format!(
            "{machine} refused the machine's SSH key for {user}: /root/.ssh/authorized_keys on the host no longer holds it"
        ))
        .hint(Hint::Remove { force: false }),
        SshError::Timeout(after, addr) => Error::ssh(format!(
            "{machine} did not answer SSH at {addr} within {}s: the host may be stopped",
            after.as_secs()
        ))
        .hint(Hint::Inspect),
        SshError::NoPinnedKey(m) => {
            Error::ssh(format!("{m} has no pinned host key yet: it was never provisioned")).hint(
                Hint::Provision {
                    trust_new_host_key: false,
                },
            )
        }
        other => Error::ssh(format!("{machine}: {other}")).caused_by(other),
    };
    err.about(Subject::Machine(machine.to_string()))
}
