//! The `container` driver: each host is a system container (systemd, sshd, dockerd)
//! on a Docker Engine, made through its API.
//!
//! INTERFACE (fixed; bodies to be written).

use super::{Driver, DriverError};

/// Image `flotilla image build` makes by default, and the default `--container-image`.
pub fn default_image() -> String { "flotilla-host:bookworm".into() }

pub struct ContainerDriver { /* bollard::Docker, fleet id */ }

impl ContainerDriver {
    /// Connects to the local socket, or DOCKER_HOST when set. Err(Unavailable) when no
    /// engine answers, saying how to start one.
    pub async fn connect(fleet_id: &str) -> Result<ContainerDriver, DriverError> { todo!() }
}

// impl Driver for ContainerDriver { ... }

pub mod image {
    //! `flotilla image build`: a host image made locally with debootstrap, no registry.
    pub struct BuildOptions { pub suite: String, pub with_docker: bool, pub tag: Option<String> }
    /// Tag for the options: `flotilla-host:SUITE` or `flotilla-host:SUITE-docker`.
    pub fn default_tag(suite: &str, with_docker: bool) -> String { todo!() }
    /// Builds and imports the image; `progress` gets one line per phase. Returns the tag.
    pub async fn build(opts: &BuildOptions, progress: &(dyn Fn(&str) + Send + Sync)) -> Result<String, super::DriverError> { todo!() }
}
