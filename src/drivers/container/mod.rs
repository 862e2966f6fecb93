//! The `container` driver: each host is a system container (systemd, sshd, dockerd)
//! on a Docker Engine, made through its API.
//!
//! The container runs the host image's `/sbin/init` with the flags the testbed needs
//! (all capabilities but SYS_RESOURCE, no seccomp/apparmor confinement, tmpfs /run, the
//! cgroup tree bound rw); `/var/lib/docker` of the nested engine is a named volume
//! labelled with the machine, so its images survive stop/start and `remove` deletes it.

pub mod command;
pub mod image;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum, HostConfig, Mount,
    MountTypeEnum, MountVolumeOptions,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, ListContainersOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
    RestartContainerOptionsBuilder, StartContainerOptions, StopContainerOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Driver, DriverError, HostRef, LABEL_FLEET, LABEL_MACHINE};
use crate::api::{MachineSpec, MachineState};
use crate::docker::{describe, CertFiles};
use crate::settings::EngineSettings;

/// Image `flotilla image build` makes by default, and the default `--container-image`.
pub fn default_image() -> String {
    image::default_tag(image::DEFAULT_SUITE, false)
}

/// Label `flotilla image build` puts on host images.
pub const LABEL_HOST_IMAGE: &str = "flotilla.host-image";

/// Seconds a container gets to shut systemd down before the engine kills it.
const STOP_TIMEOUT_SECS: i32 = 10;
/// How long `connect` waits for an engine to answer.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub struct ContainerDriver {
    docker: Docker,
    fleet_id: String,
}

impl ContainerDriver {
    /// Connects to the engine at `at`. Err(Unavailable) when no engine answers, saying
    /// how to start one.
    pub async fn connect(fleet_id: &str, at: &Endpoint) -> Result<ContainerDriver, DriverError> {
        let docker = connect_docker(at).await?;
        Ok(ContainerDriver {
            docker,
            fleet_id: fleet_id.to_string(),
        })
    }

    /// The fleet this driver labels its resources with.
    pub fn fleet_id(&self) -> &str {
        &self.fleet_id
    }

    /// The engine client (for callers that need more than the driver offers, e.g. tests).
    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    fn labels(&self, machine: &str) -> HashMap<String, String> {
        HashMap::from([
            (LABEL_MACHINE.to_string(), machine.to_string()),
            (LABEL_FLEET.to_string(), self.fleet_id.clone()),
        ])
    }

    /// `label=K=V` filters selecting what this fleet made for `machine`.
    fn label_filters(&self, machine: &str) -> HashMap<String, Vec<String>> {
        HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_MACHINE}={machine}"),
                format!("{LABEL_FLEET}={}", self.fleet_id),
            ],
        )])
    }

    /// Name of the volume holding the nested engine's /var/lib/docker. Unique per fleet,
    /// since several fleets may share one engine.
    fn volume_name(&self, machine: &str) -> String {
        let digest = Sha256::digest(self.fleet_id.as_bytes());
        format!("{machine}-docker-{}", &hex::encode(digest)[..12])
    }

    /// Ids of every container this fleet made for the machine: the recorded one (when it
    /// still exists) and those carrying the machine's labels.
    async fn container_ids(&self, host: &HostRef<'_>) -> Result<Vec<String>, DriverError> {
        let mut ids = Vec::new();
        if let Some(id) = recorded_id(host) {
            match self.docker.inspect_container(id, None::<InspectOpts>).await {
                Ok(c) => ids.extend(c.id),
                Err(e) if is_status(&e, 404) => {}
                Err(e) => return Err(api_err(&format!("inspecting container {id}"), e)),
            }
        }
        let opts = ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&self.label_filters(host.name));
        let found = self
            .docker
            .list_containers(Some(opts.build()))
            .await
            .map_err(|e| api_err("listing containers", e))?;
        for c in found {
            if let Some(id) = c.id {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Ok(ids)
    }

    /// The machine's container, inspected; None when there is none.
    async fn find(
        &self,
        host: &HostRef<'_>,
    ) -> Result<Option<ContainerInspectResponse>, DriverError> {
        for id in self.container_ids(host).await? {
            match self
                .docker
                .inspect_container(&id, None::<InspectOpts>)
                .await
            {
                Ok(c) => return Ok(Some(c)),
                Err(e) if is_status(&e, 404) => continue,
                Err(e) => return Err(api_err(&format!("inspecting container {id}"), e)),
            }
        }
        Ok(None)
    }

    /// The id of the machine's container, or NotFound.
    async fn require(&self, host: &HostRef<'_>) -> Result<ContainerInspectResponse, DriverError> {
        self.find(host).await?.ok_or_else(|| {
            DriverError::NotFound(format!(
                "machine {}: its container is gone from the Docker Engine (remove the machine, or create it again)",
                host.name
            ))
        })
    }

    /// A host needs systemd as its PID 1, which needs a writable cgroup tree: an engine
    /// that remaps users (`userns-remap`) gives the container's root no such tree, and
    /// its systemd exits at once (tried: exit 255 on this project's testbed). Refused
    /// up front, with the reason, instead of a host that never answers SSH.
    async fn check_engine(&self) -> Result<(), DriverError> {
        let info = self
            .docker
            .info()
            .await
            .map_err(|e| api_err("asking the Docker Engine for its settings", e))?;
        refuse_userns(info.security_options.as_deref().unwrap_or_default())
    }

    async fn check_image(&self, image: &str) -> Result<(), DriverError> {
        let inspect = match self.docker.inspect_image(image).await {
            Ok(i) => i,
            Err(e) if is_status(&e, 404) => {
                return Err(DriverError::Invalid(format!(
                    "image {image} not found: build it with `{}`",
                    build_hint(image)
                )))
            }
            Err(e) => return Err(api_err(&format!("inspecting image {image}"), e)),
        };
        let config = inspect.config.unwrap_or_default();
        let labelled = config
            .labels
            .as_ref()
            .is_some_and(|l| l.get(LABEL_HOST_IMAGE).is_some_and(|v| v == "1"));
        if labelled || runs_init(config.entrypoint.as_deref(), config.cmd.as_deref()) {
            Ok(())
        } else {
            Err(DriverError::Invalid(format!(
                "image {image} is not a host image (no /sbin/init): build one with `{}`",
                build_hint(image)
            )))
        }
    }

    /// Ok(false) when no container has the name, Ok(true) when one this fleet made for
    /// the machine has it (an orphan of an earlier life: `create` replaces it), else the clash.
    async fn check_name_free(&self, name: &str) -> Result<bool, DriverError> {
        match self
            .docker
            .inspect_container(name, None::<InspectOpts>)
            .await
        {
            Ok(c) => {
                let labels = c.config.and_then(|c| c.labels).unwrap_or_default();
                if labels.get(LABEL_MACHINE).map(String::as_str) == Some(name)
                    && labels.get(LABEL_FLEET) == Some(&self.fleet_id)
                {
                    Ok(true)
                } else {
                    Err(name_clash(name))
                }
            }
            Err(e) if is_status(&e, 404) => Ok(false),
            Err(e) => Err(api_err(&format!("looking for a container named {name}"), e)),
        }
    }
}

type InspectOpts = bollard::query_parameters::InspectContainerOptions;

/// The Docker Engine the container driver makes hosts on (the settings pick it: see
/// `container.host`), and where that choice came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub url: String,
    pub source: String,
    /// TLS client files for a `tcp://` engine; None: plain.
    pub tls: Option<TlsDir>,
}

/// A directory with ca.pem, cert.pem and key.pem, and the setting that named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsDir {
    pub path: PathBuf,
    pub source: String,
}

impl Default for Endpoint {
    /// The local socket.
    fn default() -> Self {
        Endpoint {
            url: "unix:///var/run/docker.sock".into(),
            source: "the local socket".into(),
            tls: None,
        }
    }
}

impl Endpoint {
    /// The engine the settings name (container.host, container.tls_cert_path).
    pub fn from_settings(s: &EngineSettings) -> Endpoint {
        Endpoint {
            url: s.container_host.clone(),
            source: s.container_host_origin.to_string(),
            tls: s.container_cert_path.as_ref().map(|p| TlsDir {
                path: p.clone(),
                source: s.container_cert_path_origin.to_string(),
            }),
        }
    }
}

/// The host part of a `tcp://`, `http://` or `https://` URL; None for a unix socket.
fn url_host(url: &str) -> Option<&str> {
    url.strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("http://"))
        .or_else(|| url.strip_prefix("https://"))
        .map(|rest| match rest.strip_prefix('[') {
            // [v6]:port
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => rest.split(['/', ':']).next().unwrap_or(""),
        })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// How to give the driver TLS files, for refusals.
const TLS_HOWTO: &str = "set FLOTILLA_CONTAINER_CERT_PATH (or container.tls_cert_path in config.toml, serve --container-cert-path, or DOCKER_TLS_VERIFY=1 with DOCKER_CERT_PATH) to a directory with ca.pem, cert.pem and key.pem, for an engine started with --tlsverify on port 2376";

impl Endpoint {
    /// One line for a server's start: the engine, where it was set, and whether container
    /// hosts will be made there (the refusals connect_docker and refuse_if_local make).
    pub fn summary(&self, local_allowed: bool) -> String {
        let url = self.url.trim();
        let local = url_host(url).map_or(true, is_loopback);
        let verdict = match &self.tls {
            _ if !local_allowed && refuse_if_local(self).is_err() => {
                "refused: this machine's own engine (allowed only with --unsafe-local-container-hosts)".to_string()
            }
            Some(t) => format!("TLS with {} ({})", t.path.display(), t.source),
            None if local => "no TLS (an engine on this machine)".to_string(),
            None => "refused: plain TCP to another machine (give --container-cert-path)".to_string(),
        };
        format!("container hosts on {url} ({}): {verdict}", self.source)
    }
}

/// Connects to the driver's engine and agrees on an API version.
/// Refuses an engine on this machine (a unix socket, or TCP to a loopback address): a
/// container host runs privileged, so on a server it would be root on the machine that
/// holds the server's master key, database and fleet CA.
pub fn refuse_if_local(at: &Endpoint) -> Result<(), DriverError> {
    let url = at.url.trim();
    let local = match url_host(url) {
        None => true, // unix:// or a socket path
        Some(h) => {
            is_loopback(h)
                || h.parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified())
        }
    };
    if local {
        return Err(DriverError::Invalid(format!(
            "this server refuses container hosts on its own Docker Engine ({url}): they run privileged, so every operator would be root on the server; use a Docker Engine on another machine over TLS (serve --container-host tcp://HOST:2376 --container-cert-path DIR, or FLOTILLA_CONTAINER_HOST and FLOTILLA_CONTAINER_CERT_PATH), or accept the risk with serve --unsafe-local-container-hosts"
        )));
    }
    Ok(())
}

pub(crate) async fn connect_docker(at: &Endpoint) -> Result<Docker, DriverError> {
    let endpoint = at.url.clone();
    let source = &at.source;
    let unavailable = |why: String| {
        DriverError::Unavailable(format!(
            "no Docker Engine answers at {endpoint} ({source}; {why}): start one (scripts/testbed does) or set FLOTILLA_CONTAINER_HOST"
        ))
    };
    let timeout = 120;
    let version = bollard::API_DEFAULT_VERSION;
    let socket = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.starts_with('/').then_some(endpoint.as_str()));
    let docker = match (socket, &at.tls) {
        (Some(_), Some(tls)) => {
            return Err(DriverError::Invalid(format!(
                "TLS files are set ({}: {}) but the container host {endpoint} ({source}) is a local socket: TLS is for a tcp:// engine on another machine; unset one of them",
                tls.source,
                tls.path.display()
            )))
        }
        (Some(path), None) => Docker::connect_with_unix(path, timeout, version),
        (None, Some(tls)) if endpoint.starts_with("tcp://") || endpoint.starts_with("https://") => {
            let files = CertFiles::check(&tls.path)
                .map_err(|e| DriverError::Invalid(format!("{e} (TLS files from {})", tls.source)))?;
            Docker::connect_with_ssl(&endpoint, &files.key, &files.cert, &files.ca, timeout, version)
        }
        (None, None)
            if (endpoint.starts_with("tcp://") || endpoint.starts_with("http://"))
                && url_host(&endpoint).is_some_and(is_loopback) =>
        {
            Docker::connect_with_http(&endpoint, timeout, version)
        }
        (None, None) if endpoint.starts_with("tcp://") || endpoint.starts_with("http://") => {
            return Err(DriverError::Invalid(format!(
                "refusing plain TCP to the Docker Engine at {endpoint} ({source}): an unauthenticated Docker API is root on that machine; use TLS: {TLS_HOWTO}"
            )))
        }
        (None, None) if endpoint.starts_with("https://") => {
            return Err(DriverError::Invalid(format!(
                "the Docker Engine at {endpoint} ({source}) needs TLS files: {TLS_HOWTO}"
            )))
        }
        _ => {
            return Err(DriverError::Invalid(format!(
                "container host {endpoint} ({source}): give unix:///PATH, or tcp://HOST:PORT (with TLS unless HOST is loopback)"
            )))
        }
    }
    .map_err(|e| unavailable(describe(&e)))?;
    match tokio::time::timeout(CONNECT_TIMEOUT, docker.negotiate_version()).await {
        Ok(Ok(docker)) => Ok(docker),
        Ok(Err(e)) => {
            Err(tls_refusal(at, &describe(&e)).unwrap_or_else(|| unavailable(describe(&e))))
        }
        Err(_) => Err(unavailable(format!(
            "no answer within {}s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// A TLS handshake the engine or this client refused, said plainly: which files to check.
fn tls_refusal(at: &Endpoint, why: &str) -> Option<DriverError> {
    let tls = at.tls.as_ref()?;
    let dir = tls.path.display();
    let url = &at.url;
    let msg = if why.contains("UnknownIssuer") || why.contains("invalid peer certificate") {
        // The client's own words (hyper's wrapping says nothing more).
        let own = why
            .find("invalid peer certificate")
            .map_or(why, |i| &why[i..]);
        format!(
            "the Docker Engine at {url} presented a certificate that {dir}/ca.pem does not vouch for ({own}): put the CA that signed the engine's certificate in {dir}/ca.pem (TLS files from {})",
            tls.source
        )
    } else if why.contains("certificate") || why.contains("handshake") || why.contains("alert") {
        format!(
            "TLS with the Docker Engine at {url} failed ({why}): the engine must be started with --tlsverify and trust the CA of {dir}/cert.pem (TLS files from {})",
            tls.source
        )
    } else {
        return None;
    };
    Some(DriverError::Invalid(msg))
}

/// Refuses an engine whose security options (`docker info`) include user namespaces.
fn refuse_userns(security_options: &[String]) -> Result<(), DriverError> {
    if security_options
        .iter()
        .any(|o| o.split(',').any(|kv| kv == "name=userns"))
    {
        return Err(DriverError::Invalid(
            "this Docker Engine remaps users (userns-remap): the container driver's hosts run systemd as PID 1, which needs a cgroup tree the remapped root cannot write, so they cannot run there; use an engine without userns-remap on another machine (FLOTILLA_CONTAINER_HOST), or the generic driver on a VM".into(),
        ));
    }
    Ok(())
}

fn recorded_id<'a>(host: &HostRef<'a>) -> Option<&'a str> {
    host.driver_data
        .get("container_id")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// True when the entrypoint or command starts an init system.
fn runs_init(entrypoint: Option<&[String]>, cmd: Option<&[String]>) -> bool {
    let first = entrypoint
        .filter(|e| !e.is_empty())
        .or(cmd)
        .and_then(|a| a.first());
    first.is_some_and(|p| {
        let p = p.trim();
        p == "/sbin/init" || p == "init" || p.ends_with("/systemd") || p == "systemd"
    })
}

/// The `flotilla image build` command that makes `image`, when its tag says how.
fn build_hint(image: &str) -> String {
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let (suite, docker) = match tag.strip_suffix("-docker") {
        Some(s) => (s, true),
        None => (tag, false),
    };
    let mut cmd = "flotilla image build".to_string();
    if image.starts_with(image::REPO) && suite != image::DEFAULT_SUITE {
        cmd.push_str(&format!(" --suite {suite}"));
    }
    if docker {
        cmd.push_str(" --with-docker");
    }
    cmd
}

fn name_clash(name: &str) -> DriverError {
    DriverError::Invalid(format!(
        "a container named {name} already exists on the Docker Engine: pick another name or remove it"
    ))
}

fn is_status(e: &BollardError, code: u16) -> bool {
    matches!(e, BollardError::DockerResponseServerError { status_code, .. } if *status_code == code)
}

/// A Docker API error as a driver error, with the engine's message.
fn api_err(what: &str, e: BollardError) -> DriverError {
    match e {
        BollardError::DockerResponseServerError {
            status_code: 404,
            message,
        } => DriverError::NotFound(format!("{what}: {message}")),
        BollardError::DockerResponseServerError { message, .. } => {
            DriverError::Failed(format!("{what}: Docker Engine: {message}"))
        }
        BollardError::DockerStreamError { error } => {
            DriverError::Failed(format!("{what}: Docker Engine: {error}"))
        }
        other => DriverError::Failed(format!("{what}: Docker Engine: {other}")),
    }
}

/// A tar holding /root/.ssh/authorized_keys (dir 0700, file 0600, owned by root).
fn authorized_keys_tar(public_key: &str) -> Result<Vec<u8>, DriverError> {
    let mut key = public_key.trim().to_string();
    key.push('\n');
    let mut builder = tar::Builder::new(Vec::new());
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut dir = tar::Header::new_gnu();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o700);
    dir.set_uid(0);
    dir.set_gid(0);
    dir.set_size(0);
    dir.set_mtime(mtime);
    let mut file = tar::Header::new_gnu();
    file.set_entry_type(tar::EntryType::Regular);
    file.set_mode(0o600);
    file.set_uid(0);
    file.set_gid(0);
    file.set_size(key.len() as u64);
    file.set_mtime(mtime);
    let fail = |e: std::io::Error| DriverError::Failed(format!("packing authorized_keys: {e}"));
    builder
        .append_data(&mut dir, "root/.ssh/", std::io::empty())
        .map_err(fail)?;
    builder
        .append_data(&mut file, "root/.ssh/authorized_keys", key.as_bytes())
        .map_err(fail)?;
    builder.into_inner().map_err(fail)
}

fn check_ssh_user(spec: &MachineSpec) -> Result<(), DriverError> {
    if spec.ssh_user == "root" {
        Ok(())
    } else {
        Err(DriverError::Invalid(format!(
            "the container driver supports only the ssh user root (got {:?}): omit --ssh-user",
            spec.ssh_user
        )))
    }
}

fn check_resources(spec: &MachineSpec) -> Result<(), DriverError> {
    if let Some(m) = spec.container.memory {
        // The engine refuses less than 6 MiB; a host with systemd and dockerd needs far more.
        if m < 64 * 1024 * 1024 {
            return Err(DriverError::Invalid(format!(
                "container memory {m} bytes is too small for a host: give at least 64 MiB"
            )));
        }
    }
    if let Some(c) = spec.container.cpus {
        if !(c.is_finite() && c > 0.0) {
            return Err(DriverError::Invalid(format!(
                "container cpus {c} is not a positive number of CPUs"
            )));
        }
    }
    Ok(())
}

#[async_trait]
impl Driver for ContainerDriver {
    fn name(&self) -> &'static str {
        "container"
    }

    async fn precheck(&self, spec: &MachineSpec) -> Result<(), DriverError> {
        // The container is named after the machine, and Docker wants 2+ characters.
        if spec.name.len() < 2 {
            return Err(DriverError::Invalid(format!(
                "invalid machine name {:?} for the container driver: use at least 2 characters",
                spec.name
            )));
        }
        check_ssh_user(spec)?;
        check_resources(spec)?;
        if let Some(net) = &spec.container.network {
            // The host's own network or another container's namespace would give the
            // machine what it must not see (the server's loopback, another machine).
            if net == "host" || net.starts_with("container:") {
                return Err(DriverError::Invalid(format!(
                    "--container-network {net} is refused: a machine gets its own network namespace; use a bridge network (`docker network create NAME`)"
                )));
            }
        }
        self.check_engine().await?;
        let image = spec.container.image.clone().unwrap_or_else(default_image);
        self.check_image(&image).await?;
        if let Some(net) = &spec.container.network {
            match self.docker.inspect_network(net, None::<bollard::query_parameters::InspectNetworkOptions>).await {
                Ok(_) => {}
                Err(e) if is_status(&e, 404) => {
                    return Err(DriverError::Invalid(format!(
                        "network {net} not found on the Docker Engine: create it with `docker network create {net}` or pick another"
                    )))
                }
                Err(e) => return Err(api_err(&format!("inspecting network {net}"), e)),
            }
        }
        self.check_name_free(&spec.name).await.map(|_| ())
    }

    async fn create(
        &self,
        spec: &MachineSpec,
        ssh_public_key: &str,
        record: &(dyn Fn(serde_json::Value) + Send + Sync),
    ) -> Result<serde_json::Value, DriverError> {
        check_ssh_user(spec)?;
        check_resources(spec)?;
        let name = spec.name.as_str();
        let image = spec.container.image.clone().unwrap_or_else(default_image);
        let keys_tar = authorized_keys_tar(ssh_public_key)?;
        if self.check_name_free(name).await? {
            // The store makes this machine anew: what this fleet left under its name goes.
            tracing::info!("machine {name}: removing the container an earlier {name} left");
            self.remove(&HostRef {
                name,
                driver_data: &json!({}),
            })
            .await?;
        }

        let labels = self.labels(name);
        let volume = self.volume_name(name);
        let host_config = HostConfig {
            cap_add: Some(vec!["ALL".into()]),
            cap_drop: Some(vec!["SYS_RESOURCE".into()]),
            security_opt: Some(vec![
                "seccomp=unconfined".into(),
                "apparmor=unconfined".into(),
            ]),
            tmpfs: Some(HashMap::from([
                ("/run".to_string(), String::new()),
                ("/run/lock".to_string(), String::new()),
            ])),
            binds: Some(vec!["/sys/fs/cgroup:/sys/fs/cgroup:rw".into()]),
            mounts: Some(vec![Mount {
                target: Some("/var/lib/docker".into()),
                source: Some(volume.clone()),
                typ: Some(MountTypeEnum::VOLUME),
                volume_options: Some(MountVolumeOptions {
                    labels: Some(labels.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            memory: spec.container.memory,
            nano_cpus: spec.container.cpus.map(|c| (c * 1e9).round() as i64),
            network_mode: spec.container.network.clone(),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(image.clone()),
            hostname: Some(name.to_string()),
            labels: Some(labels),
            stop_signal: Some("SIGRTMIN+3".into()),
            env: Some(vec!["container=docker".into()]),
            host_config: Some(host_config),
            ..Default::default()
        };
        let opts = CreateContainerOptionsBuilder::new().name(name).build();
        let created = match self.docker.create_container(Some(opts), body).await {
            Ok(c) => c,
            Err(e) if is_status(&e, 409) => return Err(name_clash(name)),
            Err(e) if is_status(&e, 404) => {
                return Err(DriverError::Invalid(format!(
                    "image {image} not found: build it with `{}`",
                    build_hint(&image)
                )))
            }
            Err(e) => return Err(api_err(&format!("creating container {name}"), e)),
        };
        let id = created.id;
        let mut data = json!({ "container_id": id, "volume": volume });
        if let Some(net) = &spec.container.network {
            data["network"] = json!(net);
        }
        record(data.clone());

        let opts = UploadToContainerOptionsBuilder::new().path("/").build();
        self.docker
            .upload_to_container(&id, Some(opts), bollard::body_full(keys_tar.into()))
            .await
            .map_err(|e| api_err(&format!("installing the SSH key into container {name}"), e))?;
        self.docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
            .map_err(|e| api_err(&format!("starting container {name}"), e))?;
        Ok(data)
    }

    async fn start(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        let c = self.require(host).await?;
        let id = c.id.unwrap_or_default();
        match self
            .docker
            .start_container(&id, None::<StartContainerOptions>)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) => Ok(()),
            Err(e) => Err(api_err(&format!("starting machine {}", host.name), e)),
        }
    }

    async fn stop(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        let c = self.require(host).await?;
        let id = c.id.unwrap_or_default();
        let opts = StopContainerOptionsBuilder::new()
            .t(STOP_TIMEOUT_SECS)
            .build();
        match self.docker.stop_container(&id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_status(&e, 304) => Ok(()),
            Err(e) => Err(api_err(&format!("stopping machine {}", host.name), e)),
        }
    }

    async fn restart(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        let c = self.require(host).await?;
        let id = c.id.unwrap_or_default();
        let opts = RestartContainerOptionsBuilder::new()
            .t(STOP_TIMEOUT_SECS)
            .build();
        self.docker
            .restart_container(&id, Some(opts))
            .await
            .map_err(|e| api_err(&format!("restarting machine {}", host.name), e))
    }

    async fn kill(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        let c = self.require(host).await?;
        if !c.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            return Ok(());
        }
        let id = c.id.unwrap_or_default();
        let opts = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        match self.docker.kill_container(&id, Some(opts)).await {
            Ok(()) => Ok(()),
            // Not running (any more): nothing to kill.
            Err(e) if is_status(&e, 409) => Ok(()),
            Err(e) => Err(api_err(&format!("killing machine {}", host.name), e)),
        }
    }

    async fn remove(&self, host: &HostRef<'_>) -> Result<(), DriverError> {
        for id in self.container_ids(host).await? {
            let opts = RemoveContainerOptionsBuilder::new()
                .force(true)
                .v(true)
                .build();
            match self.docker.remove_container(&id, Some(opts)).await {
                Ok(()) => {}
                Err(e) if is_status(&e, 404) => {}
                // "removal already in progress": wait until the engine is done.
                Err(e) if is_status(&e, 409) => self.wait_gone(&id).await?,
                Err(e) => {
                    return Err(api_err(
                        &format!("removing container of machine {}", host.name),
                        e,
                    ))
                }
            }
        }
        let mut volumes = Vec::new();
        if let Some(v) = host.driver_data.get("volume").and_then(|v| v.as_str()) {
            // Only a volume carrying this machine's labels: never delete someone else's.
            if let Ok(vol) = self.docker.inspect_volume(v).await {
                let l = &vol.labels;
                if l.get(LABEL_MACHINE).map(String::as_str) == Some(host.name)
                    && l.get(LABEL_FLEET) == Some(&self.fleet_id)
                {
                    volumes.push(vol.name);
                }
            }
        }
        let opts = ListVolumesOptionsBuilder::new()
            .filters(&self.label_filters(host.name))
            .build();
        let listed = self
            .docker
            .list_volumes(Some(opts))
            .await
            .map_err(|e| api_err("listing volumes", e))?;
        for v in listed.volumes.unwrap_or_default() {
            if !volumes.contains(&v.name) {
                volumes.push(v.name);
            }
        }
        for v in volumes {
            let opts = RemoveVolumeOptionsBuilder::new().force(true).build();
            match self.docker.remove_volume(&v, Some(opts)).await {
                Ok(()) => {}
                Err(e) if is_status(&e, 404) => {}
                Err(e) => {
                    return Err(api_err(
                        &format!("removing volume {v} of machine {}", host.name),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    async fn state(&self, host: &HostRef<'_>) -> Result<MachineState, DriverError> {
        let Some(c) = self.find(host).await? else {
            return Ok(MachineState::Gone);
        };
        let status = c.state.and_then(|s| s.status);
        Ok(match status {
            Some(
                ContainerStateStatusEnum::RUNNING
                | ContainerStateStatusEnum::PAUSED
                | ContainerStateStatusEnum::RESTARTING,
            ) => MachineState::Running,
            _ => MachineState::Stopped,
        })
    }

    async fn ip(&self, host: &HostRef<'_>) -> Result<String, DriverError> {
        let c = self.require(host).await?;
        let running = c.state.as_ref().and_then(|s| s.running).unwrap_or(false);
        if !running {
            return Err(DriverError::Failed(format!(
                "machine {} is not running, so it has no IP address: start it",
                host.name
            )));
        }
        let wanted = host.driver_data.get("network").and_then(|v| v.as_str());
        let networks = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        let ip_of = |net: &str| {
            networks
                .get(net)
                .and_then(|e| e.ip_address.clone())
                .filter(|ip| !ip.is_empty())
        };
        let ip = match wanted {
            Some(net) => ip_of(net),
            None => ip_of("bridge").or_else(|| {
                let mut names: Vec<&String> = networks.keys().collect();
                names.sort();
                names.into_iter().find_map(|n| ip_of(n))
            }),
        };
        ip.ok_or_else(|| {
            DriverError::Failed(format!(
                "machine {} has no IP address on {}: its container has no network with an address",
                host.name,
                wanted.unwrap_or("its networks")
            ))
        })
    }

    async fn ssh_endpoint(&self, host: &HostRef<'_>) -> Result<(String, u16), DriverError> {
        Ok((self.ip(host).await?, 22))
    }
}

impl ContainerDriver {
    async fn wait_gone(&self, id: &str) -> Result<(), DriverError> {
        for _ in 0..60 {
            match self.docker.inspect_container(id, None::<InspectOpts>).await {
                Err(e) if is_status(&e, 404) => return Ok(()),
                Err(e) => return Err(api_err(&format!("inspecting container {id}"), e)),
                Ok(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        }
        Err(DriverError::Failed(format!(
            "container {id} is still being removed after 30 s: try again"
        )))
    }
}

#[cfg(test)]
mod tests;
