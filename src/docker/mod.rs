//! A machine's Docker Engine API over TLS (bollard).
//!
//! INTERFACE (fixed; bodies to be written).

use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker at {url}: {reason}")]
    Api { url: String, reason: String },
    #[error("docker at {url} did not answer over TLS within {timeout:?}: {last}")]
    Timeout { url: String, timeout: Duration, last: String },
}

/// Facts `docker info` / `docker version` report that flotilla records or checks.
#[derive(Debug, Clone, Default)]
pub struct EngineInfo {
    pub server_version: String,
    pub api_version: String,
    pub labels: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    pub storage_driver: String,
    pub containers_running: i64,
    pub name: String,
}

pub struct MachineDocker { /* bollard::Docker */ }

impl MachineDocker {
    /// `url` is `tcp://IP:2376`; `cert_dir` holds ca.pem, cert.pem, key.pem (docker CLI layout).
    pub fn connect_tls(url: &str, cert_dir: &Path) -> Result<MachineDocker, DockerError> { todo!() }
    pub async fn ping(&self) -> Result<(), DockerError> { todo!() }
    pub async fn info(&self) -> Result<EngineInfo, DockerError> { todo!() }
    /// Polls ping until it answers or `timeout` passes; then returns `info`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<EngineInfo, DockerError> { todo!() }
    /// The underlying bollard client, for later features (swarm, containers).
    pub fn api(&self) -> &bollard::Docker { todo!() }
}
