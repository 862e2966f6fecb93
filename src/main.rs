//! The binary's edge: parse the command line, pick the backend, run, and turn any error
//! into one line on stderr and a non-zero exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use flotilla::api::FleetAdmin;
use flotilla::cli::{self, ssh::RemoteExit, Cli, Interrupted};
use flotilla::engine::Local;
use flotilla::paths::Paths;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: {e}");
    }
    init_logging(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(report) => {
            if report.downcast_ref::<Interrupted>().is_some() {
                return ExitCode::from(130);
            }
            if let Some(RemoteExit(status)) = report.downcast_ref::<RemoteExit>() {
                return ExitCode::from((*status).clamp(1, 255) as u8);
            }
            let chain: Vec<String> = report.chain().map(|e| e.to_string()).collect();
            eprintln!("error: {}", dedup_chain(chain).join(": "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> color_eyre::Result<()> {
    if let Some(done) = cli::run_without_fleet(&cli.command).await {
        return done;
    }
    let paths = Paths::from_env().map_err(|e| color_eyre::eyre::eyre!(e))?;
    // Both backends also answer the admin contract (tokens, audit); plain commands
    // get the same fleet as `Fleet`.
    let fleet: Arc<dyn FleetAdmin> =
        match flotilla::client::settings::resolve(&paths, cli.server.as_deref())? {
            Some(server) => Arc::new(flotilla::client::Remote::connect(&server, &paths).await?),
            None => Arc::new(Local::open(paths).await?),
        };
    cli::run(cli, fleet).await
}

/// Messages often repeat their cause; show each part once.
fn dedup_chain(chain: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in chain {
        if !out.iter().any(|p| p.contains(&part)) {
            out.push(part);
        }
    }
    out
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "flotilla=info",
        2 => "flotilla=debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLOTILLA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
}
