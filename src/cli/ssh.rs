//! `flotilla ssh NAME [-- CMD...]`: a shell with a PTY, or one command whose exit
//! status becomes ours. The host key pinned at provisioning is enforced.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use color_eyre::eyre::eyre;

use crate::api::Fleet;
use crate::ssh::{HostKeyCheck, Session, Target};

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
    let access = fleet.ssh_access(&args.name).await?;
    let pinned = access.host_key.clone().ok_or_else(|| {
        eyre!(
            "{} has no pinned host key yet: it was never provisioned; run `flotilla provision {}`",
            args.name,
            args.name
        )
    })?;
    let target = Target {
        host: &access.host,
        port: access.port,
        user: &access.user,
        private_key_pem: &access.private_key_pem,
        host_key: HostKeyCheck::Pinned(pinned),
    };
    let session = match &access.certificate {
        // A remote fleet: our own key, certified by the fleet's SSH CA for a short time.
        Some(cert) => {
            Session::connect_with_certificate(&target, cert, Duration::from_secs(15)).await
        }
        None => Session::connect(&target, Duration::from_secs(15)).await,
    }
    .map_err(|e| crate::engine::ssh_error(&args.name, e))?;
    let command = (!args.command.is_empty()).then(|| args.command.join(" "));
    let status = session
        .run_attached(command.as_deref())
        .await
        .map_err(|e| eyre!("{}: {e}", args.name))?;
    session.close().await;
    if status != 0 {
        return Err(RemoteExit(status).into());
    }
    Ok(())
}
