//! `flotilla ssh NAME [CMD...]`: a shell with a PTY, or one command whose exit status
//! becomes ours (`ssh NAME 'cmd'` as docker-machine takes it, or `ssh NAME -- cmd`).
//! The host key pinned at provisioning is enforced. OpenSSH's own flags after the name
//! (`-L 8080:localhost:80`, `-A`, `-C`, `-R ...`) go to the system's ssh client, as
//! docker-machine passes them, with the machine's key and its pinned host key.

use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::WrapErr;

use super::sshconf::{exit_code, SshConfig};
use crate::api::Fleet;

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Machine name.
    pub name: String,
    /// A command to run instead of a shell (`'uname -a'`, or after `--`); OpenSSH flags
    /// first (`-L 8080:localhost:80 -A`) run the system's ssh client with them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Exit status of the remote command, passed to the binary's edge.
#[derive(Debug, thiserror::Error)]
#[error("remote command exited with status {0}")]
pub struct RemoteExit(pub u32);

pub async fn run(fleet: Arc<dyn Fleet>, args: SshArgs) -> color_eyre::Result<()> {
    super::machines::running(&fleet, &args.name).await?;
    let openssh_flags = args.command.first().is_some_and(|a| a.starts_with('-'));
    let status = if openssh_flags {
        let conf = SshConfig::new(&fleet, &[&args.name]).await?;
        let status = tokio::process::Command::new("ssh")
            .args(conf.flag())
            .arg(&args.name)
            .args(&args.command)
            .status()
            .await
            .wrap_err("cannot run the system's ssh client (install openssh-client)")?;
        exit_code(status)
    } else {
        fleet.ssh_attach(&args.name, &args.command).await?
    };
    if status != 0 {
        return Err(RemoteExit(status).into());
    }
    Ok(())
}
