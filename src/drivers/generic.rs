//! The `generic` driver: a host that already exists and runs sshd (docker-machine's
//! `generic`). It makes nothing and powers nothing: `create` records where the host is,
//! provisioning does the rest over SSH with the key the user gave; `rm` forgets the
//! machine and leaves the host as it is.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::{Driver, DriverError, HostRef};
use crate::api::{MachineSpec, MachineState};

/// How long `state` waits for the SSH port to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

pub struct GenericDriver;

/// What the driver records: where the host's sshd listens.
fn endpoint(host: &HostRef<'_>) -> Result<(String, u16), DriverError> {
    let ip = host.driver_data["ip"].as_str().filter(|s| !s.is_empty());
    let port = host.driver_data["ssh_port"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok());
    match (ip, port) {
        (Some(ip), Some(port)) => Ok((ip.to_string(), port)),
        _ => Err(DriverError::Failed(format!(
            "{}: the generic driver recorded no address for this machine",
            host.name
        ))),
    }
}

/// Why a power action cannot be done, as the user reads it.
fn cannot_power(name: &str, action: &str) -> DriverError {
    DriverError::Invalid(format!(
        "{name} is a generic host: flotilla did not make it and cannot {action} it; do it where the host lives (`restart` restarts its Docker Engine)"
    ))
}

#[async_trait]
impl Driver for GenericDriver {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn adopts_existing_host(&self) -> bool {
        true
    }

    async fn precheck(&self, spec: &MachineSpec) -> Result<(), DriverError> {
        spec.generic
            .validate()
            .map_err(|e| DriverError::Invalid(e.message))?;
        Ok(())
    }

    async fn create(
        &self,
        spec: &MachineSpec,
        _ssh_public_key: &str,
        record: &(dyn Fn(serde_json::Value) + Send + Sync),
    ) -> Result<serde_json::Value, DriverError> {
        // The host exists and trusts the user's key already: there is nothing to make.
        let (ip, port) = spec
            .generic
            .validate()
            .map_err(|e| DriverError::Invalid(e.message))?;
        let data = json!({ "ip": ip, "ssh_port": port });
        record(data.clone());
        Ok(data)
    }

    async fn start(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        Err(cannot_power(host.name, "start"))
    }

    async fn stop(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        Err(cannot_power(host.name, "stop"))
    }

    /// The engine restarts the Docker Engine over SSH instead (see `adopts_existing_host`).
    async fn restart(&self, _host: &HostRef<'_>) -> Result<(), DriverError> {
        Ok(())
    }

    async fn kill(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        Err(cannot_power(host.name, "kill"))
    }

    /// Forgetting a generic machine leaves its host running: flotilla did not make it.
    async fn remove(&self, _host: &HostRef<'_>) -> Result<(), DriverError> {
        Ok(())
    }

    /// Running when its sshd accepts a connection, else Stopped (as docker-machine's
    /// generic driver answers).
    async fn state(&self, host: &HostRef<'_>) -> Result<MachineState, DriverError> {
        let (ip, port) = endpoint(host)?;
        let connect = tokio::net::TcpStream::connect((ip.as_str(), port));
        match tokio::time::timeout(PROBE_TIMEOUT, connect).await {
            Ok(Ok(_)) => Ok(MachineState::Running),
            _ => Ok(MachineState::Stopped),
        }
    }

    async fn ip(&self, host: &HostRef<'_>) -> Result<String, DriverError> {
        Ok(endpoint(host)?.0)
    }

    async fn ssh_endpoint(&self, host: &HostRef<'_>) -> Result<(String, u16), DriverError> {
        endpoint(host)
    }
}

/// The driver data of a generic host at `ip`, sshd on `ssh_port` (an import records it
/// the way `create` does).
pub fn driver_data(ip: &str, ssh_port: u16) -> serde_json::Value {
    json!({ "ip": ip, "ssh_port": ssh_port })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::GenericOptions;

    #[tokio::test]
    async fn create_records_the_address_and_power_is_refused() {
        let mut spec = MachineSpec::new("g1", "generic");
        let d = GenericDriver;
        assert!(d.precheck(&spec).await.is_err());
        spec.generic = GenericOptions {
            ip_address: Some("10.1.2.3".into()),
            ssh_port: Some(2222),
        };
        d.precheck(&spec).await.unwrap();
        let data = d.create(&spec, "", &|_| {}).await.unwrap();
        assert_eq!(data, driver_data("10.1.2.3", 2222));
        let host = HostRef {
            name: "g1",
            driver_data: &data,
        };
        assert_eq!(
            d.ssh_endpoint(&host).await.unwrap(),
            ("10.1.2.3".into(), 2222)
        );
        let err = d.stop(&host).await.unwrap_err().to_string();
        assert!(err.contains("cannot stop"), "{err}");
        d.remove(&host).await.unwrap();
    }

    #[tokio::test]
    async fn a_bad_address_is_refused() {
        let mut spec = MachineSpec::new("g1", "generic");
        spec.generic.ip_address = Some("a b".into());
        let err = GenericDriver.precheck(&spec).await.unwrap_err().to_string();
        assert!(err.contains("--generic-ip-address"), "{err}");
    }
}
