//! `flotilla ssh NAME [-- CMD...]`: a shell with a PTY, or one command whose exit
//! status becomes ours. The host key pinned at provisioning is enforced.

use std::sync::Arc;

use clap::Args;

use crate::api::Fleet;

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Machine name.
    pub name: String,
    /// Command to run instead of a shell (after `--`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Exit status of the remote command, passed to the binary's edge.
#[derive(Debug, thiserror::Error)]
#[error("remote command exited with status {0}")]
pub struct RemoteExit(pub u32);

pub async fn run(fleet: Arc<dyn Fleet>, args: SshArgs) -> color_eyre::Result<()> {
    let status = fleet.ssh_attach(&args.name, &args.command).await?;
    if status != 0 {
        return Err(RemoteExit(status).into());
    }
    Ok(())
}
