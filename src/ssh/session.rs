//! The connection: TCP + SSH handshake, host-key check, public-key login,
//! and commands as channels on the one connection.

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use russh::client::{self, Handle, Msg};
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKey};
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf, Sig};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tracing::{debug, trace};

use super::keys::{load_private_key, parse_public_line, public_line};
use super::quote::shell_quote;
use super::{ExecOutput, HostKeyCheck, SshError, Target, MAX_OUTPUT_BYTES};

/// Channels open at once on one connection. OpenSSH refuses more than
/// `MaxSessions` (default 10) per connection; stay below that.
const MAX_CHANNELS: usize = 8;
/// How much of a command's last output an error about its size quotes.
const TAIL_BYTES: usize = 400;
/// Idle connections are probed this often ...
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// ... and dropped after this many unanswered probes (a paused or vanished host).
const KEEPALIVE_MAX: usize = 3;
/// Last-resort limit on a connection that receives nothing at all.
const INACTIVITY_TIMEOUT: Duration = Duration::from_secs(300);
/// `connect_retry`: the longest single attempt, so that a host dropping SYNs
/// does not eat the whole deadline in one TCP connect.
const MAX_ATTEMPT: Duration = Duration::from_secs(15);
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The state behind `super::Session`.
pub(super) struct Inner {
    handle: Handle<Client>,
    pub(super) addr: String,
    pub(super) user: String,
    pub(super) host_key: String,
    channels: Arc<Semaphore>,
    /// Dropped with the session: tells channel clean-up tasks to let go, so
    /// the connection ends even while abandoned commands still run.
    alive: watch::Sender<()>,
}

/// A failed connection attempt, and whether trying again may help.
pub(super) struct Failure {
    pub(super) error: SshError,
    retryable: bool,
}

impl Failure {
    fn fatal(error: SshError) -> Self {
        Failure {
            error,
            retryable: false,
        }
    }
}

/// What the handshake saw, shared between the russh handler (which is moved
/// into the connection task) and `connect_once`.
#[derive(Default)]
struct Seen {
    offered: Option<PublicKey>,
    mismatch: bool,
}

struct Client {
    pinned: Option<PublicKey>,
    seen: Arc<Mutex<Seen>>,
}

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKey,
    ) -> Result<bool, Self::Error> {
        let accept = match &self.pinned {
            None => true,
            Some(pinned) => pinned.key_data() == server_public_key.key_data(),
        };
        if let Ok(mut seen) = self.seen.lock() {
            seen.offered = Some(server_public_key.clone());
            seen.mismatch = !accept;
        }
        Ok(accept)
    }
}

/// Called with each piece of a command's stderr as it arrives (streamed output).
pub type OutputTap<'a> = dyn FnMut(&[u8]) + Send + 'a;

pub(super) fn format_addr(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn client_config(pinned: Option<&PublicKey>) -> client::Config {
    let mut preferred = russh::Preferred::default();
    if let Some(pinned) = pinned {
        // Ask for the pinned key's algorithm first, so a host with several host
        // keys shows the one we know. The others stay allowed: if the host now
        // only has a different key, we see it and report HostKeyChanged.
        use russh::keys::Algorithm;
        let pinned_alg = pinned.algorithm();
        let same = |a: &Algorithm| match (a, &pinned_alg) {
            (Algorithm::Rsa { .. }, Algorithm::Rsa { .. }) => true,
            (a, b) => a == b,
        };
        let mut keys: Vec<_> = preferred.key.iter().filter(|a| same(a)).cloned().collect();
        keys.extend(preferred.key.iter().filter(|a| !same(a)).cloned());
        preferred.key = keys.into();
    }
    client::Config {
        preferred,
        inactivity_timeout: Some(INACTIVITY_TIMEOUT),
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        nodelay: true,
        ..Default::default()
    }
}

/// Errors worth retrying while a host boots: nothing listens yet, the network
/// path is not up yet, or sshd drops the connection while starting.
fn is_transient_io(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionRefused
            | ConnectionReset
            | ConnectionAborted
            | NotConnected
            | TimedOut
            | UnexpectedEof
            | BrokenPipe
    ) {
        return true;
    }
    matches!(
        e.raw_os_error(),
        Some(libc::ECONNREFUSED)
            | Some(libc::ECONNRESET)
            | Some(libc::EHOSTUNREACH)
            | Some(libc::ENETUNREACH)
            | Some(libc::EHOSTDOWN)
            | Some(libc::ENETDOWN)
            | Some(libc::ETIMEDOUT)
    )
}

fn is_transient(e: &russh::Error) -> bool {
    match e {
        russh::Error::IO(io) => is_transient_io(io),
        russh::Error::Disconnect
        | russh::Error::HUP
        | russh::Error::ConnectionTimeout
        | russh::Error::Elapsed(_)
        | russh::Error::SendError
        | russh::Error::RecvError => true,
        _ => false,
    }
}

fn describe(e: &russh::Error) -> String {
    match e {
        russh::Error::Disconnect | russh::Error::HUP => "the server closed the connection".into(),
        russh::Error::SendError | russh::Error::RecvError => "the connection was lost".into(),
        russh::Error::IO(io) => io.to_string(),
        other => other.to_string(),
    }
}

pub(super) async fn connect_once(target: &Target<'_>, timeout: Duration) -> Result<Inner, Failure> {
    connect_once_cert(target, None, timeout).await
}

/// Like `connect_once`; with `certificate` (an OpenSSH user certificate line for the
/// target's key) the login presents the certificate instead of the bare key.
pub(super) async fn connect_once_cert(
    target: &Target<'_>,
    certificate: Option<&str>,
    timeout: Duration,
) -> Result<Inner, Failure> {
    let addr = format_addr(target.host, target.port);
    // Local problems first: no point in touching the network with a bad key.
    let key = load_private_key(target.private_key_pem).map_err(Failure::fatal)?;
    let cert =
        match certificate {
            None => None,
            Some(line) => Some(russh::keys::Certificate::from_openssh(line.trim()).map_err(
                |e| Failure::fatal(SshError::Key(format!("unusable ssh certificate: {e}"))),
            )?),
        };
    let pinned = match &target.host_key {
        HostKeyCheck::TrustOnFirstUse => None,
        HostKeyCheck::Pinned(line) => Some(parse_public_line(line).map_err(|e| {
            Failure::fatal(SshError::Key(format!(
                "the pinned host key of {addr} is unusable: {e}"
            )))
        })?),
    };
    match tokio::time::timeout(timeout, handshake(target, &addr, key, cert, pinned)).await {
        Ok(result) => result,
        Err(_) => {
            debug!(%addr, ?timeout, "ssh connect timed out");
            Err(Failure {
                error: SshError::Timeout(timeout, addr),
                retryable: true,
            })
        }
    }
}

async fn handshake(
    target: &Target<'_>,
    addr: &str,
    key: PrivateKey,
    cert: Option<russh::keys::Certificate>,
    pinned: Option<PublicKey>,
) -> Result<Inner, Failure> {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let config = Arc::new(client_config(pinned.as_ref()));
    let handler = Client {
        pinned: pinned.clone(),
        seen: Arc::clone(&seen),
    };
    debug!(%addr, user = target.user, "ssh connecting");

    // `[::1]` as written in URLs and ssh configs is the address `::1`.
    let host = target.host.trim_start_matches('[').trim_end_matches(']');
    let connected = client::connect(config, (host, target.port), handler).await;
    let (offered, mismatch) = match seen.lock() {
        Ok(s) => (s.offered.clone(), s.mismatch),
        Err(_) => (None, false),
    };
    if mismatch {
        let got = offered
            .as_ref()
            .and_then(|k| public_line(k, false).ok())
            .unwrap_or_else(|| "(unreadable key)".into());
        let expected = pinned
            .as_ref()
            .and_then(|k| public_line(k, false).ok())
            .unwrap_or_default();
        return Err(Failure::fatal(SshError::HostKeyChanged {
            addr: addr.to_owned(),
            expected,
            got,
        }));
    }
    let mut handle = connected.map_err(|e| {
        debug!(%addr, error = %e, "ssh handshake failed");
        Failure {
            retryable: is_transient(&e),
            error: SshError::Connect {
                addr: addr.to_owned(),
                reason: describe(&e),
            },
        }
    })?;
    let host_key = offered
        .as_ref()
        .and_then(|k| public_line(k, false).ok())
        .ok_or_else(|| {
            Failure::fatal(SshError::Connect {
                addr: addr.to_owned(),
                reason: "the server did not present a usable host key".into(),
            })
        })?;

    let hash_alg = if key.algorithm().is_rsa() {
        match handle.best_supported_rsa_hash().await {
            Ok(Some(best)) => best,
            // The server does not say: modern servers all take rsa-sha2-256.
            Ok(None) | Err(_) => Some(russh::keys::HashAlg::Sha256),
        }
    } else {
        None
    };
    let auth_error = |e: russh::Error| Failure {
        retryable: is_transient(&e),
        error: SshError::Connect {
            addr: addr.to_owned(),
            reason: format!("during login: {}", describe(&e)),
        },
    };
    let result = match cert {
        Some(cert) => handle
            .authenticate_openssh_cert(target.user, Arc::new(key), cert)
            .await
            .map_err(auth_error)?,
        None => handle
            .authenticate_publickey(
                target.user,
                PrivateKeyWithHashAlg::new(Arc::new(key), hash_alg),
            )
            .await
            .map_err(auth_error)?,
    };
    if !result.success() {
        debug!(%addr, user = target.user, "ssh public key refused");
        return Err(Failure::fatal(SshError::Auth {
            user: target.user.to_owned(),
            addr: addr.to_owned(),
        }));
    }
    debug!(%addr, user = target.user, "ssh connected");
    Ok(Inner {
        handle,
        addr: addr.to_owned(),
        user: target.user.to_owned(),
        host_key,
        channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
        alive: watch::channel(()).0,
    })
}

pub(super) async fn connect_retry(
    target: &Target<'_>,
    deadline: Duration,
) -> Result<Inner, SshError> {
    let start = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let remaining = deadline.saturating_sub(start.elapsed());
        let budget = remaining.min(MAX_ATTEMPT).max(Duration::from_millis(100));
        match connect_once(target, budget).await {
            Ok(inner) => return Ok(inner),
            Err(Failure {
                error,
                retryable: false,
            }) => return Err(error),
            Err(Failure {
                error,
                retryable: true,
            }) => {
                let remaining = deadline.saturating_sub(start.elapsed());
                debug!(attempt, error = %error, ?remaining, "ssh not ready yet");
                if remaining.is_zero() {
                    return Err(SshError::Timeout(
                        deadline,
                        format_addr(target.host, target.port),
                    ));
                }
                tokio::time::sleep(backoff.min(remaining)).await;
                backoff = (backoff * 3 / 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Conventional shell status for a command killed by a signal (128 + number).
fn signal_status(sig: &Sig) -> u32 {
    let n = match sig {
        Sig::ABRT => libc::SIGABRT,
        Sig::ALRM => libc::SIGALRM,
        Sig::FPE => libc::SIGFPE,
        Sig::HUP => libc::SIGHUP,
        Sig::ILL => libc::SIGILL,
        Sig::INT => libc::SIGINT,
        Sig::KILL => libc::SIGKILL,
        Sig::PIPE => libc::SIGPIPE,
        Sig::QUIT => libc::SIGQUIT,
        Sig::SEGV => libc::SIGSEGV,
        Sig::TERM => libc::SIGTERM,
        Sig::USR1 => libc::SIGUSR1,
        Sig::Custom(_) => return 255,
    };
    u32::try_from(n).map_or(255, |n| 128 + n)
}

/// How a remote command ended.
#[derive(Debug, Default)]
pub(super) struct Ending {
    pub(super) status: Option<u32>,
    pub(super) signal: Option<Sig>,
}

impl Ending {
    /// The command's status, or an error when the channel closed without one.
    pub(super) fn status(&self, inner: &Inner) -> Result<u32, SshError> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        if let Some(sig) = &self.signal {
            debug!(addr = %inner.addr, ?sig, "remote command killed by a signal");
            return Ok(signal_status(sig));
        }
        Err(SshError::Channel(if inner.handle.is_closed() {
            format!(
                "the connection to {} was lost before the command finished",
                inner.addr
            )
        } else {
            format!(
                "the command's channel on {} closed without an exit status",
                inner.addr
            )
        }))
    }

    /// Records exit messages; true if `msg` was one.
    pub(super) fn record(&mut self, msg: &ChannelMsg) -> bool {
        match msg {
            ChannelMsg::ExitStatus { exit_status } => self.status = Some(*exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => self.signal = Some(signal_name.clone()),
            _ => return false,
        }
        true
    }
}

/// A channel together with the slot it occupies on the connection.
///
/// Dropped before the server closed the channel (an error, or the caller
/// dropped the future, e.g. on a timeout), it stops the remote command and
/// closes the channel in the background: SIGTERM to the command's process
/// group, EOF, close. sshd keeps the session, and its `MaxSessions` slot, for
/// as long as the command runs (and refuses signals for root logins before
/// OpenSSH 9.8), so the slot here is only given back once the server has
/// closed the channel too: later commands wait for it instead of failing.
pub(super) struct OpenChannel {
    halves: Option<(ChannelReadHalf, ChannelWriteHalf<Msg>)>,
    closed: bool,
    permit: Option<OwnedSemaphorePermit>,
    session_alive: watch::Receiver<()>,
}

impl OpenChannel {
    pub(super) fn halves(
        &mut self,
    ) -> Result<(&mut ChannelReadHalf, &ChannelWriteHalf<Msg>), SshError> {
        match &mut self.halves {
            Some((rx, tx)) => Ok((rx, &*tx)),
            None => Err(SshError::Channel("the channel is already closed".into())),
        }
    }

    /// The server has closed the channel: nothing left to clean up.
    pub(super) fn mark_closed(&mut self) {
        self.closed = true;
    }
}

impl Drop for OpenChannel {
    fn drop(&mut self) {
        if self.closed {
            return;
        }
        let (Some((mut rx, tx)), Ok(rt)) =
            (self.halves.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let permit = self.permit.take();
        let mut session_alive = self.session_alive.clone();
        // Requests on a channel the server already closed are no-ops in russh.
        rt.spawn(async move {
            let _ = tx.signal(Sig::TERM).await;
            let _ = tx.eof().await;
            let _ = tx.close().await;
            tokio::select! {
                // The server closed the channel, or the connection ended.
                () = async { while rx.wait().await.is_some() {} } => {}
                // The session was dropped: holding `tx` would keep it open.
                _ = session_alive.changed() => {}
            }
            drop(permit);
        });
    }
}

impl Inner {
    pub(super) async fn open_channel(&self) -> Result<OpenChannel, SshError> {
        let permit = Arc::clone(&self.channels)
            .acquire_owned()
            .await
            .map_err(|_| SshError::Channel(format!("the session to {} is closed", self.addr)))?;
        let channel = self.handle.channel_open_session().await.map_err(|e| {
            let reason = match e {
                russh::Error::ChannelOpenFailure(_) => {
                    "the server refused a new session (too many open, see MaxSessions)".to_owned()
                }
                e => describe(&e),
            };
            SshError::Channel(format!("cannot open a channel to {}: {reason}", self.addr))
        })?;
        Ok(OpenChannel {
            halves: Some(channel.split()),
            closed: false,
            permit: Some(permit),
            session_alive: self.alive.subscribe(),
        })
    }

    fn channel_error(&self, what: &str, e: russh::Error) -> SshError {
        SshError::Channel(format!("{what} on {}: {}", self.addr, describe(&e)))
    }

    pub(super) async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        stderr_tap: Option<&mut OutputTap<'_>>,
    ) -> Result<ExecOutput, SshError> {
        debug!(addr = %self.addr, len = command.len(), "ssh exec");
        trace!(addr = %self.addr, command, "ssh exec");
        let mut channel = self.open_channel().await?;
        let (rx, tx) = channel.halves()?;
        let result = self.exec_on(rx, tx, command, stdin, stderr_tap).await;
        if result.is_ok() {
            channel.mark_closed();
        }
        result
    }

    async fn exec_on(
        &self,
        rx: &mut ChannelReadHalf,
        tx: &ChannelWriteHalf<Msg>,
        command: &str,
        stdin: Option<&[u8]>,
        stderr_tap: Option<&mut OutputTap<'_>>,
    ) -> Result<ExecOutput, SshError> {
        tx.exec(true, command)
            .await
            .map_err(|e| self.channel_error("cannot start the command", e))?;
        let input = async {
            if let Some(bytes) = stdin {
                tx.data(bytes).await?;
            }
            tx.eof().await
        };
        let (ending, stdout, stderr) = self.collect(rx, input, stderr_tap).await?;
        let status = ending.status(self)?;
        Ok(ExecOutput {
            status,
            stdout,
            stderr,
        })
    }

    /// Reads the channel until it closes, while `input` feeds the command's
    /// stdin. Both run together: the command may fill its output window before
    /// it reads all its input, and it may exit without reading it at all.
    async fn collect(
        &self,
        rx: &mut ChannelReadHalf,
        input: impl Future<Output = Result<(), russh::Error>>,
        mut stderr_tap: Option<&mut OutputTap<'_>>,
    ) -> Result<(Ending, Vec<u8>, Vec<u8>), SshError> {
        tokio::pin!(input);
        let mut input_done = false;
        let mut ending = Ending::default();
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        loop {
            tokio::select! {
                r = &mut input, if !input_done => {
                    input_done = true;
                    if let Err(e) = r {
                        // The command may have exited without reading: its status tells.
                        debug!(addr = %self.addr, error = %e, "ssh exec: stdin not fully sent");
                    }
                }
                msg = rx.wait() => match msg {
                    None | Some(ChannelMsg::Close) => break,
                    Some(ChannelMsg::Data { data }) => {
                        stdout.extend_from_slice(&data);
                        self.within_cap(&stdout, &stderr)?;
                    }
                    Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                        if let Some(tap) = stderr_tap.as_mut() {
                            tap(&data);
                        }
                        stderr.extend_from_slice(&data);
                        self.within_cap(&stdout, &stderr)?;
                    }
                    Some(ChannelMsg::Failure) => {
                        return Err(SshError::Channel(format!("{} refused to run the command", self.addr)));
                    }
                    Some(msg) => {
                        ending.record(&msg);
                    }
                },
            }
        }
        Ok((ending, stdout, stderr))
    }

    /// Fails once a command's output passes [`MAX_OUTPUT_BYTES`], with the tail of what
    /// it printed last (stderr if any, else stdout); the channel closes when dropped.
    fn within_cap(&self, stdout: &[u8], stderr: &[u8]) -> Result<(), SshError> {
        if stdout.len() + stderr.len() <= MAX_OUTPUT_BYTES {
            return Ok(());
        }
        let from = if stderr.is_empty() { stdout } else { stderr };
        let tail = &from[from.len().saturating_sub(TAIL_BYTES)..];
        let tail = String::from_utf8_lossy(tail);
        let tail: String = tail
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        Err(SshError::OutputTooLarge {
            addr: self.addr.clone(),
            limit: MAX_OUTPUT_BYTES,
            tail: tail.trim().to_string(),
        })
    }

    pub(super) async fn upload(
        &self,
        path: &str,
        contents: &[u8],
        mode: u32,
    ) -> Result<(), SshError> {
        let command = upload_command(path, mode)?;
        debug!(addr = %self.addr, path, bytes = contents.len(), mode = format_args!("{mode:o}"), "ssh upload");
        let out = self.exec(&command, Some(contents), None).await?;
        if out.status != 0 {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim();
            return Err(SshError::Channel(format!(
                "writing {path} on {} failed (exit status {}){}{}",
                self.addr,
                out.status,
                if stderr.is_empty() { "" } else { ": " },
                stderr
            )));
        }
        Ok(())
    }

    pub(super) async fn close(self) {
        debug!(addr = %self.addr, "ssh disconnect");
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "bye", "en")
            .await;
        // The connection task ends once the server has the message (or the
        // socket fails); do not wait long for a host that went away.
        let _ = tokio::time::timeout(Duration::from_secs(2), self.handle).await;
    }
}

/// `sh -c '...'` that writes stdin into `path` in place (truncate, same inode),
/// creating parent directories; new files are never readable by others, even
/// for a moment.
pub(super) fn upload_command(path: &str, mode: u32) -> Result<String, SshError> {
    if path.is_empty() {
        return Err(SshError::Channel("upload: the remote path is empty".into()));
    }
    if path.contains('\0') {
        return Err(SshError::Channel(
            "upload: the remote path contains a NUL byte".into(),
        ));
    }
    if path.ends_with('/') {
        return Err(SshError::Channel(format!(
            "upload: the remote path {path:?} names a directory"
        )));
    }
    if mode > 0o7777 {
        return Err(SshError::Channel(format!(
            "upload: invalid file mode {mode:o}"
        )));
    }
    let dir = match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => ".",
    };
    let (p, d) = (shell_quote(path), shell_quote(dir));
    // An existing file gets its new mode before the new contents go in, so
    // narrowing a mode never exposes the new contents.
    let script = format!(
        "umask 077; mkdir -p -- {d} || exit 1; \
         if [ -e {p} ]; then chmod {mode:o} -- {p} || exit 1; fi; \
         cat > {p} && chmod {mode:o} -- {p}"
    );
    Ok(format!("sh -c {}", shell_quote(&script)))
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn addr_formatting() {
        assert_eq!(format_addr("10.0.0.1", 22), "10.0.0.1:22");
        assert_eq!(format_addr("::1", 2222), "[::1]:2222");
    }

    #[test]
    fn upload_command_quotes() {
        let c = upload_command("/tmp/a b/it's", 0o600).expect("command");
        assert!(c.starts_with("sh -c '"), "{c}");
        assert!(upload_command("", 0o600).is_err());
        assert!(upload_command("/a\0b", 0o600).is_err());
        assert!(upload_command("/etc/", 0o600).is_err());
        assert!(upload_command("/etc/x", 0o17777).is_err());
    }

    #[test]
    fn transient_errors() {
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(is_transient(&russh::Error::IO(refused)));
        assert!(is_transient(&russh::Error::IO(
            io::Error::from_raw_os_error(libc::EHOSTUNREACH)
        )));
        assert!(is_transient(&russh::Error::Disconnect));
        assert!(!is_transient(&russh::Error::UnknownKey));
        assert!(!is_transient(&russh::Error::IO(io::Error::from(
            io::ErrorKind::PermissionDenied
        ))));
    }

    #[test]
    fn signal_statuses() {
        assert_eq!(signal_status(&Sig::KILL), 137);
        assert_eq!(signal_status(&Sig::TERM), 143);
        assert_eq!(signal_status(&Sig::Custom("XCPU".into())), 255);
    }
}
