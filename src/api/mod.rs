//! The contract between the faces (CLI, TUI) and the backends (local engine, remote
//! server). Every type here is also the wire format of the REST API, so it holds no I/O.

mod error;
mod event;
mod machine;
mod operation;

pub use error::{Error, Result};
pub use event::{Event, EventKind};
pub use machine::{
    validate_name, ClientConfig, ContainerOptions, EngineOptions, Machine, MachineSpec,
    MachineState, SshAccess,
};
pub use operation::{Operation, OperationKind, Outcome, Step, StepState};

use async_trait::async_trait;
use tokio::sync::broadcast;

/// Everything a face can ask of a fleet. `engine::Local` implements it in-process;
/// a remote client will implement it over HTTP. Long work returns an [`Operation`]
/// at once and runs on; its progress arrives as [`Event`]s from [`Fleet::subscribe`].
#[async_trait]
pub trait Fleet: Send + Sync {
    /// All machines as the store knows them; never waits on a host.
    async fn list(&self) -> Result<Vec<Machine>>;
    /// One machine as the store knows it.
    async fn get(&self, name: &str) -> Result<Machine>;

    /// Validates the spec, records the desired machine and starts creating it.
    async fn create(&self, spec: MachineSpec) -> Result<Operation>;
    /// Removes machines; with `force` the record goes even when the host cannot be reached.
    async fn remove(&self, name: &str, force: bool) -> Result<Operation>;
    /// Reruns provisioning; it converges, so a second run changes nothing.
    async fn provision(&self, name: &str, trust_new_host_key: bool) -> Result<Operation>;
    /// Reissues the server certificate (and with `client` the fleet's client certificate).
    async fn regenerate_certs(&self, name: &str, client: bool) -> Result<Operation>;

    async fn start(&self, name: &str) -> Result<Machine>;
    async fn stop(&self, name: &str) -> Result<Machine>;
    async fn restart(&self, name: &str) -> Result<Machine>;
    async fn kill(&self, name: &str) -> Result<Machine>;
    /// Asks the driver now (unlike `get`, which answers from the store).
    async fn status(&self, name: &str) -> Result<MachineState>;

    /// What a docker client needs to talk to the machine over TLS.
    async fn client_config(&self, name: &str) -> Result<ClientConfig>;
    /// What an SSH client needs to reach the machine.
    async fn ssh_access(&self, name: &str) -> Result<SshAccess>;

    /// One operation by id, with its steps and outcome so far.
    async fn operation(&self, id: &str) -> Result<Operation>;
    /// Asks a running operation to stop at its next step; what it made stays recorded.
    async fn cancel(&self, id: &str) -> Result<()>;
    /// Every event from now on. A receiver that falls behind loses the oldest events
    /// and learns how many (`RecvError::Lagged`); the engine never waits for it.
    fn subscribe(&self) -> broadcast::Receiver<Event>;
}
