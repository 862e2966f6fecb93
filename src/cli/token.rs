//! `flotilla token create / ls / revoke`: bearer tokens of a shared fleet (admin).

use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};

use super::output::Output;
use super::output::{age, table};
use crate::api::parse_duration;
use crate::api::{AccessRole, Fleet, TokenSpec};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token for a user; it is printed once and cannot be shown again.
    Create(CreateArgs),
    /// List tokens (never the tokens themselves).
    Ls(LsArgs),
    /// Revoke a token by id, or every token of a user by name.
    Revoke { id_or_name: String },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Whose token it is (letters, digits, - _ . @).
    pub name: String,
    /// viewer (read), operator (machines, swarms, ssh, env), admin (also tokens, audit).
    #[arg(long, value_parser = parse_role)]
    pub role: AccessRole,
    /// Expire after this long (e.g. 30d, 12h); default: until revoked.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub ttl: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

fn parse_role(s: &str) -> Result<AccessRole, String> {
    AccessRole::parse(s).map_err(|e| e.to_string())
}

pub async fn run(fleet: Arc<dyn Fleet>, cmd: TokenCommand) -> color_eyre::Result<()> {
    match cmd {
        TokenCommand::Create(a) => {
            let new = fleet
                .token_create(TokenSpec {
                    name: a.name,
                    role: a.role,
                    ttl_secs: a.ttl.map(|d| d.as_secs()),
                })
                .await?;
            eprintln!(
                "token {} for {} ({}): shown only now, give it to its user",
                new.info.id, new.info.name, new.info.role
            );
            println!("{}", new.token);
        }
        TokenCommand::Ls(a) => {
            let tokens = fleet.tokens().await?;
            if matches!(a.output, Output::Json) {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
                return Ok(());
            }
            let now = crate::api::now_ms();
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    let state = if t.revoked_ms.is_some() {
                        "revoked"
                    } else if !t.is_active(now) {
                        "expired"
                    } else {
                        "active"
                    };
                    vec![
                        t.id.clone(),
                        t.name.clone(),
                        t.role.to_string(),
                        state.to_string(),
                        age(t.created_ms),
                        t.expires_ms.map(until).unwrap_or_else(|| "never".into()),
                        t.last_used_ms.map(age).unwrap_or_else(|| "never".into()),
                    ]
                })
                .collect();
            print!(
                "{}",
                table(
                    &[
                        "ID",
                        "NAME",
                        "ROLE",
                        "STATE",
                        "CREATED",
                        "EXPIRES",
                        "LAST USED"
                    ],
                    &rows
                )
            );
        }
        TokenCommand::Revoke { id_or_name } => {
            let t = fleet.token_revoke(&id_or_name).await?;
            eprintln!("revoked {} ({})", t.id, t.name);
        }
    }
    Ok(())
}

/// "in 3h", or "expired".
fn until(ms: i64) -> String {
    let left = ms - crate::api::now_ms();
    if left <= 0 {
        return "expired".into();
    }
    let s = left / 1000;
    match s {
        0..=119 => format!("in {s}s"),
        120..=7199 => format!("in {}m", s / 60),
        7200..=172_799 => format!("in {}h", s / 3600),
        _ => format!("in {}d", s / 86_400),
    }
}
