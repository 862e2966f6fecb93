//! `flotilla events`: the fleet's changes as they happen, one line each, like
//! `docker events`. Every process on a fleet records its events in the store; the one
//! follower (`api::follow`) replays that log and follows it, so this sees what `create`
//! in another terminal does. `--since` replays from a point; `--until` stops.

use std::collections::BTreeSet;
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
use crate::api::{Event, EventKind, EventQuery, Fleet, Outcome};

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

struct Filters(Vec<(String, String)>);

impl Filters {
    fn parse(items: &[String]) -> color_eyre::Result<Filters> {
        let mut out = Vec::new();
        for item in items {
            let Some((k, v)) = item.split_once('=') else {
                bail!("invalid --filter {item:?}: expected KEY=VALUE with KEY one of machine, type, operation");
            };
            let k = k.trim().to_ascii_lowercase();
            let k = match k.as_str() {
                "machine" | "target" | "swarm" => "machine",
                "type" | "event" => "type",
                "operation" | "op" => "operation",
                _ => {
                    bail!("invalid --filter {item:?}: KEY must be one of machine, type, operation")
                }
            };
            out.push((k.to_string(), v.trim().to_string()));
        }
        Ok(Filters(out))
    }

    /// Kept when, for every key given, one of its values matches.
    fn keep(&self, ev: &Event) -> bool {
        let keys: BTreeSet<&str> = self.0.iter().map(|(k, _)| k.as_str()).collect();
        let kind = type_name(&ev.kind);
        keys.into_iter().all(|key| {
            self.0
                .iter()
                .filter(|(k, _)| k == key)
                .any(|(_, v)| match key {
                    "machine" => super::output::glob(v, ev.kind.target()),
                    "type" => kind == *v || kind.split('_').next() == Some(v.as_str()),
                    "operation" => ev.kind.operation_id() == Some(v.as_str()),
                    _ => false,
                })
        })
    }
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
    for ev in events.iter().filter(|e| filters.keep(e)) {
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
    let filters = Filters::parse(&args.filter)?;
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
    loop {
        tokio::select! {
            _ = interrupts.recv() => return Ok(()),
            _ = &mut deadline => return Ok(()),
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
                    if !emit(std::slice::from_ref(&ev), &filters, args.output)? {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
        let f = Filters::parse(&["machine=web*".into(), "type=health".into()]).unwrap();
        let health = ev(
            1,
            EventKind::HealthChanged {
                machine: "web1".into(),
                from: HealthStatus::Unknown,
                to: HealthStatus::Healthy,
                reasons: vec![],
            },
        );
        assert!(f.keep(&health));
        assert!(!f.keep(&ev(
            2,
            EventKind::MachineCreated {
                machine: "web1".into()
            }
        )));
        let f = Filters::parse(&["type=machine_created".into(), "type=machine_removed".into()])
            .unwrap();
        assert!(f.keep(&ev(
            2,
            EventKind::MachineRemoved {
                machine: "x".into()
            }
        )));
        assert!(!f.keep(&health));
        let left = ev(
            3,
            EventKind::SwarmNodeLeft {
                swarm: "prod".into(),
                machine: "prod-w2".into(),
                node_id: "n2".into(),
                forced: true,
            },
        );
        assert!(Filters::parse(&["type=swarm".into()]).unwrap().keep(&left));
        assert!(Filters::parse(&["type=swarm_node_left".into()])
            .unwrap()
            .keep(&left));
        assert!(!Filters::parse(&["type=swarm_node_joined".into()])
            .unwrap()
            .keep(&left));
        assert!(line(&left).ends_with(
            "swarm_node_left prod-w2 left swarm prod (node n2, removed with --force) #3"
        ));
        assert!(Filters::parse(&["color=red".into()]).is_err());
        assert!(Filters::parse(&["machine".into()]).is_err());
    }
}
