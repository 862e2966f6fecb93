//! Provisioning over SSH, driver-independent: detect the OS, set the hostname, install
//! the Docker Engine if missing, write its configuration and TLS material, restart it.
//! Every step converges: run twice, the second run changes nothing.
//!
//! INTERFACE (fixed; bodies to be written). The engine calls the steps in order and
//! reports each as progress; TLS readiness is checked by the engine via `crate::docker`.

pub mod certs;
pub mod engine_config;
pub mod os;

use crate::api::EngineOptions;
use crate::ssh::Session;

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("{0}")]
    InvalidOptions(String),
    #[error("unsupported operating system {0}: add a profile in {1} (see assets/os/debian.toml)")]
    UnsupportedOs(String, String),
    #[error("{step} failed on {machine}: {detail}")]
    Step { machine: String, step: String, detail: String },
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    #[error("certificate: {0}")]
    Cert(String),
}

/// What `detect` learned about a host in one round trip.
#[derive(Debug, Clone)]
pub struct HostFacts {
    pub os: os::OsRelease,
    pub profile: os::Profile,
    pub hostname: String,
    /// Path of dockerd when installed.
    pub dockerd: Option<String>,
    /// sha256 (hex) of each file flotilla manages on the host, by path, when present.
    pub file_hashes: std::collections::BTreeMap<String, String>,
}

/// TLS material the daemon gets.
pub struct TlsFiles<'a> {
    pub ca_pem: &'a str,
    pub server: &'a certs::CertPair,
}

pub async fn detect(s: &Session, machine: &str, profiles: &os::Profiles) -> Result<HostFacts, ProvisionError> { todo!() }
/// Sets the hostname (writing /etc/hostname in place). Ok(true) when it changed anything.
pub async fn set_hostname(s: &Session, machine: &str, facts: &HostFacts) -> Result<bool, ProvisionError> { todo!() }
/// Installs the engine when dockerd is missing (profile's method, or `opts.install_url`).
pub async fn install_engine(s: &Session, machine: &str, facts: &mut HostFacts, opts: &EngineOptions) -> Result<bool, ProvisionError> { todo!() }
/// Writes daemon.json, the systemd drop-in and the TLS files where they differ, then
/// (only if anything changed, or the daemon is not active) reloads systemd and restarts
/// docker so that it really runs with the new settings. Ok(true) when it changed anything.
pub async fn configure_engine(s: &Session, machine: &str, facts: &HostFacts, opts: &EngineOptions, tls: &TlsFiles<'_>) -> Result<bool, ProvisionError> { todo!() }
/// Restarts the daemon (after new certificates), the same way `configure_engine` does.
pub async fn restart_engine(s: &Session, machine: &str) -> Result<(), ProvisionError> { todo!() }
