//! `flotilla scp [-r] [-d] [-q] [MACHINE:]PATH [MACHINE:]PATH` and `flotilla mount
//! [-u] MACHINE:[PATH] DIR`, as docker-machine has them: the system's scp (through this
//! computer when both sides are machines), rsync for `-d` (delta) and sshfs, each with
//! an OpenSSH config naming the machines (`sshconf.rs`).

use std::sync::Arc;

use clap::Args;
use color_eyre::eyre::{bail, WrapErr};

use super::sshconf::{exit_code, SshConfig};
use crate::api::{validate_name, Fleet};

#[derive(Debug, Args)]
pub struct ScpArgs {
    /// Copy directories recursively.
    #[arg(short, long)]
    pub recursive: bool,
    /// Copy only what differs (rsync over SSH; not between two machines).
    #[arg(short, long)]
    pub delta: bool,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
    /// From: [MACHINE:][PATH].
    pub from: String,
    /// To: [MACHINE:][PATH].
    pub to: String,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Unmount instead.
    #[arg(short, long)]
    pub unmount: bool,
    /// MACHINE:[PATH] (the home directory when PATH is empty).
    pub remote: String,
    /// The local directory to mount on.
    pub dir: String,
}

/// The machine named before the first ':' (a machine name, so no '/' before it), and
/// the path after it.
fn split_remote(arg: &str) -> Option<(&str, &str)> {
    let (machine, path) = arg.split_once(':')?;
    validate_name(machine).ok()?;
    Some((machine, path))
}

/// Runs a tool; a failure is our error with its status, a missing tool says what to install.
async fn run_tool(program: &str, args: &[String], package: &str) -> color_eyre::Result<()> {
    let status = tokio::process::Command::new(program)
        .args(args)
        .status()
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => color_eyre::eyre::eyre!(
                "{program} is not installed on this computer: install {package} (apt-get install {package})"
            ),
            _ => color_eyre::eyre::eyre!("cannot run {program}: {e}"),
        })?;
    if !status.success() {
        bail!("{program} failed with status {}", exit_code(status));
    }
    Ok(())
}

pub async fn scp(fleet: Arc<dyn Fleet>, args: ScpArgs) -> color_eyre::Result<()> {
    let ends = [split_remote(&args.from), split_remote(&args.to)];
    let machines: Vec<&str> = ends.iter().flatten().map(|(m, _)| *m).collect();
    if args.delta && machines.len() == 2 {
        bail!("-d (rsync) cannot copy between two machines: copy without -d, or through a local directory");
    }
    for m in &machines {
        super::machines::running(&fleet, m).await?;
    }
    let conf = SshConfig::new(&fleet, &machines).await?;
    let (from, to) = (args.from.clone(), args.to.clone());
    if args.delta {
        let ssh = format!(
            "ssh -F '{}'",
            conf.file.display().to_string().replace('\'', r"'\''")
        );
        let mut a = vec!["-e".to_string(), ssh];
        a.push(if args.recursive { "-a" } else { "-lptgoD" }.into());
        if !args.quiet {
            a.push("--progress".into());
        }
        a.extend([from, to]);
        return run_tool("rsync", &a, "rsync")
            .await
            .wrap_err("rsync needs rsync on both ends");
    }
    let mut a = conf.flag().to_vec();
    if machines.len() == 2 {
        // Between machines through this computer: neither needs the other's key.
        a.push("-3".into());
    }
    if args.recursive {
        a.push("-r".into());
    }
    if args.quiet {
        a.push("-q".into());
    }
    a.extend([from, to]);
    run_tool("scp", &a, "openssh-client").await
}

pub async fn mount(
    fleet: Arc<dyn Fleet>,
    args: MountArgs,
    ctx: &super::Context,
) -> color_eyre::Result<()> {
    let Some((machine, path)) = split_remote(&args.remote) else {
        bail!(
            "invalid mount source {:?}: expected MACHINE:[PATH]",
            args.remote
        );
    };
    if args.unmount {
        return run_tool("fusermount", &["-u".into(), args.dir.clone()], "fuse3").await;
    }
    super::machines::running(&fleet, machine).await?;
    // sshfs keeps running after it returns: its config stays, in the machine's own
    // directory (removed with the machine), not in a removed-on-exit one.
    let keep = ctx.paths.machine_dir(machine).join("ssh");
    // A mount before this one left its config: it is replaced.
    let _ = std::fs::remove_dir_all(&keep);
    let conf = SshConfig::in_dir(&fleet, &[machine], keep).await?;
    let config = conf.keep().display().to_string();
    run_tool(
        "sshfs",
        &[
            "-F".into(),
            config,
            format!("{machine}:{path}"),
            args.dir.clone(),
        ],
        "sshfs",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_sides_are_machine_colon_path() {
        assert_eq!(
            split_remote("web1:/etc/hosts"),
            Some(("web1", "/etc/hosts"))
        );
        assert_eq!(split_remote("web1:"), Some(("web1", "")));
        assert_eq!(split_remote("./a:b"), None);
        assert_eq!(split_remote("/tmp/x"), None);
        assert_eq!(split_remote("Web1:x"), None);
    }
}
