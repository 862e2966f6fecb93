//! Rendering the Docker Engine's configuration: /etc/docker/daemon.json and a systemd
//! drop-in for -H and the environment. Pure functions.
//! INTERFACE (fixed; bodies to be written).

use crate::api::EngineOptions;
use super::ProvisionError;

/// Where flotilla puts the daemon's TLS files on a host.
pub const TLS_DIR: &str = "/etc/docker/flotilla";
pub const DAEMON_JSON: &str = "/etc/docker/daemon.json";
pub const DROPIN: &str = "/etc/systemd/system/docker.service.d/10-flotilla.conf";
pub const DOCKER_PORT: u16 = 2376;

/// Parses `KEY=VALUE` (for --engine-opt / --engine-env / --engine-label checks).
pub fn parse_kv(flag: &str, s: &str) -> Result<(String, String), ProvisionError> { todo!() }
/// Checks options before anything is made: malformed or conflicting options are errors
/// that name the flag and say what is expected.
pub fn validate(opts: &EngineOptions) -> Result<(), ProvisionError> { todo!() }
pub fn render_daemon_json(opts: &EngineOptions) -> Result<String, ProvisionError> { todo!() }
pub fn render_dropin(dockerd_path: &str, opts: &EngineOptions) -> String { todo!() }
