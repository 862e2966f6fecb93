//! `flotilla ssh NAME [CMD...]`: a shell with a PTY, or one command whose exit status
//! becomes ours (`ssh NAME 'cmd'` as docker-machine takes it, or `ssh NAME -- cmd`).
//! The host key pinned at provisioning is enforced. OpenSSH's own flags after the name
//! (`-L 8080:localhost:80`, `-A`, `-C`, `-R ...`) go to the system's ssh client, as
//! docker-machine passes them, with the machine's key and its pinned host key.
//! `--user U --identity FILE` (before the name) logs in as another user of the host (one
//! a cloud-config made, say) with that user's own key, which stays on this machine.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::WrapErr;

use super::sshconf::{exit_code, SshConfig};
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
    let login = match (&args.user, &args.identity) {
        (Some(user), Some(file)) => Some(SshLogin::new(user, read_identity(file)?)?),
        _ => None,
    };
    super::machines::running(&fleet, &args.name).await?;
    let openssh_flags = args.command.first().is_some_and(|a| a.starts_with('-'));
    let status = if openssh_flags {
        let conf = SshConfig::new(&fleet, &[&args.name]).await?;
        let mut ssh = tokio::process::Command::new("ssh");
        ssh.args(conf.flag());
        if let (Some(login), Some(file)) = (&login, &args.identity) {
            ssh.arg("-l").arg(login.user()).arg("-i").arg(file);
        }
        let status = ssh
            .arg(&args.name)
            .args(&args.command)
            .status()
            .await
            .wrap_err("cannot run the system's ssh client (install openssh-client)")?;
        exit_code(status)
    } else {
        fleet
            .ssh_attach(&args.name, login.as_ref(), &args.command)
            .await?
    };
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
