//! Following an operation: progress bars on a terminal, plain lines otherwise, and
//! Ctrl-C that asks the operation to stop at its next step (a second Ctrl-C quits).

use std::future::Future;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use crate::api::{self, newest_event_id, FollowFrom};
use crate::api::{ErrorKind, EventKind, Fleet, Operation, Result};

/// The user interrupted; the binary exits with 130 like a shell would.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

/// Starts an operation and follows it to its end, drawing its steps.
/// Returns the operation's error as the error.
pub async fn follow(
    fleet: &Arc<dyn Fleet>,
    start: impl Future<Output = Result<Operation>>,
) -> color_eyre::Result<Operation> {
    // Mark the log before starting, so the follower replays every event of the new
    // operation from there, however soon they come.
    let mark = newest_event_id(&**fleet).await?;
    let events = api::follow(fleet.clone(), FollowFrom::after(mark));
    futures::pin_mut!(events);
    let op = start.await?;
    let view = View::new(&op);
    let mut cancelled = false;
    // One listener for the whole wait: a fresh `ctrl_c()` per loop turn would miss a
    // signal that lands between two turns.
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut poll = tokio::time::interval(Duration::from_secs(2));
    poll.tick().await;
    let finished = loop {
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(ev)) if ev.kind.operation_id() == Some(op.id.as_str()) => {
                    match ev.kind {
                        EventKind::OperationProgress { step, total, name, done, .. } => view.step(step, total, &name, done),
                        EventKind::OperationOutput { line, .. } => view.output(&line),
                        EventKind::OperationFinished { operation } => break operation,
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
                // The backend is unreachable for now: the follower resumes; the poll
                // below notices the end should the events not come back.
                Some(Err(e)) => tracing::debug!("following {}: {e}", op.id),
                None => {
                    let now = fleet.operation(&op.id).await?;
                    if now.is_finished() { break now; }
                }
            },
            _ = interrupts.recv() => {
                if cancelled {
                    view.finish();
                    return Err(Interrupted.into());
                }
                cancelled = true;
                view.note(&format!("{}: interrupting at the next step (Ctrl-C again to quit now)", op.target));
                fleet.cancel(&op.id).await.ok();
            }
            _ = poll.tick() => {
                // A safety net should the finish event be missed.
                let now = fleet.operation(&op.id).await?;
                if now.is_finished() { break now; }
            }
        }
    };
    view.finish();
    match finished.result() {
        Some(Err(e)) if e.is(ErrorKind::Interrupted) => {
            eprintln!("{}: {e}", finished.target);
            if let Some(cmd) = e
                .hint
                .as_ref()
                .and_then(|h| super::hint::hint_command(h, e.subject.as_ref()))
            {
                eprintln!("hint: {cmd}");
            }
            Err(Interrupted.into())
        }
        Some(Err(e)) => Err(e.into()),
        _ => Ok(finished),
    }
}

/// Every bar of this process, stacked: a command with several names follows several
/// operations at once (src/cli/each.rs), and lone bars would draw over each other.
static BARS: std::sync::LazyLock<MultiProgress> = std::sync::LazyLock::new(MultiProgress::new);

/// A line on stderr that does not tear the bars being drawn.
pub fn say(line: &str) {
    BARS.suspend(|| eprintln!("{line}"));
}

/// Seconds an operation took, for "created web1 in 12.3s".
pub fn took(op: &Operation) -> String {
    let ms = op.finished_ms.unwrap_or(op.started_ms) - op.started_ms;
    format!("{:.1}s", ms as f64 / 1000.0)
}

enum View {
    Bar(ProgressBar),
    Lines(String),
}

impl View {
    fn new(op: &Operation) -> View {
        if std::io::stderr().is_terminal() {
            let bar = BARS.add(ProgressBar::new(op.steps.len() as u64));
            let style = ProgressStyle::with_template(
                "{spinner:.cyan} {prefix:.bold} [{bar:20.cyan/blue}] {pos}/{len} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(op.target.clone());
            bar.enable_steady_tick(Duration::from_millis(120));
            View::Bar(bar)
        } else {
            View::Lines(op.target.clone())
        }
    }

    fn step(&self, step: usize, total: usize, name: &str, done: bool) {
        match self {
            View::Bar(bar) => {
                if done {
                    bar.set_position(step as u64);
                } else {
                    bar.set_message(name.to_string());
                }
            }
            View::Lines(target) => {
                if !done {
                    eprintln!("{target}: [{step}/{total}] {name}");
                }
            }
        }
    }

    /// A line the running step printed on the host: the bar's message on a terminal,
    /// a `NAME: | line` log line otherwise.
    fn output(&self, line: &str) {
        match self {
            View::Bar(bar) => bar.set_message(line.chars().take(60).collect::<String>()),
            View::Lines(target) => eprintln!("{target}: | {line}"),
        }
    }

    fn note(&self, msg: &str) {
        match self {
            View::Bar(bar) => bar.println(msg),
            View::Lines(_) => eprintln!("{msg}"),
        }
    }

    fn finish(&self) {
        if let View::Bar(bar) = self {
            bar.finish_and_clear();
            BARS.remove(bar);
        }
    }
}
