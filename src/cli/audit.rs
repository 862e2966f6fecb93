//! `flotilla audit [--since 1h]`: the server's append-only audit log (admin), and
//! `flotilla audit retention`: how long it keeps its entries.

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::output::table;
use super::output::Output;
use crate::api::parse_duration;
use crate::api::{AuditQuery, AuditRetention, FleetAdmin};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only entries from this long ago on (e.g. 1h, 7d).
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub since: Option<Duration>,
    /// At most this many (the newest).
    #[arg(long, default_value_t = 1000)]
    pub limit: u32,
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Show how long the audit log keeps entries, or set it (the flags given are the
    /// whole new setting): what it no longer keeps is pruned at once, and a server
    /// prunes every few minutes. The change and each pruning are audited.
    Retention(RetentionArgs),
}

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Keep entries this many days (1-3650).
    #[arg(long, value_name = "DAYS")]
    pub max_age_days: Option<u32>,
    /// Keep at most this many of the newest entries (1000-100000000).
    #[arg(long, value_name = "N")]
    pub max_rows: Option<u64>,
    /// Keep every entry (the default).
    #[arg(long, conflicts_with_all = ["max_age_days", "max_rows"])]
    pub keep_all: bool,
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

pub async fn run(fleet: Arc<dyn FleetAdmin>, args: AuditArgs) -> color_eyre::Result<()> {
    if let Some(AuditCommand::Retention(r)) = args.command {
        return retention(fleet, r).await;
    }
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

async fn retention(fleet: Arc<dyn FleetAdmin>, args: RetentionArgs) -> color_eyre::Result<()> {
    let wanted = AuditRetention {
        max_age_days: args.max_age_days,
        max_rows: args.max_rows,
    };
    let json = matches!(args.output, Output::Json);
    if wanted == AuditRetention::default() && !args.keep_all {
        let now = fleet.audit_retention().await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&now)?);
        } else {
            println!("the audit log keeps {}", now.describe());
        }
        return Ok(());
    }
    let done = fleet.set_audit_retention(wanted).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        println!(
            "the audit log keeps {}; {} entries pruned",
            done.retention.describe(),
            done.pruned
        );
    }
    Ok(())
}

/// `2024-05-01 12:00:00` (UTC): the log's timestamp, to the second.
fn utc(ms: i64) -> String {
    let full = crate::api::format_utc(ms);
    full.get(..19).unwrap_or(&full).replacen('T', " ", 1)
}
