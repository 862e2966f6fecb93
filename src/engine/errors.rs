//! Turning the rooms' errors into the contract's, with the machine's name and what to do.

use crate::api::Error;
use crate::docker::DockerError;
use crate::drivers::DriverError;
use crate::provision::ProvisionError;
use crate::ssh::SshError;

pub(crate) fn driver(e: DriverError) -> Error {
    match e {
        DriverError::Invalid(m) => Error::InvalidInput(m),
        DriverError::NotFound(m) => Error::NotFound(m),
        DriverError::Unavailable(m) | DriverError::Failed(m) => Error::Driver(m),
    }
}

pub(crate) fn ssh(machine: &str, e: SshError) -> Error {
    match e {
        SshError::HostKeyChanged { expected, got, .. } => Error::HostKeyChanged(format!(
            "the SSH host key of {machine} changed (pinned {expected}, offered {got}): someone may be \
             intercepting the connection; if the host was rebuilt, run `flotilla provision --trust-new-host-key {machine}`"
        )),
        SshError::Auth { user, .. } => Error::Ssh(format!(
            "{machine} refused the machine's SSH key for {user}: check /root/.ssh/authorized_keys on the host, or recreate the machine"
        )),
        SshError::Timeout(after, addr) => Error::Ssh(format!(
            "{machine} did not answer SSH at {addr} within {}s: check that the host is running (`flotilla status {machine}`)",
            after.as_secs()
        )),
        other => Error::Ssh(format!("{machine}: {other}")),
    }
}

pub(crate) fn provision(e: ProvisionError) -> Error {
    match e {
        ProvisionError::InvalidOptions(m) => Error::InvalidInput(m),
        other => Error::Provision(other.to_string()),
    }
}

pub(crate) fn docker(machine: &str, e: DockerError) -> Error {
    Error::Docker(format!("{machine}: {e}"))
}
