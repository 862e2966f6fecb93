//! `flotilla events`: the fleet's changes as they happen, one line each, like
//! `docker events`. Every process on a fleet records its events in the store; the one
//! follower (`api::follow`) replays that log and follows it, so this sees what `create`
//! in another terminal does. `--since` replays from a point; `--until` stops.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::bail;
use futures::StreamExt;

use super::output::Output;
use crate::api::now_ms;
use crate::api::{follow, newest_event_id, FollowFrom};
use crate::api::{format_utc, parse_duration, parse_utc};
use crate::api::{glob, Event, EventKind, EventQuery, FilterKey, Filters, Fleet, Outcome};

#[derive(Debug, Args)]
#[command(after_help = "Filters (repeatable; one value of each key must match):
  machine=NAME     the machine (or other target) it is about; * wildcards
  type=TYPE        health_changed, machine_state_changed, swarm_node_joined, ...
                   or a family: machine, operation, health, swarm
  operation=ID     events of one operation

Times: a duration back from now (10m, 2h), an RFC 3339 timestamp
(2024-05-01T12:00:00Z, 2024-05-01), or an event id (42 or #42: the events after it).")]
pub struct EventsArgs {
    /// Replay recorded events from this point, then follow.
    #[arg(long, value_name = "TIME|ID")]
    pub since: Option<String>,
    /// Stop at this point (a time in the past replays and exits).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Keep only matching events: machine=NAME, type=TYPE, operation=ID. Repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// Output format: a line per event, or a JSON object per line.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

/// Where a replay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Since {
    Id(u64),
    Time(i64),
}

fn parse_point(s: &str, now: i64) -> Result<Since, String> {
    let t = s.trim();
    if let Some(id) = t.strip_prefix('#') {
        return id
            .parse()
            .map(Since::Id)
            .map_err(|_| format!("{s:?} is not an event id"));
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .map(Since::Id)
            .map_err(|_| format!("{s:?} is not an event id"));
    }
    if let Some(ms) = parse_utc(t) {
        return Ok(Since::Time(ms));
    }
    match parse_duration(t) {
        Ok(d) => Ok(Since::Time(now - d.as_millis().min(i64::MAX as u128) as i64)),
        Err(_) => Err(format!(
            "cannot read {s:?}: give a duration (10m), a timestamp (2024-05-01T12:00:00Z) or an event id (42)"
        )),
    }
}

/// What `events --filter` takes.
const EVENT_FILTERS: &[FilterKey] = &[
    FilterKey {
        name: "machine",
        aliases: &["target", "swarm"],
    },
    FilterKey {
        name: "type",
        aliases: &["event"],
    },
    FilterKey {
        name: "operation",
        aliases: &["op"],
    },
];

/// Kept when, for every key given, one of its values matches.
fn keep(filters: &Filters, ev: &Event) -> bool {
    let kind = type_name(&ev.kind);
    filters.keep(|key, v| match key {
        "machine" => glob(v, ev.kind.target()),
        "type" => kind == v || kind.split('_').next() == Some(v),
        "operation" => ev.kind.operation_id() == Some(v),
        _ => false,
    })
}

/// The event's `type` tag as it is on the wire (`health_changed`).
fn type_name(kind: &EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// What happened, in a few words after the type and target.
fn details(kind: &EventKind) -> String {
    match kind {
        EventKind::MachineCreated { .. } | EventKind::MachineRemoved { .. } => String::new(),
        EventKind::MachineStateChanged { from, to, .. } => format!("{from} -> {to}"),
        EventKind::HealthChanged {
            from, to, reasons, ..
        } => {
            if reasons.is_empty() {
                format!("{from} -> {to}")
            } else {
                format!("{from} -> {to}: {}", reasons.join("; "))
            }
        }
        EventKind::OperationStarted { operation } => {
            format!("{} {}", operation.kind.as_str(), operation.id)
        }
        EventKind::OperationProgress {
            operation_id,
            step,
            total,
            name,
            done,
            ..
        } => format!(
            "{operation_id} [{step}/{total}] {name}{}",
            if *done { " done" } else { "" }
        ),
        EventKind::OperationFinished { operation } => {
            let took = super::progress::took(operation);
            match &operation.outcome {
                Some(Outcome::Failed { error }) => {
                    format!("{} failed after {took}: {error}", operation.id)
                }
                _ => format!("{} succeeded in {took}", operation.id),
            }
        }
        EventKind::SwarmNodeJoined {
            swarm,
            role,
            node_id,
            ..
        } => format!("joined swarm {swarm} as {role} (node {node_id})"),
        EventKind::SwarmNodeLeft {
            swarm,
            node_id,
            forced,
            ..
        } => format!(
            "left swarm {swarm} (node {node_id}{})",
            if *forced {
                ", removed with --force"
            } else {
                ""
            }
        ),
        EventKind::OperationOutput {
            operation_id, line, ..
        } => format!("{operation_id} | {line}"),
        EventKind::AutoscaleDecided {
            reason, dry_run, ..
        } => format!(
            "autoscaler{}: {reason}",
            if *dry_run { " (dry run)" } else { "" }
        ),
        // Kinds added later print their fields as key=value.
        #[allow(unreachable_patterns)]
        other => generic_details(other),
    }
}

fn generic_details(kind: &EventKind) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(kind) else {
        return String::new();
    };
    map.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "machine"))
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn line(ev: &Event) -> String {
    let mut parts = vec![
        format_utc(ev.time_ms),
        type_name(&ev.kind),
        ev.kind.target().to_string(),
    ];
    let d = details(&ev.kind);
    if !d.is_empty() {
        parts.push(d);
    }
    if ev.seq > 0 {
        parts.push(format!("#{}", ev.seq));
    }
    parts.join(" ")
}

/// Writes events; false when the reader went away.
fn emit(events: &[Event], filters: &Filters, output: Output) -> color_eyre::Result<bool> {
    let mut out = String::new();
    for ev in events.iter().filter(|e| keep(filters, e)) {
        match output {
            Output::Json => out.push_str(&serde_json::to_string(ev)?),
            Output::Table => out.push_str(&line(ev)),
        }
        out.push('\n');
    }
    if out.is_empty() {
        return Ok(true);
    }
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(out.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        other => {
            other?;
            Ok(true)
        }
    }
}

pub async fn run(fleet: Arc<dyn Fleet>, args: EventsArgs) -> color_eyre::Result<()> {
    let filters = Filters::parse("--filter", &args.filter, EVENT_FILTERS)?;
    let now = now_ms();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_point(s, now))
        .transpose()
        .map_err(|e| color_eyre::eyre::eyre!("--since: {e}"))?;
    let until_ms = match args
        .until
        .as_deref()
        .map(|s| parse_point(s, now))
        .transpose()
    {
        Ok(None) => None,
        Ok(Some(Since::Time(ms))) => Some(ms),
        Ok(Some(Since::Id(_))) => bail!("--until takes a time or a duration, not an event id"),
        Err(e) => bail!("--until: {e}"),
    };
    // Where the replay starts: after an id, or before the first event at the time.
    let after = match since {
        Some(Since::Id(id)) => {
            let page = fleet
                .events(EventQuery {
                    after: Some(id),
                    since_ms: None,
                    limit: 1,
                })
                .await?;
            if id > 0 && page.first_id > id + 1 {
                eprintln!(
                    "flotilla events: {} events after #{id} were pruned from the log before they could be shown",
                    page.first_id - id - 1
                );
            }
            id
        }
        Some(Since::Time(ms)) => {
            let page = fleet
                .events(EventQuery {
                    after: None,
                    since_ms: Some(ms),
                    limit: 1,
                })
                .await?;
            match page.events.first() {
                Some(first) => first.seq.saturating_sub(1),
                None => page.last_id,
            }
        }
        None => newest_event_id(&*fleet).await?,
    };
    let stream = follow(fleet.clone(), FollowFrom::after(after));
    futures::pin_mut!(stream);
    let deadline = async {
        match until_ms {
            Some(u) => {
                let wait = u.saturating_sub(now_ms()).max(0) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await
            }
            None => std::future::pending().await,
        }
    };
    futures::pin_mut!(deadline);
    let mut interrupts = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    let mut unreachable = false;
    // The newest event printed (or skipped by the filters): where a final replay resumes.
    let mut last = after;
    loop {
        tokio::select! {
            _ = interrupts.recv() => return Ok(()),
            // The deadline only ends the wait for new events: what the log holds up to it
            // is still printed, so a replay into the past (`--until 0s`) cannot race its
            // own timer and print some of its events, or none.
            _ = &mut deadline => {
                return replay_until(&*fleet, last, until_ms, &filters, args.output).await
            }
            next = stream.next() => match next {
                None => return Ok(()),
                Some(Err(e)) => {
                    // Said once per outage; the follower retries and resumes where it stood.
                    if !unreachable {
                        eprintln!("flotilla events: {e} (retrying)");
                        unreachable = true;
                    }
                }
                Some(Ok(ev)) => {
                    unreachable = false;
                    if until_ms.is_some_and(|u| ev.time_ms > u) {
                        return Ok(());
                    }
                    last = ev.seq;
                    if !emit(std::slice::from_ref(&ev), &filters, args.output)? {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Prints the recorded events after `after` up to `until_ms`, page by page.
async fn replay_until(
    fleet: &dyn Fleet,
    mut after: u64,
    until_ms: Option<i64>,
    filters: &Filters,
    output: Output,
) -> color_eyre::Result<()> {
    let Some(until) = until_ms else {
        return Ok(());
    };
    loop {
        let page = fleet
            .events(EventQuery {
                after: Some(after),
                since_ms: None,
                limit: 500,
            })
            .await?;
        if page.events.is_empty() {
            return Ok(());
        }
        for ev in &page.events {
            if ev.time_ms > until || !emit(std::slice::from_ref(ev), filters, output)? {
                return Ok(());
            }
            after = ev.seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(items: &[String]) -> crate::api::Result<Filters> {
        Filters::parse("--filter", items, EVENT_FILTERS)
    }
    use crate::api::{HealthStatus, MachineState};

    fn ev(seq: u64, kind: EventKind) -> Event {
        Event {
            seq,
            time_ms: 1_714_564_800_123,
            kind,
        }
    }

    #[test]
    fn points_in_time() {
        let now = 1_000_000_000;
        assert_eq!(parse_point("42", now), Ok(Since::Id(42)));
        assert_eq!(parse_point("#42", now), Ok(Since::Id(42)));
        assert_eq!(parse_point("10m", now), Ok(Since::Time(now - 600_000)));
        assert_eq!(
            parse_point("2024-05-01T12:00:00.123Z", now),
            Ok(Since::Time(1_714_564_800_123))
        );
        assert!(parse_point("last tuesday", now)
            .unwrap_err()
            .contains("give a duration"));
    }

    #[test]
    fn lines_read_like_docker_events() {
        let e = ev(
            7,
            EventKind::HealthChanged {
                machine: "web1".into(),
                from: HealthStatus::Healthy,
                to: HealthStatus::Degraded,
                reasons: vec!["docker daemon not answering on :2376".into()],
            },
        );
        assert_eq!(
            line(&e),
            "2024-05-01T12:00:00.123Z health_changed web1 healthy -> degraded: docker daemon not answering on :2376 #7"
        );
        let e = ev(
            0,
            EventKind::MachineStateChanged {
                machine: "web1".into(),
                from: MachineState::Running,
                to: MachineState::Stopped,
            },
        );
        assert_eq!(
            line(&e),
            "2024-05-01T12:00:00.123Z machine_state_changed web1 Running -> Stopped"
        );
        let e = ev(
            3,
            EventKind::MachineCreated {
                machine: "db1".into(),
            },
        );
        assert_eq!(line(&e), "2024-05-01T12:00:00.123Z machine_created db1 #3");
    }

    #[test]
    fn filters_match_like_docker() {
        let f = parse(&["machine=web*".into(), "type=health".into()]).unwrap();
        let health = ev(
            1,
            EventKind::HealthChanged {
                machine: "web1".into(),
                from: HealthStatus::Unknown,
                to: HealthStatus::Healthy,
                reasons: vec![],
            },
        );
        assert!(keep(&f, &health));
        assert!(!keep(
            &f,
            &ev(
                2,
                EventKind::MachineCreated {
                    machine: "web1".into()
                }
            )
        ));
        let f = parse(&["type=machine_created".into(), "type=machine_removed".into()]).unwrap();
        assert!(keep(
            &f,
            &ev(
                2,
                EventKind::MachineRemoved {
                    machine: "x".into()
                }
            )
        ));
        assert!(!keep(&f, &health));
        let left = ev(
            3,
            EventKind::SwarmNodeLeft {
                swarm: "prod".into(),
                machine: "prod-w2".into(),
                node_id: "n2".into(),
                forced: true,
            },
        );
        assert!(keep(&parse(&["type=swarm".into()]).unwrap(), &left));
        assert!(keep(
            &parse(&["type=swarm_node_left".into()]).unwrap(),
            &left
        ));
        assert!(!keep(
            &parse(&["type=swarm_node_joined".into()]).unwrap(),
            &left
        ));
        assert!(line(&left).ends_with(
            "swarm_node_left prod-w2 left swarm prod (node n2, removed with --force) #3"
        ));
        assert!(parse(&["color=red".into()]).is_err());
        assert!(parse(&["machine".into()]).is_err());
    }
}
