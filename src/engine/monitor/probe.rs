//! One check of one machine, over connections kept between rounds: the driver's state,
//! one SSH exec for the host's metrics, and one Docker API call over TLS. A connection
//! that fails or times out is dropped and made again next round.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::metrics::{self, CpuTimes};
use super::verdict::{Facts, Probe};
use crate::api::now_ms;
use crate::api::{DockerHealth, Machine, MachineState, Metrics, MonitorSettings};
use crate::docker::kept::KeptConnection;
use crate::docker::MachineDocker;
use crate::drivers::HostRef;
use crate::engine::Inner;
use crate::ssh::{HostKeyCheck, Session, SshError, Target};
use crate::store::machine_owner;
use bollard::models::SystemInfo;

const DEFAULT_DOCKER_ROOT: &str = "/var/lib/docker";

/// A machine's connections and what the next round needs from the last.
pub(super) struct Conn {
    ssh: Option<Session>,
    ssh_port: u16,
    /// The last /proc/stat reading and when it was taken, for CPU % between rounds.
    cpu: Option<(CpuTimes, Instant)>,
    /// The kept connection the round's `/info` goes over.
    docker: Option<KeptConnection>,
    /// A bollard client for the same engine, for the swarm hook (no network until used).
    docker_api: Option<Arc<MachineDocker>>,
    docker_root: String,
}

impl Default for Conn {
    fn default() -> Self {
        Conn {
            ssh: None,
            ssh_port: 22,
            cpu: None,
            docker: None,
            docker_api: None,
            docker_root: DEFAULT_DOCKER_ROOT.into(),
        }
    }
}

impl Conn {
    /// The Docker client of the last successful round, for the swarm hook.
    pub fn docker(&self) -> Option<Arc<MachineDocker>> {
        self.docker_api.clone()
    }

    pub async fn check(&mut self, inner: &Arc<Inner>, m: &Machine, s: &MonitorSettings) -> Facts {
        let timeout = probe_timeout(s);
        let time_ms = now_ms();
        let driver = driver_state(inner, m, timeout).await;
        if matches!(driver, Ok(MachineState::Stopped | MachineState::Gone)) {
            // Nothing to talk to; a started host gets fresh connections.
            self.close();
            return Facts {
                time_ms,
                driver,
                ssh: Probe::NotTried,
                metrics: Probe::NotTried,
                docker: Probe::NotTried,
                swarm: None,
            };
        }
        let interval = Duration::from_millis(s.interval_ms.max(1));
        let Conn {
            ssh,
            ssh_port,
            cpu,
            docker,
            docker_api,
            docker_root,
        } = self;
        let ((ssh_probe, metrics_probe), (docker_probe, root)) = tokio::join!(
            probe_ssh(inner, m, ssh, ssh_port, cpu, docker_root, timeout, interval),
            probe_docker(inner, m, docker, docker_api, timeout),
        );
        if let Some(root) = root {
            *docker_root = root;
        }
        Facts {
            time_ms,
            driver,
            ssh: ssh_probe,
            metrics: metrics_probe,
            docker: docker_probe,
            swarm: None,
        }
    }

    pub fn close(&mut self) {
        // Dropping the session closes its TCP connection without waiting on the host.
        self.ssh = None;
        self.docker = None;
        self.docker_api = None;
        self.cpu = None;
    }
}

/// How long one probe may take (with a floor: below it, a busy host looks dead).
fn probe_timeout(s: &MonitorSettings) -> Duration {
    Duration::from_millis(s.timeout_ms.max(200))
}

async fn driver_state(
    inner: &Arc<Inner>,
    m: &Machine,
    timeout: Duration,
) -> Result<MachineState, String> {
    let driver = inner.driver(&m.driver).await.map_err(|e| e.to_string())?;
    let host = HostRef {
        name: &m.name,
        driver_data: &m.driver_data,
    };
    match tokio::time::timeout(timeout, driver.state(&host)).await {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(e)) => Err(first_line(&e.to_string())),
        Err(_) => Err(format!("no answer within {}s", timeout.as_secs_f32())),
    }
}

#[allow(clippy::too_many_arguments)]
async fn probe_ssh(
    inner: &Arc<Inner>,
    m: &Machine,
    slot: &mut Option<Session>,
    port: &mut u16,
    cpu: &mut Option<(CpuTimes, Instant)>,
    docker_root: &str,
    timeout: Duration,
    interval: Duration,
) -> (Probe<f64>, Probe<Metrics>) {
    if slot.is_none() {
        match connect(inner, m, timeout).await {
            Ok((session, p)) => {
                *slot = Some(session);
                *port = p;
            }
            Err(reason) => return (Probe::Failed(reason), Probe::NotTried),
        }
    }
    let Some(session) = slot.as_ref() else {
        return (Probe::NotTried, Probe::NotTried);
    };
    // A reading from the last round gives CPU % over the whole interval for free; a
    // first look (or one after a gap) reads twice within the exec instead.
    let previous = cpu
        .as_ref()
        .filter(|(_, at)| at.elapsed() < interval * 3 + timeout)
        .map(|(c, _)| *c);
    let two = previous.is_none();
    let script = metrics::script(docker_root, two);
    let budget = if two {
        timeout + metrics::CPU_SAMPLE * 2
    } else {
        timeout
    };
    let started = Instant::now();
    let out = match tokio::time::timeout(budget, session.exec(&script)).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            *slot = None;
            *cpu = None;
            return (Probe::Failed(ssh_reason(&e, *port)), Probe::NotTried);
        }
        Err(_) => {
            // A paused or cut-off host: the connection is stuck, make a new one next time.
            *slot = None;
            *cpu = None;
            return (
                Probe::Failed(format!("ssh not answering on :{port}")),
                Probe::NotTried,
            );
        }
    };
    let mut rtt = started.elapsed();
    if two {
        rtt = rtt.saturating_sub(metrics::CPU_SAMPLE);
    }
    let rtt_ms = rtt.as_secs_f64() * 1000.0;
    let text = String::from_utf8_lossy(&out.stdout);
    match metrics::parse(&text, docker_root, previous.as_ref()) {
        Ok(reading) => {
            *cpu = Some((reading.cpu, Instant::now()));
            (Probe::Ok(rtt_ms), Probe::Ok(reading.metrics))
        }
        Err(e) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let why = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or(&e);
            (
                Probe::Ok(rtt_ms),
                Probe::Failed(format!("cannot read host metrics: {}", first_line(why))),
            )
        }
    }
}

/// A new SSH connection to the machine, verifying the pinned host key.
async fn connect(
    inner: &Arc<Inner>,
    m: &Machine,
    timeout: Duration,
) -> Result<(Session, u16), String> {
    let rec = inner
        .store
        .machine(&m.name)
        .await
        .map_err(|e| format!("store: {e}"))?;
    let driver = inner.driver(&m.driver).await.map_err(|e| e.to_string())?;
    let host = HostRef {
        name: &m.name,
        driver_data: &rec.machine.driver_data,
    };
    let (addr, port) = match tokio::time::timeout(timeout, driver.ssh_endpoint(&host)).await {
        Ok(Ok(ep)) => ep,
        Ok(Err(e)) => return Err(format!("no ssh address: {}", first_line(&e.to_string()))),
        Err(_) => return Err("no ssh address: the driver did not answer".into()),
    };
    let key = inner
        .store
        .secret(&machine_owner(&m.name), "ssh_key")
        .await
        .map_err(|e| format!("store: {e}"))?
        .ok_or("no ssh key in the store")?;
    let target = Target {
        host: &addr,
        port,
        user: &rec.machine.ssh_user,
        private_key_pem: &key,
        // A machine never provisioned has no pinned key; checking it must not pin one.
        host_key: rec
            .host_key
            .clone()
            .map_or(HostKeyCheck::TrustOnFirstUse, HostKeyCheck::Pinned),
    };
    Session::connect(&target, timeout)
        .await
        .map(|s| (s, port))
        .map_err(|e| ssh_reason(&e, port))
}

fn ssh_reason(e: &SshError, port: u16) -> String {
    match e {
        SshError::Timeout(..) | SshError::Connect { .. } => {
            format!("ssh not answering on :{port}")
        }
        SshError::Auth { .. } => "ssh refused the machine's key".into(),
        SshError::HostKeyChanged { .. } => {
            "ssh host key changed (trust the new one only if the host was rebuilt)".into()
        }
        SshError::Channel(_) => "ssh connection lost".into(),
        SshError::OutputTooLarge { .. } => "ssh command printed too much".into(),
        SshError::Key(_) | SshError::NoPinnedKey(_) => "ssh key unusable".into(),
    }
}

/// One `/info` call over the kept TLS connection: it answers ping, version and the
/// running containers at once. Returns the data root too, for the next `df`.
async fn probe_docker(
    inner: &Arc<Inner>,
    m: &Machine,
    slot: &mut Option<KeptConnection>,
    api: &mut Option<Arc<MachineDocker>>,
    timeout: Duration,
) -> (Probe<DockerHealth>, Option<String>) {
    let Some(url) = m.url.as_deref() else {
        return (
            Probe::Failed("no docker endpoint recorded (provision it)".into()),
            None,
        );
    };
    let port = crate::docker::tls_addr(url)
        .ok()
        .and_then(|a| a.rsplit(':').next().map(str::to_string))
        .unwrap_or_else(|| "2376".into());
    if slot.as_ref().is_some_and(|d| d.url() != url) {
        *slot = None;
        *api = None;
    }
    if slot.is_none() {
        match docker_clients(inner, &m.name, url).await {
            Ok((kept, client)) => {
                *slot = Some(kept);
                *api = Some(Arc::new(client));
            }
            Err(reason) => return (Probe::Failed(reason), None),
        }
    }
    let Some(kept) = slot.as_mut() else {
        return (Probe::NotTried, None);
    };
    let started = Instant::now();
    let answer = tokio::time::timeout(timeout, kept.get_json::<SystemInfo>("/info")).await;
    match answer {
        Ok(Ok(info)) => {
            let health = DockerHealth {
                version: info.server_version.unwrap_or_default(),
                containers_running: info.containers_running.unwrap_or_default(),
                api_ms: started.elapsed().as_secs_f64() * 1000.0,
            };
            (
                Probe::Ok(health),
                info.docker_root_dir.filter(|r| r.starts_with('/')),
            )
        }
        Ok(Err(e)) => {
            // New clients next round: the certificates may have been reissued.
            *slot = None;
            *api = None;
            (Probe::Failed(docker_reason(&e.to_string(), &port)), None)
        }
        Err(_) => {
            *slot = None;
            *api = None;
            (
                Probe::Failed(format!("docker daemon not answering on :{port}")),
                None,
            )
        }
    }
}

/// The kept connection and a bollard client for the machine's engine; writes the
/// client certificates first when this process has none on disk (a fleet dir restored
/// from elsewhere).
async fn docker_clients(
    inner: &Arc<Inner>,
    name: &str,
    url: &str,
) -> Result<(KeptConnection, MachineDocker), String> {
    let dir = inner.paths.machine_dir(name);
    if !dir.join("key.pem").exists() {
        let cfg = crate::engine::machines::client_config(inner, name)
            .await
            .map_err(|e| e.to_string())?;
        crate::paths::write_client_certs(&dir, &cfg)
            .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    }
    let kept = KeptConnection::new(url, &dir).map_err(|e| first_line(&e.to_string()))?;
    let client = MachineDocker::connect_tls(url, &dir).map_err(|e| first_line(&e.to_string()))?;
    Ok((kept, client))
}

fn docker_reason(e: &str, port: &str) -> String {
    let lower = e.to_ascii_lowercase();
    let gone = [
        "refused",
        "reset",
        "broken pipe",
        "timed out",
        "eof",
        "connection closed",
        "unreachable",
        "no route",
        "request failed",
    ];
    if gone.iter().any(|k| lower.contains(k)) {
        format!("docker daemon not answering on :{port}")
    } else if ["certificate", "handshake", "tls", "unknown ca", "alert"]
        .iter()
        .any(|k| lower.contains(k))
    {
        "docker TLS handshake failed".into()
    } else if lower.contains("status code") {
        format!("docker daemon error: {}", first_line(e))
    } else {
        format!("docker daemon not answering on :{port}")
    }
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("").trim();
    let mut out: String = line.chars().take(160).collect();
    if line.chars().count() > 160 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_errors_become_short_reasons() {
        assert_eq!(
            docker_reason(
                "error trying to connect: tcp connect error: Connection refused (os error 111)",
                "2376"
            ),
            "docker daemon not answering on :2376"
        );
        assert_eq!(
            docker_reason(
                "error trying to connect: invalid peer certificate: UnknownIssuer",
                "2376"
            ),
            "docker TLS handshake failed"
        );
        assert!(
            docker_reason("Docker responded with status code 500: boom", "2376")
                .starts_with("docker daemon error: ")
        );
    }

    #[test]
    fn ssh_errors_become_short_reasons() {
        let e = SshError::Timeout(Duration::from_secs(5), "10.0.0.1:22".into());
        assert_eq!(ssh_reason(&e, 22), "ssh not answering on :22");
        let e = SshError::Auth {
            user: "root".into(),
            addr: "x".into(),
        };
        assert_eq!(ssh_reason(&e, 22), "ssh refused the machine's key");
    }

    #[test]
    fn long_errors_are_cut() {
        let s = "x".repeat(500) + "\nsecond";
        let l = first_line(&s);
        assert!(l.chars().count() <= 161 && !l.contains('\n'));
    }
}
