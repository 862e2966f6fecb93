//! `flotilla autoscale run`: the autoscaler as a foreground daemon for a local fleet
//! (a server runs its own always). It runs the health monitor too (the autoscaler
//! reads the workers' CPU and memory from it) and prints every decision until
//! interrupted (SIGINT or SIGTERM: a systemd unit's stop).

use std::sync::Arc;

use clap::{Args, Subcommand};
use futures::StreamExt;

use crate::api::{follow, newest_event_id, EventKind, Fleet, FollowFrom, MonitorSettings};

#[derive(Debug, Subcommand)]
pub enum AutoscaleCommand {
    /// Apply every swarm's autoscaling policy until stopped (`swarm autoscale` sets
    /// them). Two such processes on one fleet never act on one swarm at once.
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Print nothing but errors (the decisions stay in `swarm autoscale NAME` and
    /// `flotilla events`).
    #[arg(short, long)]
    pub quiet: bool,
}

pub async fn run(fleet: Arc<dyn Fleet>, cmd: AutoscaleCommand) -> color_eyre::Result<()> {
    match cmd {
        AutoscaleCommand::Run(args) => run_daemon(fleet, args).await,
    }
}

async fn run_daemon(fleet: Arc<dyn Fleet>, args: RunArgs) -> color_eyre::Result<()> {
    let backend = fleet.backend().await?;
    if backend.location != "local" {
        eprintln!(
            "the server at {} applies the autoscaling policies itself; this command is for a local fleet",
            backend.location
        );
        return Ok(());
    }
    let after = newest_event_id(&*fleet).await?;
    fleet.start_monitor(MonitorSettings::default()).await?;
    fleet.start_autoscaler().await?;
    let policies = {
        let mut n = 0;
        for s in fleet.swarm_list().await? {
            if fleet
                .swarm_autoscale(&s.name)
                .await
                .is_ok_and(|a| a.policy.is_some())
            {
                n += 1;
            }
        }
        n
    };
    eprintln!(
        "flotilla autoscale: running ({policies} swarm(s) with a policy now; policies set later apply without a restart); Ctrl-C stops"
    );
    let stream = follow(fleet.clone(), FollowFrom::after(after));
    futures::pin_mut!(stream);
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        tokio::select! {
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
            next = stream.next() => match next {
                None => break,
                Some(Err(e)) => eprintln!("flotilla autoscale: {e}"),
                Some(Ok(ev)) => {
                    if let EventKind::AutoscaleDecided { swarm, dry_run, reason, .. } = &ev.kind {
                        if !args.quiet {
                            let tag = if *dry_run { " (dry run)" } else { "" };
                            println!("{} {swarm}{tag}: {reason}", crate::api::format_utc(ev.time_ms));
                        }
                    }
                }
            }
        }
    }
    eprintln!("flotilla autoscale: stopped");
    Ok(())
}
