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
    /// An operation is under way on the machine (creating, provisioning, removing): what
    /// is recorded may change without a host being asked, or be left by a dead process.
    pub fn is_transitional(self) -> bool {
        matches!(
            self,
            MachineState::Creating | MachineState::Provisioning | MachineState::Removing
        )
    }

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
    /// `--engine-env KEY=VALUE`: environment of the dockerd process. Values are sealed
    /// in the store: a stored machine shows each as `SEALED_ENV_VALUE` (`<sealed>`).
    #[schema(value_type = Vec<Vec<String>>)]
    pub env: Vec<(String, String)>,
    /// Run this script to install the engine instead of the OS's package.
    pub install_url: Option<String>,
    /// How the engine is installed when the host lacks it (`--engine-install`); None:
    /// the OS profile's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install: Option<EngineInstall>,
    /// The engine version to install (`--engine-version`), where the method can pin one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// A shell script that runs instead of the install step (`--custom-install-script`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub install_script: Option<String>,
    /// A daemon.json given whole (`--engine-config`): the `--engine-*` options are merged
    /// over it; a key set both ways with different values is an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    /// The TCP port dockerd listens on with TLS (`--generic-engine-port`); None: 2376.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
}

/// What a stored machine or swarm shows for each `--engine-env` value: the values are
/// sealed (`Fleet::engine_env` unseals them, for operators).
pub const SEALED_ENV_VALUE: &str = "<sealed>";

/// The port dockerd listens on with TLS when none is given.
pub const DEFAULT_ENGINE_PORT: u16 = 2376;

impl EngineOptions {
    /// The TCP port dockerd listens on with TLS.
    pub fn engine_port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_ENGINE_PORT)
    }
}

/// How the Docker Engine gets onto a host that lacks it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EngineInstall {
    /// The distribution's own package (docker.io, docker, moby-engine...).
    Package,
    /// Docker's own package repository (docker-ce); can pin `--engine-version`.
    DockerRepo,
    /// An install script fetched from `--engine-install-url` (default get.docker.com).
    Script,
    /// Never install: a host without dockerd is an error.
    None,
}

impl EngineInstall {
    pub const ALL: [EngineInstall; 4] = [
        EngineInstall::Package,
        EngineInstall::DockerRepo,
        EngineInstall::Script,
        EngineInstall::None,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            EngineInstall::Package => "package",
            EngineInstall::DockerRepo => "docker-repo",
            EngineInstall::Script => "script",
            EngineInstall::None => "none",
        }
    }
    pub fn parse(s: &str) -> Option<EngineInstall> {
        Self::ALL.into_iter().find(|m| m.as_str() == s.trim())
    }
}

impl fmt::Display for EngineInstall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether provisioning may install cloud-init on a host that lacks it.
#[derive(
    Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, Hash, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CloudInitInstall {
    /// From the OS's packages, when missing.
    #[default]
    Auto,
    /// Refuse a host without cloud-init.
    Never,
}

/// cloud-init user-data for a machine (`--cloud-init FILE`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CloudInit {
    /// The user-data: a `#cloud-config`, a `#!` script or a MIME multipart of both.
    /// Sent with the spec; the engine seals it in the store and keeps only its digest
    /// here (it often holds secrets), so specs read back never carry it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// sha256 (hex) of the user-data, set by the engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Install cloud-init when the host lacks it, or refuse (`--cloud-init-install`).
    pub install: CloudInitInstall,
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

/// Settings of the `generic` driver: a host that already exists, reached over SSH
/// (docker-machine's `--generic-*` flags; the user and key are the spec's own).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct GenericOptions {
    /// The host's IP address or DNS name (`--generic-ip-address`).
    pub ip_address: Option<String>,
    /// Where its sshd listens (`--generic-ssh-port`); None: 22.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh_port: Option<u16>,
}

impl GenericOptions {
    /// The address, checked: a generic host must be named, as one host, and reachable
    /// on a real port.
    pub fn validate(&self) -> Result<(&str, u16), Error> {
        let given = self.ip_address.as_deref().map(str::trim).unwrap_or("");
        if given.is_empty() {
            return Err(Error::invalid(
                "the generic driver needs the host's address: give --generic-ip-address",
            ));
        }
        // An IPv6 literal, bare or in URL brackets, is kept bare: URLs add the
        // brackets (`tcp_url`), ssh and the certificate's SAN want it without.
        let unbracketed = given
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(given);
        if unbracketed.contains(':') {
            return match unbracketed.parse::<std::net::Ipv6Addr>() {
                Ok(_) => Ok((unbracketed, self.port()?)),
                Err(_) if unbracketed.contains('%') => Err(Error::invalid(format!(
                    "invalid --generic-ip-address {given:?}: a link-local address with a zone (%IFACE) cannot be named in a Docker URL or a certificate; give a global IPv6 address or a DNS name"
                ))),
                Err(_) => Err(Error::invalid(format!(
                    "invalid --generic-ip-address {given:?}: not an IPv6 address; give an IP address or a DNS name"
                ))),
            };
        }
        let ip = given;
        if ip.len() > 253
            || !ip
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
        {
            return Err(Error::invalid(format!(
                "invalid --generic-ip-address {ip:?}: give an IP address or a DNS name"
            )));
        }
        Ok((ip, self.port()?))
    }

    fn port(&self) -> Result<u16, Error> {
        let port = self.ssh_port.unwrap_or(22);
        if port == 0 {
            return Err(Error::invalid("invalid --generic-ssh-port 0: give 1-65535"));
        }
        Ok(port)
    }
}

/// The Docker URL of an engine at `host` (an IPv4 or IPv6 address, or a DNS name):
/// `tcp://HOST:PORT`, an IPv6 address in brackets as URLs write it.
pub fn tcp_url(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("tcp://[{host}]:{port}")
    } else {
        format!("tcp://{host}:{port}")
    }
}

/// A login name for SSH: what useradd accepts (a letter or '_' first, then letters,
/// digits, '_', '-', '.'), at most 32 characters.
pub fn validate_ssh_user(user: &str) -> Result<(), Error> {
    let mut chars = user.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok
        || user.len() > 32
        || !chars.all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(Error::invalid(format!(
            "invalid SSH user {user:?}: use a login name (letters, digits, '_', '-', '.'; a letter or '_' first; at most 32 characters)"
        )));
    }
    Ok(())
}

/// What the user asked for. Stored as the machine's desired state before anything is made.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    /// A DNS label (what `validate_name` checks).
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    pub driver: String,
    #[serde(default)]
    pub engine: EngineOptions,
    #[serde(default)]
    pub container: ContainerOptions,
    /// Settings of the `generic` driver.
    #[serde(default, skip_serializing_if = "is_default")]
    pub generic: GenericOptions,
    /// Extra subject alternative names for the server certificate.
    #[serde(default)]
    pub tls_san: Vec<String>,
    /// An existing private key (OpenSSH PEM) to use instead of generating one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_pem: Option<String>,
    #[serde(default = "default_ssh_user")]
    pub ssh_user: String,
    /// cloud-init user-data to apply at provisioning.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_init: Option<CloudInit>,
    /// The OS profile to provision with (`--os-profile`), instead of matching /etc/os-release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_profile: Option<String>,
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
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
            generic: GenericOptions::default(),
            tls_san: Vec::new(),
            ssh_key_pem: None,
            ssh_user: default_ssh_user(),
            cloud_init: None,
            os_profile: None,
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

/// A machine in brief: what a list of many shows (`ls`), without the spec and driver
/// data a long list need not read; the labels are the spec's engine labels, the
/// health the monitor's latest word in brief (None: the backend has none to give).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MachineBrief {
    pub name: String,
    pub driver: String,
    pub state: MachineState,
    pub error: Option<String>,
    pub ip: Option<String>,
    pub url: Option<String>,
    pub docker_version: Option<String>,
    pub swarm: Option<String>,
    pub observed_ms: i64,
    pub labels: Vec<String>,
    pub health: Option<super::HealthBrief>,
}

impl From<&Machine> for MachineBrief {
    fn from(m: &Machine) -> Self {
        MachineBrief {
            name: m.name.clone(),
            driver: m.driver.clone(),
            state: m.state,
            error: m.error.clone(),
            ip: m.ip.clone(),
            url: m.url.clone(),
            docker_version: m.docker_version.clone(),
            swarm: m.swarm.clone(),
            observed_ms: m.observed_ms,
            labels: m.spec.engine.labels.clone(),
            health: None,
        }
    }
}

impl MachineBrief {
    /// Whole machines in brief, each with its health from `health` in brief (a machine
    /// without a sample there has none): for a backend or a face that has both.
    pub fn with_health(machines: &[Machine], health: &[super::Health]) -> Vec<MachineBrief> {
        let by_name: std::collections::HashMap<&str, &super::Health> =
            health.iter().map(|h| (h.machine.as_str(), h)).collect();
        machines
            .iter()
            .map(|m| MachineBrief {
                health: by_name
                    .get(m.name.as_str())
                    .map(|h| super::HealthBrief::from(*h)),
                ..MachineBrief::from(m)
            })
            .collect()
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

/// The largest private key file `SshLogin` takes (an RSA-16384 key is under 13 KiB).
pub const MAX_PRIVATE_KEY_BYTES: usize = 16 * 1024;

/// A login other than the machine's own for `Fleet::ssh_attach`: a user of the host's
/// own (one a cloud-config made, say) with that user's private key. The key stays in
/// this process: a remote fleet hands out only the address and the pinned host key,
/// which is enforced as for the machine's own login.
#[derive(Clone, PartialEq, Eq)]
pub struct SshLogin {
    user: String,
    private_key_pem: String,
}

impl SshLogin {
    /// Checks the user name (`validate_ssh_user`, the one rule for login names) and
    /// that the key is an OpenSSH or PEM private key of a sane size.
    pub fn new(user: &str, private_key_pem: String) -> Result<SshLogin, Error> {
        validate_ssh_user(user)?;
        if private_key_pem.len() > MAX_PRIVATE_KEY_BYTES {
            return Err(Error::invalid(format!(
                "the SSH private key is {} bytes: a private key is at most {MAX_PRIVATE_KEY_BYTES}",
                private_key_pem.len()
            )));
        }
        let first = private_key_pem.lines().next().unwrap_or("").trim();
        if !(first.starts_with("-----BEGIN ") && first.contains("PRIVATE KEY-----")) {
            return Err(Error::invalid(
                "the SSH identity is not a private key (expected -----BEGIN ... PRIVATE KEY-----)",
            ));
        }
        Ok(SshLogin {
            user: user.to_string(),
            private_key_pem,
        })
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The machine's access with this login instead of the machine's own: the address
    /// and the pinned host key stay, any certificate for the machine's key goes.
    pub fn apply(&self, access: SshAccess) -> SshAccess {
        SshAccess {
            user: self.user.clone(),
            private_key_pem: self.private_key_pem.clone(),
            certificate: None,
            ..access
        }
    }
}

impl std::fmt::Debug for SshLogin {
    // The key is a secret: never in a log line or a panic message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshLogin")
            .field("user", &self.user)
            .field("private_key_pem", &"<redacted>")
            .finish()
    }
}

/// The most extra subject alternative names one certificate may carry.
pub const MAX_TLS_SANS: usize = 32;
/// The longest DNS name (RFC 1035).
const MAX_DNS_NAME: usize = 253;

/// Extra names for a machine's server certificate: each an IP address or a DNS name
/// (labels of letters, digits and `-`, a leading `*.` allowed), at most
/// [`MAX_TLS_SANS`] of them. Checked when asked for, not when the certificate is made.
pub fn validate_tls_sans(sans: &[String]) -> Result<(), Error> {
    if sans.len() > MAX_TLS_SANS {
        return Err(Error::invalid(format!(
            "{} --tls-san names are too many: at most {MAX_TLS_SANS}",
            sans.len()
        )));
    }
    for san in sans {
        if san.parse::<std::net::IpAddr>().is_ok() || is_dns_name(san) {
            continue;
        }
        let shown: String = san.chars().take(64).collect();
        let cut = if shown.len() < san.len() { "..." } else { "" };
        return Err(Error::invalid(format!(
            "invalid --tls-san {shown:?}{cut}: give a DNS name (letters, digits, - and dots, at most {MAX_DNS_NAME} characters) or an IP address"
        )));
    }
    Ok(())
}

fn is_dns_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let body = name.strip_prefix("*.").unwrap_or(name);
    !body.is_empty()
        && name.len() <= MAX_DNS_NAME
        && body.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
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
    fn generic_addresses_take_ipv6_literals_bare() {
        let opts = |ip: &str| GenericOptions {
            ip_address: Some(ip.into()),
            ssh_port: None,
        };
        assert_eq!(opts("fd42::2").validate().unwrap(), ("fd42::2", 22));
        assert_eq!(opts(" [::1] ").validate().unwrap(), ("::1", 22));
        assert_eq!(opts("10.0.0.5").validate().unwrap(), ("10.0.0.5", 22));
        let err = opts("fe80::1%eth0").validate().unwrap_err().message;
        assert!(err.contains("zone"), "{err}");
        let err = opts("fd42::g").validate().unwrap_err().message;
        assert!(err.contains("not an IPv6 address"), "{err}");
        assert!(opts("[10.0.0.5]").validate().is_err());
        assert_eq!(tcp_url("fd42::2", 2376), "tcp://[fd42::2]:2376");
        assert_eq!(tcp_url("h.example", 2376), "tcp://h.example:2376");
    }

    #[test]
    fn another_login_needs_a_login_name_and_a_private_key() {
        let key = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
        for user in ["deploy", "_svc", "a-b_1", &"u".repeat(32)] {
            assert!(SshLogin::new(user, key.into()).is_ok(), "{user}");
        }
        for user in ["", "-x", "1deploy", "de ploy", "root;id", &"u".repeat(33)] {
            let err = SshLogin::new(user, key.into()).unwrap_err();
            assert_eq!(err.kind, crate::api::ErrorKind::InvalidInput, "{user}");
            assert!(err.to_string().contains("invalid SSH user"), "{err}");
        }
        let err = SshLogin::new("deploy", "ssh-ed25519 AAAA deploy@x".into()).unwrap_err();
        assert!(err.to_string().contains("not a private key"), "{err}");
        let huge = format!("{key}{}", "A".repeat(MAX_PRIVATE_KEY_BYTES));
        assert!(SshLogin::new("deploy", huge).is_err());

        let login = SshLogin::new("deploy", key.into()).unwrap();
        assert!(
            !format!("{login:?}").contains("AAAA"),
            "the key stays out of logs"
        );
        let access = SshAccess {
            machine: "web".into(),
            host: "10.0.0.2".into(),
            port: 22,
            user: "root".into(),
            private_key_pem: "machine key".into(),
            host_key: Some("ssh-ed25519 HOST".into()),
            certificate: Some("cert".into()),
        };
        let as_deploy = login.apply(access);
        assert_eq!(as_deploy.user, "deploy");
        assert_eq!(as_deploy.private_key_pem, key);
        assert_eq!(as_deploy.certificate, None);
        assert_eq!(as_deploy.host_key.as_deref(), Some("ssh-ed25519 HOST"));
    }

    #[test]
    fn tls_sans_are_dns_names_or_addresses() {
        let ok: Vec<String> = ["docker.example.com", "10.0.0.5", "::1", "*.lan", "host-1"]
            .map(String::from)
            .to_vec();
        assert!(validate_tls_sans(&ok).is_ok());
        for bad in [
            "$(reboot)",
            "a b",
            "",
            "-lead.example",
            "under_score.example",
            "x..y",
        ] {
            assert!(validate_tls_sans(&[bad.to_string()]).is_err(), "{bad}");
        }
        let huge = "a".repeat(1 << 20);
        let e = validate_tls_sans(&[huge]).unwrap_err().to_string();
        assert!(
            e.len() < 300,
            "the refusal quotes all of it: {} bytes",
            e.len()
        );
        let long = format!("{}.example", vec!["a".repeat(63); 4].join("."));
        assert!(validate_tls_sans(&[long]).is_err());
        let many = vec!["h.example".to_string(); MAX_TLS_SANS + 1];
        assert!(validate_tls_sans(&many)
            .unwrap_err()
            .to_string()
            .contains("too many"));
    }

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
