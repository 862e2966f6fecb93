//! `run_attached`: a remote shell or command wired to this process's
//! stdin/stdout/stderr, with a PTY and raw mode when stdin is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use russh::client::Msg;
use russh::{ChannelMsg, ChannelReadHalf, ChannelWriteHalf};
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tracing::debug;

use super::session::{Ending, Inner};
use super::SshError;

pub(super) async fn run_attached(
    inner: &Inner,
    command: Option<&str>,
    term: &str,
) -> Result<u32, SshError> {
    let tty = std::io::stdin().is_terminal();
    debug!(addr = %inner.addr, tty, shell = command.is_none(), "ssh attach");
    let mut channel = inner.open_channel().await?;
    let (rx, tx) = channel.halves()?;
    let result = attach(inner, rx, tx, command, tty, term).await;
    if result.is_ok() {
        channel.mark_closed();
    }
    result
}

async fn attach(
    inner: &Inner,
    rx: &mut ChannelReadHalf,
    tx: &ChannelWriteHalf<Msg>,
    command: Option<&str>,
    tty: bool,
    term: &str,
) -> Result<u32, SshError> {
    let channel_error =
        |what: &str, e: russh::Error| SshError::Channel(format!("{what} on {}: {e}", inner.addr));

    // Resizes are watched from before the PTY exists, so none is missed.
    let mut winch: Option<Signal> = None;
    if tty {
        winch = match signal(SignalKind::window_change()) {
            Ok(s) => Some(s),
            Err(e) => {
                debug!(error = %e, "cannot watch terminal resizes");
                None
            }
        };
        let (cols, rows) = terminal_size();
        // No reply wanted: like ssh(1), go on without a PTY if the server refuses one.
        tx.request_pty(false, term, cols, rows, 0, 0, &[])
            .await
            .map_err(|e| channel_error("cannot request a terminal", e))?;
    }
    match command {
        Some(command) => tx.exec(true, command).await,
        None => tx.request_shell(true).await,
    }
    .map_err(|e| channel_error("cannot start the command", e))?;

    // From here on the local terminal is raw; the guard restores it on every
    // way out of this function (return, error, panic).
    let _raw = if tty { Some(RawMode::enable()?) } else { None };
    let mut stdin = StdinPump::start();
    let mut out = tokio::io::stdout();
    let mut err = tokio::io::stderr();

    let input = async {
        while let Some(bytes) = stdin.recv().await {
            tx.data(&bytes[..]).await?;
        }
        tx.eof().await
    };
    tokio::pin!(input);
    let mut input_done = false;
    let mut ending = Ending::default();
    loop {
        tokio::select! {
            r = &mut input, if !input_done => {
                input_done = true;
                if let Err(e) = r {
                    debug!(error = %e, "ssh attach: stdin forwarding stopped");
                }
            }
            resized = next_resize(&mut winch) => {
                if resized {
                    let (cols, rows) = terminal_size();
                    if let Err(e) = tx.window_change(cols, rows, 0, 0).await {
                        debug!(error = %e, "ssh attach: window change not sent");
                    }
                } else {
                    winch = None;
                }
            }
            msg = rx.wait() => match msg {
                None | Some(ChannelMsg::Close) => break,
                Some(ChannelMsg::Data { data }) => {
                    write_local(&mut out, &data).await;
                }
                Some(ChannelMsg::ExtendedData { data, ext: 1 }) => {
                    write_local(&mut err, &data).await;
                }
                Some(ChannelMsg::Failure) => {
                    return Err(SshError::Channel(format!(
                        "{} refused to start the {}",
                        inner.addr,
                        if command.is_some() { "command" } else { "shell" }
                    )));
                }
                Some(msg) => {
                    ending.record(&msg);
                }
            },
        }
    }
    let _ = out.flush().await;
    let _ = err.flush().await;
    ending.status(inner)
}

async fn write_local<W: tokio::io::AsyncWrite + Unpin>(w: &mut W, data: &[u8]) {
    // A closed local stdout (e.g. `| head`) must not abort the remote side's
    // exit handling; the data is dropped like ssh(1) would.
    if w.write_all(data).await.is_ok() {
        let _ = w.flush().await;
    }
}

/// True on a resize; false if the signal stream ended; never if not watching.
async fn next_resize(winch: &mut Option<Signal>) -> bool {
    match winch {
        Some(s) => s.recv().await.is_some(),
        None => std::future::pending().await,
    }
}

fn terminal_size() -> (u32, u32) {
    match crossterm::terminal::size() {
        Ok((cols, rows)) if cols > 0 && rows > 0 => (u32::from(cols), u32::from(rows)),
        _ => (80, 24),
    }
}

/// Local terminal in raw mode for as long as this lives.
struct RawMode;

impl RawMode {
    fn enable() -> Result<RawMode, SshError> {
        crossterm::terminal::enable_raw_mode().map_err(|e| {
            SshError::Channel(format!("cannot put the local terminal into raw mode: {e}"))
        })?;
        Ok(RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Err(e) = crossterm::terminal::disable_raw_mode() {
            debug!(error = %e, "cannot restore the local terminal");
        }
    }
}

/// Reads this process's stdin on a plain thread that can be stopped.
///
/// `tokio::io::stdin` would leave a blocking `read` behind when the remote side
/// ends first: it steals the next keystroke and stalls runtime shutdown until
/// the user presses a key. Here the thread polls with a short timeout, checks
/// a stop flag, and only reads when data is ready.
struct StdinPump {
    rx: Option<mpsc::Receiver<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StdinPump {
    const POLL_MS: libc::c_int = 100;

    fn start() -> StdinPump {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(16);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("ssh-stdin".into())
            .spawn(move || pump(&tx, &flag));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(e) => {
                // Without the thread stdin reads as empty: the remote side sees EOF.
                debug!(error = %e, "cannot start the stdin thread");
                None
            }
        };
        StdinPump {
            rx: Some(rx),
            stop,
            thread,
        }
    }

    /// The next chunk of stdin; None at end of input.
    async fn recv(&mut self) -> Option<Vec<u8>> {
        match self.rx.as_mut() {
            Some(rx) => rx.recv().await,
            None => None,
        }
    }
}

impl Drop for StdinPump {
    fn drop(&mut self) {
        // Receiver first: a thread blocked on a full queue then fails at once.
        self.rx = None;
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            // Returns within one poll interval; afterwards nothing reads stdin.
            let _ = t.join();
        }
    }
}

fn pump(tx: &mpsc::Sender<Vec<u8>>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 8192];
    while !stop.load(Ordering::SeqCst) {
        let mut pfd = libc::pollfd {
            fd: libc::STDIN_FILENO,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is a valid pollfd for the duration of the call, count 1.
        let ready = unsafe { libc::poll(&mut pfd, 1, StdinPump::POLL_MS) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if ready == 0 || stop.load(Ordering::SeqCst) {
            continue;
        }
        // Ready (or hung up / invalid: read then reports EOF or an error).
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
        let n = unsafe { libc::read(libc::STDIN_FILENO, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            match std::io::Error::last_os_error().kind() {
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => continue,
                _ => return,
            }
        }
        // n > 0 here, and read(2) never returns more than asked for.
        let chunk = match usize::try_from(n).ok().and_then(|n| buf.get(..n)) {
            Some(chunk) if !chunk.is_empty() => chunk,
            _ => return, // end of input
        };
        if tx.blocking_send(chunk.to_vec()).is_err() {
            return;
        }
    }
}
