//! `flotilla audit [--since 1h]`: the server's append-only audit log (admin).

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::output::table;
use super::output::Output;
use crate::api::parse_duration;
use crate::api::{AuditQuery, Fleet};

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries from this long ago on (e.g. 1h, 7d).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<Duration>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

pub async fn run(fleet: Arc<dyn Fleet>, args: AuditArgs) -> color_eyre::Result<()> {
    let since_ms = args
        .since
        .map(|d| crate::api::now_ms() - i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2));
    let entries = fleet
        .audit(AuditQuery {
            since_ms,
            limit: Some(args.limit),
        })
        .await?;
    if matches!(args.output, Output::Json) {
        println!("{}", serde_json::to_string_pretty(&entries)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                utc(e.time_ms),
                e.actor.clone().unwrap_or_else(|| "-".into()),
                e.token_id.clone().unwrap_or_else(|| "-".into()),
                e.remote.clone().unwrap_or_else(|| "-".into()),
                e.action.clone(),
                e.target.clone().unwrap_or_else(|| "-".into()),
                e.status.to_string(),
                e.outcome.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "TIME (UTC)",
                "ACTOR",
                "TOKEN",
                "FROM",
                "ACTION",
                "TARGET",
                "STATUS",
                "OUTCOME"
            ],
            &rows
        )
    );
    Ok(())
}

/// `2024-05-01 12:00:00` (UTC): the log's timestamp, to the second.
fn utc(ms: i64) -> String {
    let full = crate::api::format_utc(ms);
    full.get(..19).unwrap_or(&full).replacen('T', " ", 1)
}
