//! `flotilla image build`: host images for the container driver.

use clap::Subcommand;
use color_eyre::eyre::eyre;

use super::image::{build, default_tag, BuildOptions};
use super::Endpoint;
use crate::settings::Settings;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build a host image locally (debootstrap, systemd, sshd; needs root).
    Build {
        /// Debian release to build from.
        #[arg(long, default_value = "bookworm", value_parser = ["bookworm", "trixie", "bullseye"])]
        suite: String,
        /// Preinstall the Docker Engine (faster create; provisioning skips the install).
        #[arg(long)]
        with_docker: bool,
        /// Image tag [default: flotilla-host:SUITE, or flotilla-host:SUITE-docker].
        #[arg(long)]
        tag: Option<String>,
    },
}

pub async fn run(cmd: &ImageCommand, settings: &Settings) -> color_eyre::Result<()> {
    let ImageCommand::Build {
        suite,
        with_docker,
        tag,
    } = cmd;
    let opts = BuildOptions {
        suite: suite.clone(),
        with_docker: *with_docker,
        tag: tag.clone(),
        engine: Endpoint::from_settings(&settings.engine),
        mirror: settings.engine.debian_mirror.clone(),
    };
    let shown = tag
        .clone()
        .unwrap_or_else(|| default_tag(suite, *with_docker));
    eprintln!("building {shown}");
    let progress = |line: &str| eprintln!("  {line}");
    let built = build(&opts, &progress).await.map_err(|e| eyre!(e))?;
    println!("{built}");
    Ok(())
}
