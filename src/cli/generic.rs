//! `create -d generic` flags, named as docker-machine names them.

use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::{bail, WrapErr};

use crate::api::{GenericOptions, MachineSpec};

/// Flags of the generic driver: a host that already exists, reached over SSH.
#[derive(Debug, Args)]
pub struct GenericArgs {
    /// The host's IP address or DNS name.
    #[arg(long, value_name = "ADDRESS", help_heading = "Generic driver")]
    pub generic_ip_address: Option<String>,
    /// SSH user; not root: provisioning uses passwordless sudo [default: root].
    #[arg(long, value_name = "USER", help_heading = "Generic driver")]
    pub generic_ssh_user: Option<String>,
    /// Private key that reaches the host (copied into the store, sealed).
    #[arg(long, value_name = "FILE", help_heading = "Generic driver")]
    pub generic_ssh_key: Option<PathBuf>,
    /// Port of the host's sshd [default: 22].
    #[arg(long, value_name = "PORT", help_heading = "Generic driver")]
    pub generic_ssh_port: Option<u16>,
    /// Port the Docker Engine listens on with TLS [default: 2376].
    #[arg(long, value_name = "PORT", help_heading = "Generic driver")]
    pub generic_engine_port: Option<u16>,
}

impl GenericArgs {
    fn given(&self) -> bool {
        self.generic_ip_address.is_some()
            || self.generic_ssh_user.is_some()
            || self.generic_ssh_key.is_some()
            || self.generic_ssh_port.is_some()
            || self.generic_engine_port.is_some()
    }

    /// Puts the flags into the spec; refuses them for another driver, so a typo in
    /// `-d` cannot make a machine the user did not mean.
    pub fn apply(&self, spec: &mut MachineSpec) -> color_eyre::Result<()> {
        if !self.given() {
            return Ok(());
        }
        if spec.driver != "generic" {
            bail!(
                "--generic-* flags are for the generic driver: add -d generic (the driver is {:?})",
                if spec.driver.is_empty() {
                    "the default"
                } else {
                    spec.driver.as_str()
                }
            );
        }
        spec.generic = GenericOptions {
            ip_address: self.generic_ip_address.clone(),
            ssh_port: self.generic_ssh_port,
        };
        if let Some(user) = &self.generic_ssh_user {
            spec.ssh_user = user.clone();
        }
        if let Some(port) = self.generic_engine_port {
            spec.engine.port = Some(port);
        }
        if let Some(path) = &self.generic_ssh_key {
            if spec.ssh_key_pem.is_some() {
                bail!("give the key once: --generic-ssh-key or --ssh-key");
            }
            let pem = std::fs::read_to_string(path)
                .wrap_err_with(|| format!("cannot read --generic-ssh-key {}", path.display()))?;
            spec.ssh_key_pem = Some(pem);
        }
        Ok(())
    }
}
