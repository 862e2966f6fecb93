//! Drivers make and control hosts. They know nothing of Docker provisioning: they hand
//! the engine a running host reachable over SSH with the machine's public key installed.
//!

pub mod container;
pub mod generic;

use async_trait::async_trait;

use crate::api::{MachineSpec, MachineState};

/// Label every resource a driver makes carries, so nothing can be orphaned.
pub const LABEL_MACHINE: &str = "flotilla.machine";
/// Label naming the fleet (store) that owns a resource; one engine may serve several fleets.
pub const LABEL_FLEET: &str = "flotilla.fleet";

#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The driver cannot work here at all (e.g. no Docker Engine answers); says what it needs.
    #[error("{0}")]
    Unavailable(String),
    /// The user's input is wrong (e.g. an image that is not a host image); says how to fix it.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

/// Identifies a machine to a driver: its name, its fleet, and what the driver recorded.
#[derive(Debug, Clone)]
pub struct HostRef<'a> {
    pub name: &'a str,
    pub driver_data: &'a serde_json::Value,
}

#[async_trait]
pub trait Driver: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether the host existed before flotilla and lives on without it (the `generic`
    /// driver): the user's own key reaches it, any SSH user may (with sudo), power is
    /// not flotilla's to change (`restart` restarts the Docker Engine instead), and `rm`
    /// forgets the machine and leaves the host running.
    fn adopts_existing_host(&self) -> bool {
        false
    }
    /// Checks the spec's driver options before anything is made (e.g. the image is a host image).
    async fn precheck(&self, spec: &MachineSpec) -> Result<(), DriverError>;
    /// Makes the host and starts it, with `ssh_public_key` authorized for `spec.ssh_user`.
    /// `record` is called with the driver data as soon as anything exists, before the
    /// host is started, so an interruption leaves a record `remove` can use.
    async fn create(
        &self,
        spec: &MachineSpec,
        ssh_public_key: &str,
        record: &(dyn Fn(serde_json::Value) + Send + Sync),
    ) -> Result<serde_json::Value, DriverError>;
    async fn start(&self, host: &HostRef<'_>) -> Result<(), DriverError>;
    async fn stop(&self, host: &HostRef<'_>) -> Result<(), DriverError>;
    async fn restart(&self, host: &HostRef<'_>) -> Result<(), DriverError>;
    async fn kill(&self, host: &HostRef<'_>) -> Result<(), DriverError>;
    /// Removes everything the driver made for this machine (found by label, so it works
    /// without driver data too). Removing what is already gone is not an error.
    async fn remove(&self, host: &HostRef<'_>) -> Result<(), DriverError>;
    /// Running, Stopped or Gone.
    async fn state(&self, host: &HostRef<'_>) -> Result<MachineState, DriverError>;
    async fn ip(&self, host: &HostRef<'_>) -> Result<String, DriverError>;
    /// Host and port where sshd listens.
    async fn ssh_endpoint(&self, host: &HostRef<'_>) -> Result<(String, u16), DriverError>;
}

/// The drivers flotilla knows, with what each needs, for error messages and `create --help`.
pub const KNOWN_DRIVERS: &[(&str, &str)] = &[
    (
        "container",
        "a system container on a Docker Engine (the local socket, FLOTILLA_CONTAINER_HOST or DOCKER_HOST) made from a host image (`flotilla image build`)",
    ),
    (
        "generic",
        "a host that already exists, reached over SSH (--generic-ip-address, --generic-ssh-key, --generic-ssh-user, --generic-ssh-port)",
    ),
];
