use serde::{Deserialize, Serialize};
use std::fmt;

use super::Error;

/// Where a machine is in its life. Observed by the engine and the driver, stored beside
/// the desired state so `ls` can answer without asking hosts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MachineState {
    Creating,
    Provisioning,
    Running,
    Stopped,
    Error,
    Removing,
    /// The driver has no trace of the host any more.
    Gone,
}

impl MachineState {
    pub fn as_str(self) -> &'static str {
        match self {
            MachineState::Creating => "Creating",
            MachineState::Provisioning => "Provisioning",
            MachineState::Running => "Running",
            MachineState::Stopped => "Stopped",
            MachineState::Error => "Error",
            MachineState::Removing => "Removing",
            MachineState::Gone => "Gone",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            MachineState::Creating,
            MachineState::Provisioning,
            MachineState::Running,
            MachineState::Stopped,
            MachineState::Error,
            MachineState::Removing,
            MachineState::Gone,
        ]
        .into_iter()
        .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for MachineState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Docker Engine settings, rendered to /etc/docker/daemon.json and a systemd drop-in.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    /// `--engine-label key=value`
    pub labels: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    pub storage_driver: Option<String>,
    /// `--engine-opt key=value`: any daemon option, by its daemon.json key or flag name.
    #[schema(value_type = Vec<Vec<String>>)]
    pub opts: Vec<(String, String)>,
    /// `--engine-env KEY=VALUE`: environment of the dockerd process.
    #[schema(value_type = Vec<Vec<String>>)]
    pub env: Vec<(String, String)>,
    /// Run this script to install the engine instead of the OS's package.
    pub install_url: Option<String>,
}

impl EngineOptions {
    /// Reads `KEY=VALUE` as `--engine-opt`, `--engine-env` and `--engine-label` take it
    /// (`flag` names the option in the message).
    pub fn parse_kv(flag: &str, s: &str) -> Result<(String, String), Error> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(Error::invalid(format!(
                "invalid {flag} {s:?}: expected KEY=VALUE"
            ))),
        }
    }
}

/// Settings of the `container` driver.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ContainerOptions {
    pub image: Option<String>,
    /// Bytes.
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub network: Option<String>,
}

/// What the user asked for. Stored as the machine's desired state before anything is made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub engine: EngineOptions,
    #[serde(default)]
    pub container: ContainerOptions,
    /// Extra subject alternative names for the server certificate.
    #[serde(default)]
    pub tls_san: Vec<String>,
    /// An existing private key (OpenSSH PEM) to use instead of generating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_pem: Option<String>,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: String,
}

fn default_ssh_user() -> String {
    "root".into()
}

impl MachineSpec {
    pub fn new(name: impl Into<String>, driver: impl Into<String>) -> Self {
        MachineSpec {
            name: name.into(),
            driver: driver.into(),
            engine: EngineOptions::default(),
            container: ContainerOptions::default(),
            tls_san: Vec::new(),
            ssh_key_pem: None,
            ssh_user: default_ssh_user(),
        }
    }
}

/// A machine as the store knows it: desired spec plus the last observed facts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Machine {
    pub name: String,
    pub driver: String,
    pub state: MachineState,
    /// Why the machine is in `Error`, or what the last failed operation said.
    pub error: Option<String>,
    pub ip: Option<String>,
    /// `tcp://IP:2376` once the engine answers over TLS.
    pub url: Option<String>,
    pub docker_version: Option<String>,
    pub swarm: Option<String>,
    pub hostname: Option<String>,
    pub ssh_user: String,
    pub ssh_port: u16,
    /// SHA256 fingerprint of the pinned SSH host key.
    pub host_key_fingerprint: Option<String>,
    pub spec: MachineSpec,
    /// What the driver made (e.g. the container id), as the driver records it.
    #[schema(value_type = Object)]
    pub driver_data: serde_json::Value,
    pub created_ms: i64,
    /// When the state was last observed.
    pub observed_ms: i64,
}

impl Machine {
    /// The record of a machine about to be made: desired spec, nothing observed yet.
    pub fn planned(spec: &MachineSpec, now_ms: i64) -> Machine {
        Machine {
            name: spec.name.clone(),
            driver: spec.driver.clone(),
            state: MachineState::Creating,
            error: None,
            ip: None,
            url: None,
            docker_version: None,
            swarm: None,
            hostname: None,
            ssh_user: spec.ssh_user.clone(),
            ssh_port: 22,
            host_key_fingerprint: None,
            spec: spec.clone(),
            driver_data: serde_json::json!({}),
            created_ms: now_ms,
            observed_ms: now_ms,
        }
    }
}

/// What a docker client needs for one machine: its URL and PEM material.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ClientConfig {
    pub machine: String,
    pub url: String,
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

/// What an SSH client needs for one machine.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct SshAccess {
    pub machine: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    /// OpenSSH-format private key.
    pub private_key_pem: String,
    /// The pinned host key, OpenSSH public key line (`ssh-ed25519 AAAA...`).
    pub host_key: Option<String>,
    /// A short-lived OpenSSH user certificate for `private_key_pem`, signed by the
    /// fleet's SSH CA (remote fleets: the machine's own key never leaves the server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
}

/// A machine name must be a DNS label: it becomes a hostname and a certificate name.
pub fn validate_name(name: &str) -> Result<(), Error> {
    let bad = |why: &str| {
        Err(Error::invalid(format!(
            "invalid machine name {name:?}: {why} (use 1-63 lowercase letters, digits and '-', starting with a letter or digit)"
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 63 {
        return bad("it is longer than 63 characters");
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return bad(&format!("{c:?} is not allowed"));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return bad("it starts or ends with '-'");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_dns_labels() {
        for ok in ["web1", "a", "prod-m1", "0abc", &"a".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Web1",
            "web_1",
            "-web",
            "web-",
            "web.1",
            "we b",
            &"a".repeat(64),
        ] {
            let err = validate_name(bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid machine name"), "{bad}: {err}");
        }
    }

    #[test]
    fn spec_round_trips_and_rejects_unknown_fields() {
        let spec = MachineSpec::new("web1", "container");
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<MachineSpec>(&json).unwrap(), spec);
        let err = serde_json::from_str::<MachineSpec>(r#"{"name":"a","driver":"x","bogus":1}"#);
        assert!(err.is_err());
    }
}
