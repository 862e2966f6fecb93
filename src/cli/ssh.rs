//! `flotilla ssh NAME [-- CMD...]`: a shell with a PTY, or one command whose exit
//! status becomes ours. The host key pinned at provisioning is enforced.
//! `--user U --identity FILE` logs in as another user of the host (one a cloud-config
//! made, say) with that user's own key, which stays on this machine.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::api::{Error, Fleet, SshLogin, MAX_PRIVATE_KEY_BYTES};

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Machine name.
    pub name: String,
    /// Log in as this user of the host instead of the machine's own login (needs
    /// --identity: that user's private key).
    #[arg(long, value_name = "USER", requires = "identity")]
    pub user: Option<String>,
    /// The private key file for --user.
    #[arg(long, value_name = "FILE", requires = "user")]
    pub identity: Option<PathBuf>,
    /// Command to run instead of a shell (after `--`).
    #[arg(last = true)]
    pub command: Vec<String>,
}

/// Exit status of the remote command, passed to the binary's edge.
#[derive(Debug, thiserror::Error)]
#[error("remote command exited with status {0}")]
pub struct RemoteExit(pub u32);

pub async fn run(fleet: Arc<dyn Fleet>, args: SshArgs) -> color_eyre::Result<()> {
    let login = match (&args.user, &args.identity) {
        (Some(user), Some(file)) => Some(SshLogin::new(user, read_identity(file)?)?),
        _ => None,
    };
    let status = fleet
        .ssh_attach(&args.name, login.as_ref(), &args.command)
        .await?;
    if status != 0 {
        return Err(RemoteExit(status).into());
    }
    Ok(())
}

/// Reads a private key file, refusing one larger than any private key.
fn read_identity(file: &PathBuf) -> Result<String, Error> {
    let cannot = |e: std::io::Error| {
        Error::invalid(format!("cannot read --identity {}: {e}", file.display()))
    };
    let mut text = String::new();
    std::fs::File::open(file)
        .map_err(cannot)?
        .take(MAX_PRIVATE_KEY_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    Ok(text)
}
