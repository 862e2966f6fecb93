//! An OpenSSH client configuration for the system's own tools (ssh with OpenSSH flags,
//! scp, rsync, sshfs): one `Host NAME` entry per machine with its address, user, key
//! (and certificate) and its pinned host key as the only known host, in a private
//! directory that is removed when this value goes away (`mount` keeps its own, as sshfs
//! outlives the command). So `scp -F CONFIG web1:/x .`
//! works as docker-machine's scp does, without touching the user's ~/.ssh.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use std::os::unix::fs::DirBuilderExt;

use color_eyre::eyre::{bail, eyre, WrapErr};

use crate::api::Fleet;
use crate::paths::{ensure_private_dir, write_private};

/// The private directory and the config file in it.
#[derive(Debug)]
pub struct SshConfig {
    dir: PathBuf,
    pub file: PathBuf,
    /// Removed on drop unless kept (`mount`: sshfs outlives the command).
    kept: bool,
}

impl SshConfig {
    /// Asks the fleet how to reach each machine and writes the config in a new
    /// private directory of the system's temp dir (0700; keys 0600). Not under the
    /// fleet's home: ssh_config cannot quote a path holding '"'.
    pub async fn new(fleet: &Arc<dyn Fleet>, names: &[&str]) -> color_eyre::Result<SshConfig> {
        let dir = std::env::temp_dir().join(format!(
            "flotilla-ssh-{}-{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        Self::in_dir(fleet, names, dir).await
    }

    /// The same in `dir`, which must not exist yet (made 0700 here, so no one else
    /// can have put anything in it).
    pub async fn in_dir(
        fleet: &Arc<dyn Fleet>,
        names: &[&str],
        dir: PathBuf,
    ) -> color_eyre::Result<SshConfig> {
        if dir.to_string_lossy().contains('"') {
            bail!(
                "cannot write an ssh config in {}: ssh_config cannot quote a '\"' in a path",
                dir.display()
            );
        }
        // The parent is only made when missing, never re-moded: it may be the system's
        // temp dir. The directory itself is new and 0700 (creating it fails if it exists).
        if let Some(parent) = dir.parent() {
            std::fs::create_dir_all(parent)
                .wrap_err_with(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .wrap_err_with(|| format!("cannot create {}", dir.display()))?;
        ensure_private_dir(&dir).wrap_err_with(|| format!("cannot create {}", dir.display()))?;
        let conf = SshConfig {
            file: dir.join("config"),
            dir,
            kept: false,
        };
        let mut config = String::new();
        let mut known = String::new();
        for name in names {
            let access = fleet.ssh_access(name).await?;
            let host_key = access.host_key.as_deref().ok_or_else(|| {
                eyre!("{name} has no pinned host key yet: provision it first (flotilla provision {name})")
            })?;
            let key = conf.dir.join(format!("{name}.key"));
            write_private(&key, access.private_key_pem.as_bytes())?;
            let pattern = if access.port == 22 {
                access.host.clone()
            } else {
                format!("[{}]:{}", access.host, access.port)
            };
            let _ = writeln!(known, "{pattern} {host_key}");
            let _ = writeln!(
                config,
                "Host {name}\n  HostName {}\n  Port {}\n  User {}\n  IdentityFile \"{}\"\n  IdentitiesOnly yes",
                access.host,
                access.port,
                access.user,
                key.display()
            );
            if let Some(cert) = &access.certificate {
                let path = conf.dir.join(format!("{name}-cert.pub"));
                write_private(&path, cert.as_bytes())?;
                let _ = writeln!(config, "  CertificateFile \"{}\"", path.display());
            }
        }
        let known_file = conf.dir.join("known_hosts");
        write_private(&known_file, known.as_bytes())?;
        let _ = writeln!(
            config,
            "Host *\n  StrictHostKeyChecking yes\n  UserKnownHostsFile \"{}\"\n  GlobalKnownHostsFile /dev/null\n  BatchMode yes\n  LogLevel ERROR",
            known_file.display()
        );
        write_private(&conf.file, config.as_bytes())?;
        Ok(conf)
    }

    /// Leaves the files in place when this value goes away; returns the config file.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        self.file.clone()
    }

    /// `-F FILE` as the OpenSSH tools take it.
    pub fn flag(&self) -> [String; 2] {
        ["-F".to_string(), self.file.display().to_string()]
    }
}

impl Drop for SshConfig {
    fn drop(&mut self) {
        // The key copies live only as long as the tool that needed them.
        if !self.kept {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The exit status of a tool, 255 when a signal ended it.
pub fn exit_code(status: std::process::ExitStatus) -> u32 {
    status.code().map_or(255, |c| c.max(0) as u32)
}
