//! Commands that take several machine names (docker-machine's start, stop, restart,
//! kill, rm, ip, provision, regenerate-certs, upgrade): the names run at once, at most
//! [`PARALLEL`] at a time, and each one's result is reported in the order the names
//! were given, so a script reads the same output however the work interleaved.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use color_eyre::eyre::bail;
use futures::StreamExt;
use tokio::signal::unix::{signal, SignalKind};

/// How many machines a command with several names works on at once: enough to hide
/// each host's latency, few enough not to open a connection storm on a big fleet.
pub const PARALLEL: usize = 8;

/// Runs `work` for each name (at most [`PARALLEL`] at once) and hands each success to
/// `done` in the names' order, as soon as it and every name before it have finished.
///
/// A failure is printed as the CLI prints any error (`error: ...` then its `hint:`),
/// naming the machine when the message does not already, so docker-machine's wording
/// (`Docker machine "NAME" does not exist`) stays intact for scripts that match on it.
/// With one name its own error is returned instead (the binary prints it once); with
/// several, any failure makes the command fail with a count. Ctrl-C reaches every
/// running operation (each follows its own); the command then exits as interrupted.
pub async fn each<T, Fut>(
    names: &[String],
    work: impl Fn(String) -> Fut,
    mut done: impl FnMut(&str, T),
) -> color_eyre::Result<()>
where
    Fut: Future<Output = color_eyre::Result<T>>,
{
    // After Ctrl-C no further name is started (those under way stop at their next
    // step, each through its own follower); a second Ctrl-C quits at once.
    let stopping = Arc::new(AtomicBool::new(false));
    let watcher = if names.len() > 1 {
        let mut interrupts = signal(SignalKind::interrupt())?;
        let stopping = stopping.clone();
        Some(tokio::spawn(async move {
            interrupts.recv().await;
            stopping.store(true, Ordering::SeqCst);
            interrupts.recv().await;
            std::process::exit(130);
        }))
    } else {
        None
    };
    let results = futures::stream::iter(names.iter().cloned())
        .map(|name| {
            let stopping = stopping.clone();
            let job = work(name.clone());
            async move {
                if stopping.load(Ordering::SeqCst) {
                    return (name, Err(super::Interrupted.into()));
                }
                (name, job.await)
            }
        })
        .buffered(PARALLEL);
    futures::pin_mut!(results);
    let mut failed = Vec::new();
    let mut interrupted = None;
    while let Some((name, result)) = results.next().await {
        match result {
            Ok(value) => done(&name, value),
            Err(e) if e.downcast_ref::<super::Interrupted>().is_some() => interrupted = Some(e),
            Err(e) if names.len() == 1 => failed.push(e),
            Err(e) => {
                super::progress::say(&labelled(&name, &super::render_error(&e)));
                failed.push(e);
            }
        }
    }
    if let Some(watcher) = watcher {
        watcher.abort();
    }
    if let Some(e) = interrupted {
        return Err(e);
    }
    match failed.len() {
        0 => Ok(()),
        // One name: its own error, with its hint, printed once by the binary.
        1 if names.len() == 1 => Err(failed.remove(0)),
        n => bail!("{n} of {} machines failed", names.len()),
    }
}

/// `error: MESSAGE` as `error: NAME: MESSAGE` unless the message names the machine.
fn labelled(name: &str, rendered: &str) -> String {
    let quoted = format!("{name:?}");
    let mut lines = rendered.lines();
    let first = lines.next().unwrap_or_default();
    let first = if first.contains(&quoted) || first.contains(&format!(" {name} ")) {
        first.to_string()
    } else {
        let message = first.strip_prefix("error: ").unwrap_or(first);
        format!("error: {name}: {message}")
    };
    std::iter::once(first)
        .chain(lines.map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    #[test]
    fn an_error_names_its_machine_once() {
        assert_eq!(
            labelled(
                "a",
                "error: Docker machine \"a\" does not exist\nhint: flotilla ls"
            ),
            "error: Docker machine \"a\" does not exist\nhint: flotilla ls"
        );
        assert_eq!(
            labelled("web1", "error: connection refused"),
            "error: web1: connection refused"
        );
    }

    /// Results come in the names' order though later names finish first, and no more
    /// than PARALLEL run at once.
    #[tokio::test]
    async fn bounded_and_reported_in_order() {
        let names: Vec<String> = (0..20).map(|i| format!("m{i:02}")).collect();
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut seen = Vec::new();
        let result = each(
            &names,
            |name| {
                let (running, most) = (running.clone(), most.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    // Earlier names take longer, so completion order is reversed.
                    let i: u64 = name[1..].parse()?;
                    tokio::time::sleep(Duration::from_millis(40 - 2 * i)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                    if name == "m05" {
                        bail!("broken");
                    }
                    Ok(name)
                }
            },
            |name, value| {
                assert_eq!(name, value);
                seen.push(value);
            },
        )
        .await;
        let expected: Vec<String> = names.iter().filter(|n| *n != "m05").cloned().collect();
        assert_eq!(seen, expected);
        assert_eq!(most.load(Ordering::SeqCst), PARALLEL);
        assert_eq!(result.unwrap_err().to_string(), "1 of 20 machines failed");
    }
}
