//! What faces ask about provisioning: the OS profiles a fleet knows, and logs a
//! provisioning left on a host.

use serde::{Deserialize, Serialize};

use super::EngineInstall;

/// An OS profile as `flotilla os ls` / `os show` present it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct OsProfileInfo {
    pub name: String,
    /// os-release IDs it serves (ID, then ID_LIKE).
    pub ids: Vec<String>,
    /// The VERSION_ID range it serves, e.g. ">=11, <14"; None: any.
    pub version_id: Option<String>,
    /// apt, dnf, yum, zypper, pacman, apk, or none.
    pub package_manager: String,
    /// systemd or openrc.
    pub service_manager: String,
    /// How Docker can be installed; the first is the default.
    pub install_methods: Vec<EngineInstall>,
    /// `built-in`, or the file a user profile came from.
    pub origin: String,
    /// A user profile that replaces the built-in one of the same name.
    pub overrides_builtin: bool,
    /// The profile's TOML as loaded.
    pub source: String,
}

/// A log provisioning leaves on a machine's host.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MachineLog {
    /// /var/log/cloud-init.log
    CloudInit,
    /// /var/log/cloud-init-output.log: the output of the user's commands.
    CloudInitOutput,
}

impl MachineLog {
    pub fn path(self) -> &'static str {
        match self {
            MachineLog::CloudInit => "/var/log/cloud-init.log",
            MachineLog::CloudInitOutput => "/var/log/cloud-init-output.log",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            MachineLog::CloudInit => "cloud-init",
            MachineLog::CloudInitOutput => "cloud-init-output",
        }
    }
    pub fn parse(s: &str) -> Option<MachineLog> {
        [MachineLog::CloudInit, MachineLog::CloudInitOutput]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// The largest log `machine_log` returns (its last bytes when longer).
pub const MAX_LOG_BYTES: usize = 4 * 1024 * 1024;
