//! `flotilla info`: every effective setting and path, and where each came from (as
//! `k9s info` does), then which fleet this is when it answers.

use std::sync::Arc;
use std::time::Duration;

use crate::api::Fleet;
use crate::settings::Settings;

/// Prints the settings; then, when a fleet was opened, where it is and who we are there.
pub async fn print_info(settings: &Settings, fleet: Option<Arc<dyn Fleet>>) {
    println!("flotilla {}", env!("CARGO_PKG_VERSION"));
    println!("config file  {}", settings.config_file.display());
    let width = settings
        .report
        .iter()
        .map(|(k, _, _)| k.len())
        .max()
        .unwrap_or(0);
    for (key, value, origin) in &settings.report {
        println!("{key:<width$}  {value}  ({origin})");
    }
    let Some(fleet) = fleet else { return };
    match tokio::time::timeout(Duration::from_secs(10), fleet.backend()).await {
        Ok(Ok(b)) => {
            let who = match &b.user {
                Some(u) => format!("{u} ({})", b.role),
                None => format!("the fleet's owner ({})", b.role),
            };
            println!("fleet        {} at {} as {who}", b.fleet_id, b.location);
        }
        Ok(Err(e)) => {
            println!("fleet        not reachable: {e}");
            return;
        }
        Err(_) => {
            println!("fleet        no answer within 10s");
            return;
        }
    }
    match tokio::time::timeout(Duration::from_secs(10), fleet.replicas()).await {
        Ok(Ok(replicas)) if replicas.is_empty() => {
            println!("replicas     none (no server runs on this fleet's store)")
        }
        Ok(Ok(replicas)) => {
            let now = crate::api::now_ms();
            for r in replicas {
                println!("{}", replica_line(&r, now));
            }
        }
        Ok(Err(e)) => println!("replicas     not known: {e}"),
        Err(_) => println!("replicas     no answer within 10s"),
    }
}

/// One live replica: its name, what its monitor does, its heartbeat's age, its process.
fn replica_line(r: &crate::api::Replica, now_ms: i64) -> String {
    let monitor = if r.monitoring {
        format!("monitors {} machine(s)", r.monitored)
    } else {
        "no monitor".to_string()
    };
    let age = Duration::from_millis(u64::try_from(now_ms - r.heartbeat_ms).unwrap_or(0));
    format!(
        "replica      {}  {monitor}  heartbeat {} ago  ({})",
        r.id,
        crate::api::format_duration(age),
        r.process
    )
}
