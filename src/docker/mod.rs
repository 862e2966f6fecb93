//! A machine's Docker Engine API over TLS (bollard).
//!
//!
//! The API version is negotiated on first use (`ping`, `info`, `wait_ready`): bollard
//! speaks a newer API than the engines flotilla meets (Docker 20.10 = API 1.41) and an
//! engine refuses a client version newer than its own, even for `/version`. So the
//! first call asks `/version` with bollard's version; an engine that answers "too new.
//! Maximum supported API version is X" gets a client pinned to X from then on.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bollard::{ClientVersion, Docker, API_DEFAULT_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker at {url}: {reason}")]
    Api { url: String, reason: String },
    #[error("docker at {url} did not answer over TLS within {timeout:?}: {last}")]
    Timeout {
        url: String,
        timeout: Duration,
        last: String,
    },
}

/// The port a machine's Docker Engine listens on with TLS (the IANA docker-s port).
pub const DOCKER_PORT: u16 = 2376;

/// Facts `docker info` / `docker version` report that flotilla records or checks.
#[derive(Debug, Clone, Default)]
pub struct EngineInfo {
    pub server_version: String,
    pub api_version: String,
    pub labels: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub registry_mirrors: Vec<String>,
    pub storage_driver: String,
    pub containers_running: i64,
    pub name: String,
}

/// Request timeout of the API client, in seconds (long: image loads go through it).
const REQUEST_TIMEOUT_SECS: u64 = 120;
/// One readiness probe at most takes this long.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
const POLL_EVERY: Duration = Duration::from_millis(250);

pub struct MachineDocker {
    url: String,
    /// `host:port`, as bollard wants it.
    addr: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    /// Speaks bollard's default API version.
    initial: Docker,
    /// Speaks the version agreed with the engine, once known.
    negotiated: OnceLock<Docker>,
}

/// `tcp://HOST:PORT`, `https://HOST:PORT` or `HOST[:PORT]` → `HOST:PORT` (2376 by default).
pub fn tls_addr(url: &str) -> Result<String, String> {
    let rest = url.trim();
    let rest = ["tcp://", "https://"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))
        .unwrap_or(rest);
    if rest.contains("://") {
        return Err(format!("expected tcp://HOST:PORT, got {url:?}"));
    }
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() || rest.contains('/') || rest.contains(char::is_whitespace) {
        return Err(format!("expected tcp://HOST:PORT, got {url:?}"));
    }
    let has_port = if rest.starts_with('[') {
        rest.contains("]:")
    } else if rest.matches(':').count() > 1 {
        // a bare IPv6 address
        return Ok(format!("[{rest}]:{}", DOCKER_PORT));
    } else {
        rest.contains(':')
    };
    if has_port {
        let port = rest.rsplit(':').next().unwrap_or("");
        if port.parse::<u16>().is_err() {
            return Err(format!("invalid port in {url:?}"));
        }
        Ok(rest.to_string())
    } else {
        Ok(format!("{rest}:{}", DOCKER_PORT))
    }
}

/// An error with its chain of causes, on one line.
pub(crate) fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

/// `Maximum supported API version is 1.41` in an engine's refusal → 1.41.
fn max_supported_version(message: &str) -> Option<ClientVersion> {
    let idx = message.find("Maximum supported API version is ")?;
    let rest = &message[idx + "Maximum supported API version is ".len()..];
    parse_version(
        rest.split(|c: char| !(c.is_ascii_digit() || c == '.'))
            .next()?,
    )
}

fn parse_version(s: &str) -> Option<ClientVersion> {
    let (major, minor) = s.trim().split_once('.')?;
    Some(ClientVersion {
        major_version: major.parse().ok()?,
        minor_version: minor.parse().ok()?,
    })
}

fn older(a: &ClientVersion, b: &ClientVersion) -> bool {
    (a.major_version, a.minor_version) < (b.major_version, b.minor_version)
}

/// The docker CLI's TLS files in a directory (`DOCKER_CERT_PATH` layout).
#[derive(Debug, Clone)]
pub struct CertFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertFiles {
    /// ca.pem, cert.pem and key.pem in `dir`, each readable and holding what its name
    /// says; the error names the first file that does not. Checked here because the
    /// client reads the certificate and key only at the first handshake, where a bad file
    /// would surface as a vague connection failure.
    pub fn check(dir: &Path) -> Result<CertFiles, String> {
        let files = CertFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        for (f, what, marker) in [
            (&files.ca, "CA certificate", "CERTIFICATE-----"),
            (&files.cert, "client certificate", "CERTIFICATE-----"),
            (&files.key, "client key", "PRIVATE KEY-----"),
        ] {
            match std::fs::read_to_string(f) {
                Ok(t) if t.contains("-----BEGIN ") && t.contains(marker) => {}
                Ok(_) => {
                    return Err(format!(
                        "{} is not a PEM {what} (expected -----BEGIN ...{marker})",
                        f.display()
                    ))
                }
                Err(e) => return Err(format!("cannot read the {what} {}: {e}", f.display())),
            }
        }
        Ok(files)
    }
}

impl MachineDocker {
    /// `url` is `tcp://IP:2376`; `cert_dir` holds ca.pem, cert.pem, key.pem (docker CLI layout).
    /// The files are read at each TLS handshake: keep them until the client is dropped.
    pub fn connect_tls(url: &str, cert_dir: &Path) -> Result<MachineDocker, DockerError> {
        let err = |reason: String| DockerError::Api {
            url: url.to_string(),
            reason,
        };
        let addr = tls_addr(url).map_err(err)?;
        let CertFiles { ca, cert, key } = CertFiles::check(cert_dir).map_err(err)?;
        let initial = Self::build(&addr, &ca, &cert, &key, API_DEFAULT_VERSION).map_err(err)?;
        Ok(MachineDocker {
            url: url.to_string(),
            addr,
            ca,
            cert,
            key,
            initial,
            negotiated: OnceLock::new(),
        })
    }

    fn build(
        addr: &str,
        ca: &Path,
        cert: &Path,
        key: &Path,
        version: &ClientVersion,
    ) -> Result<Docker, String> {
        Docker::connect_with_ssl(
            &format!("tcp://{addr}"),
            key,
            cert,
            ca,
            REQUEST_TIMEOUT_SECS,
            version,
        )
        .map_err(|e| format!("cannot set up the TLS client: {}", describe(&e)))
    }

    fn api_err(&self, e: bollard::errors::Error) -> DockerError {
        DockerError::Api {
            url: self.url.clone(),
            reason: describe(&e),
        }
    }

    /// The bollard client speaking the agreed API version (negotiated on first use;
    /// later calls answer at once).
    pub async fn negotiated(&self) -> Result<&Docker, DockerError> {
        if let Some(d) = self.negotiated.get() {
            return Ok(d);
        }
        let agreed = match self.initial.version().await {
            Ok(v) => match v.api_version.as_deref().and_then(parse_version) {
                Some(server) if older(&server, API_DEFAULT_VERSION) => Some(server),
                _ => None,
            },
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 400,
                message,
            }) => match max_supported_version(&message) {
                Some(v) => Some(v),
                None => {
                    return Err(DockerError::Api {
                        url: self.url.clone(),
                        reason: message,
                    })
                }
            },
            Err(e) => return Err(self.api_err(e)),
        };
        let client = match agreed {
            Some(v) => {
                tracing::debug!(url = %self.url, version = %v, "docker API version negotiated");
                Self::build(&self.addr, &self.ca, &self.cert, &self.key, &v).map_err(|reason| {
                    DockerError::Api {
                        url: self.url.clone(),
                        reason,
                    }
                })?
            }
            None => self.initial.clone(),
        };
        let _ = self.negotiated.set(client);
        Ok(self.negotiated.get().expect("set above"))
    }

    pub async fn ping(&self) -> Result<(), DockerError> {
        let d = self.negotiated().await?;
        d.ping().await.map(|_| ()).map_err(|e| self.api_err(e))
    }

    pub async fn info(&self) -> Result<EngineInfo, DockerError> {
        let d = self.negotiated().await?;
        let (info, version) = futures::join!(d.info(), d.version());
        let info = info.map_err(|e| self.api_err(e))?;
        let version = version.map_err(|e| self.api_err(e))?;
        let mut insecure: Vec<String> = Vec::new();
        let mut mirrors: Vec<String> = Vec::new();
        if let Some(rc) = &info.registry_config {
            if let Some(index) = &rc.index_configs {
                let mut names: Vec<&String> = index
                    .iter()
                    .filter(|(_, i)| i.secure == Some(false))
                    .map(|(n, _)| n)
                    .collect();
                names.sort();
                insecure.extend(names.into_iter().cloned());
            }
            for cidr in rc.insecure_registry_cidrs.iter().flatten() {
                if !insecure.contains(cidr) {
                    insecure.push(cidr.clone());
                }
            }
            mirrors = rc.mirrors.clone().unwrap_or_default();
        }
        Ok(EngineInfo {
            server_version: version.version.or(info.server_version).unwrap_or_default(),
            api_version: version.api_version.unwrap_or_default(),
            labels: info.labels.unwrap_or_default(),
            insecure_registries: insecure,
            registry_mirrors: mirrors,
            storage_driver: info.driver.unwrap_or_default(),
            containers_running: info.containers_running.unwrap_or_default(),
            name: info.name.unwrap_or_default(),
        })
    }

    /// Polls ping until it answers or `timeout` passes; then returns `info`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<EngineInfo, DockerError> {
        let start = Instant::now();
        let mut last = String::from("no answer yet");
        loop {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(DockerError::Timeout {
                    url: self.url.clone(),
                    timeout,
                    last,
                });
            }
            match tokio::time::timeout(left.min(PROBE_TIMEOUT), self.ping()).await {
                Ok(Ok(())) => {
                    let left = timeout.saturating_sub(start.elapsed()).max(PROBE_TIMEOUT);
                    return match tokio::time::timeout(left, self.info()).await {
                        Ok(r) => r,
                        Err(_) => Err(DockerError::Timeout {
                            url: self.url.clone(),
                            timeout,
                            last: "it answered ping but not info".into(),
                        }),
                    };
                }
                Ok(Err(e)) => {
                    last = match e {
                        DockerError::Api { reason, .. } => reason,
                        other => other.to_string(),
                    }
                }
                Err(_) => last = format!("no answer within {PROBE_TIMEOUT:?}"),
            }
            let left = timeout.saturating_sub(start.elapsed());
            tokio::time::sleep(POLL_EVERY.min(left)).await;
        }
    }

    /// The underlying bollard client, for later features (swarm, containers). It speaks
    /// the negotiated API version once `ping`, `info` or `wait_ready` has succeeded;
    /// before that, bollard's default version (which Docker 20.10 refuses). Prefer
    /// `negotiated().await`, which negotiates first when needed.
    pub fn api(&self) -> &bollard::Docker {
        self.negotiated.get().unwrap_or(&self.initial)
    }

    /// The URL this client was made for.
    pub fn url(&self) -> &str {
        &self.url
    }
}

pub mod kept;
pub mod swarm;

#[cfg(test)]
mod tests;
