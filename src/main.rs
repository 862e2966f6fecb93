//! The binary's edge: parse the command line, pick the backend, run, and turn any error
//! into one line on stderr and a non-zero exit code.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use flotilla::api::Fleet;
use flotilla::cli::{self, ssh::RemoteExit, Cli, Interrupted};
use flotilla::engine::Local;
use flotilla::paths::Paths;

fn main() -> ExitCode {
    let Some(cli) = Cli::parse().or_tui() else {
        return ExitCode::from(2);
    };
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: {e}");
    }
    match cli.tui_log_file() {
        Some(file) => {
            let level = if cli.verbose > 0 {
                "flotilla=debug"
            } else {
                "flotilla=info"
            };
            if let Err(e) = flotilla::tui::init_file_logging(&file, level) {
                eprintln!("warning: cannot log to {}: {e}", file.display());
            }
        }
        None => init_logging(cli.verbose),
    }
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
    if let Some(command) = &cli.command {
        if let Some(done) = cli::run_without_fleet(command).await {
            return done;
        }
    }
    let paths = Paths::from_env().map_err(|e| color_eyre::eyre::eyre!(e))?;
    let fleet: Arc<dyn Fleet> =
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
