//! `flotilla health [NAME...] [--watch]`: check machines now (or show what was last
//! recorded) and print NAME STATUS CPU MEM DISK LOAD SSH-RTT DOCKER AGE REASONS.

use std::borrow::Cow;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::output::Output;
use super::output::{age, table, MachineFields};
use crate::api::parse_duration;
use crate::api::{Fleet, Health, HealthBrief, HealthStatus, Machine, MonitorSettings};

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Machine names (all machines when none is given).
    pub names: Vec<String>,
    /// Keep checking and redraw every interval (Ctrl-C quits).
    #[arg(short, long)]
    pub watch: bool,
    /// Show what was last recorded, without checking hosts now.
    #[arg(long, conflicts_with = "watch")]
    pub cached: bool,
    /// Time between two checks of a machine, with --watch (e.g. 1s, 5s, 1m).
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Results in a row that must agree before a status changes, with --watch.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub hysteresis: u32,
    /// Machines checked at once.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
    /// How long SSH, Docker or the driver may take to answer before it counts as down.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

pub async fn run(fleet: Arc<dyn Fleet>, args: HealthArgs) -> color_eyre::Result<()> {
    if !args.watch {
        let health = fleet.health(&args.names, !args.cached).await?;
        print(&health, args.output, false)?;
        return Ok(());
    }
    let settings = MonitorSettings {
        interval_ms: args.interval.as_millis().min(u64::MAX as u128) as u64,
        hysteresis: args.hysteresis,
        concurrency: args.concurrency,
        timeout_ms: args.timeout.as_millis().min(u64::MAX as u128) as u64,
        ..MonitorSettings::default()
    };
    fleet.start_monitor(settings).await?;
    // A first round now, so the screen is not empty for an interval.
    let mut health = fleet.health(&args.names, true).await?;
    let redraw = std::io::stdout().is_terminal() && matches!(args.output, Output::Table);
    let mut tick = tokio::time::interval(args.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        if redraw {
            // Home and clear, then the table: a steady screen, like `watch`.
            print!("\x1b[H\x1b[2J");
            println!(
                "every {} · {} · Ctrl-C quits\n",
                humantime(args.interval),
                crate::api::format_utc(crate::api::now_ms())
            );
        }
        if !print(
            &health,
            args.output,
            !redraw && matches!(args.output, Output::Table),
        )? {
            // The reader went away (`flotilla health --watch | head`): nothing to do.
            return Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tick.tick() => {}
        }
        health = fleet.health(&args.names, false).await?;
    }
}

fn humantime(d: Duration) -> String {
    if d.subsec_millis() != 0 || d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Prints one round; false when stdout is closed.
fn print(health: &[Health], output: Output, separate: bool) -> color_eyre::Result<bool> {
    let out = match output {
        // One JSON document per round: a watcher reads them line by line.
        Output::Json if separate || !std::io::stdout().is_terminal() => {
            serde_json::to_string(health)? + "\n"
        }
        Output::Json => serde_json::to_string_pretty(health)? + "\n",
        Output::Table => {
            let mut t = render_table(health);
            if separate {
                t.push('\n');
            }
            t
        }
    };
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

/// Template fields `.Health` and `.HealthReasons`; and in `.Error` (the ERRORS column)
/// the reasons of a sick machine with their age, when no operation error is there.
pub fn add_fields(f: &mut MachineFields, h: Option<&HealthBrief>) {
    let Some(h) = h else {
        f.health = HealthStatus::Unknown.as_str();
        f.health_reasons = String::new();
        return;
    };
    f.health = h.status.as_str();
    f.health_reasons = h.reasons_line();
    if f.error.is_empty() && h.status.is_sick() && h.checked_ms > 0 {
        f.error = Cow::Owned(format!(
            "{}: {} ({} ago)",
            h.status,
            f.health_reasons,
            age(h.checked_ms)
        ));
    }
}

/// The machine as JSON with its latest health (and that health's age) under `health`.
pub fn with_health(m: &Machine, h: Option<&Health>) -> color_eyre::Result<serde_json::Value> {
    let mut value = serde_json::to_value(m)?;
    if let (Some(h), Some(obj)) = (h, value.as_object_mut()) {
        let mut hv = serde_json::to_value(h)?;
        if let Some(ho) = hv.as_object_mut() {
            let age_ms = (h.checked_ms > 0).then(|| (crate::api::now_ms() - h.checked_ms).max(0));
            ho.insert("age_ms".into(), serde_json::json!(age_ms));
            ho.insert(
                "age".into(),
                serde_json::json!(age_ms.map(|_| age(h.checked_ms))),
            );
        }
        obj.insert("health".into(), hv);
    }
    Ok(value)
}

pub fn render_table(health: &[Health]) -> String {
    let rows: Vec<Vec<String>> = health.iter().map(row).collect();
    table(
        &[
            "NAME", "STATUS", "CPU", "MEM", "DISK", "LOAD", "SSH-RTT", "DOCKER", "AGE", "REASONS",
        ],
        &rows,
    )
}

fn row(h: &Health) -> Vec<String> {
    let dash = || "-".to_string();
    let m = h.metrics.as_ref();
    let status = if h.observed != h.status && h.observed != HealthStatus::Unknown {
        // A change is pending: the next results decide.
        format!("{} ({}?)", h.status, h.observed)
    } else {
        h.status.to_string()
    };
    let cpu = m
        .and_then(|m| m.cpu_percent)
        .map_or_else(dash, |c| format!("{c:.0}%"));
    let mem = m
        .and_then(|m| Some((m.mem_percent()?, m.mem_total_bytes?)))
        .map_or_else(dash, |(p, total)| format!("{p:.0}% of {}", bytes(total)));
    let disk = m.map_or_else(dash, |m| {
        let root = m.disk_root.as_ref().map(|d| d.percent());
        let docker = m
            .disk_docker
            .as_ref()
            .map(|d| (d.percent(), d.path.as_str()));
        match (root, docker) {
            // The Docker data root is shown when it is the fuller one.
            (Some(r), Some((d, path))) if d > r => format!("{d:.0}% {path}"),
            (Some(r), _) => format!("{r:.0}%"),
            (None, Some((d, path))) => format!("{d:.0}% {path}"),
            (None, None) => dash(),
        }
    });
    let load = m
        .and_then(|m| m.load)
        .map_or_else(dash, |[a, b, c]| format!("{a:.2} {b:.2} {c:.2}"));
    let rtt = h.ssh_rtt_ms.map_or_else(dash, |r| format!("{r:.0}ms"));
    let docker = h.docker.as_ref().map_or_else(dash, |d| {
        format!(
            "v{}, {} running",
            d.version.trim_start_matches('v'),
            d.containers_running
        )
    });
    let checked = if h.checked_ms > 0 {
        age(h.checked_ms)
    } else {
        "never".into()
    };
    vec![
        h.machine.clone(),
        status,
        cpu,
        mem,
        disk,
        load,
        rtt,
        docker,
        checked,
        h.reasons_line(),
    ]
}

/// 3.8G, 512M, 900K.
fn bytes(b: u64) -> String {
    let b = b as f64;
    let (k, m, g, t) = (
        1024.0,
        1024.0 * 1024.0,
        1024.0_f64.powi(3),
        1024.0_f64.powi(4),
    );
    if b >= t {
        format!("{:.1}T", b / t)
    } else if b >= g {
        format!("{:.1}G", b / g)
    } else if b >= m {
        format!("{:.0}M", b / m)
    } else {
        format!("{:.0}K", b / k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{DiskUsage, DockerHealth, Metrics};

    #[test]
    fn a_row_shows_the_figures_and_reasons() {
        let mut h = Health::unknown("web1", None);
        h.status = HealthStatus::Healthy;
        h.observed = HealthStatus::Degraded;
        h.reasons = vec!["docker daemon not answering on :2376".into()];
        h.checked_ms = crate::api::now_ms();
        h.ssh_rtt_ms = Some(3.2);
        h.docker = Some(DockerHealth {
            version: "20.10.24".into(),
            containers_running: 2,
            api_ms: 4.0,
        });
        h.metrics = Some(Metrics {
            cpu_percent: Some(12.4),
            cpus: Some(2),
            load: Some([0.5, 0.25, 0.125]),
            mem_used_bytes: Some(1 << 30),
            mem_total_bytes: Some(4 << 30),
            disk_root: Some(DiskUsage {
                path: "/".into(),
                used_bytes: 45,
                total_bytes: 100,
            }),
            disk_docker: Some(DiskUsage {
                path: "/var/lib/docker".into(),
                used_bytes: 93,
                total_bytes: 100,
            }),
            uptime_secs: Some(5),
        });
        assert_eq!(
            row(&h),
            vec![
                "web1",
                "healthy (degraded?)",
                "12%",
                "25% of 4.0G",
                "93% /var/lib/docker",
                "0.50 0.25 0.12",
                "3ms",
                "v20.10.24, 2 running",
                "0s",
                "docker daemon not answering on :2376"
            ]
        );
        let never = row(&Health::unknown("db1", Some("not checked yet")));
        assert_eq!(never[1], "unknown");
        assert_eq!(never[2], "-");
        assert_eq!(never[8], "never");
    }
}
