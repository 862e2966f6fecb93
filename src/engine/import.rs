//! Adopting machines another tool made (`Fleet::import`): recorded as `generic`
//! machines with the imported TLS material sealed beside their SSH key, used for Docker
//! until flotilla provisions the machine with the fleet's own certificates.

use std::sync::Arc;
use std::time::Duration;

use super::Inner;
use crate::api::{
    now_ms, ClientConfig, Error, EventKind, GenericOptions, ImportedMachine, Machine, MachineSpec,
    MachineState, Result, DEFAULT_ENGINE_PORT,
};
use crate::docker::MachineDocker;
use crate::ssh::{self, HostKeyCheck, Session, Target};
use crate::store::machine_owner;

/// Where the imported TLS material is sealed (kinds under the machine's owner).
const TLS_CA: &str = "imported_tls_ca";
const TLS_CERT: &str = "imported_tls_cert";
const TLS_KEY: &str = "imported_tls_key";
/// The tool an imported machine came from, in its driver data.
const FROM: &str = "docker-machine";
/// How long an import waits for the host's sshd, then its Docker Engine.
const PROBE: Duration = Duration::from_secs(15);

pub(crate) async fn import(inner: &Arc<Inner>, m: ImportedMachine) -> Result<Machine> {
    let mut m = m;
    m.validate()?;
    // Kept in OpenSSH encoding, as every machine's key is (docker-machine's is PKCS#1).
    m.ssh_key_pem = ssh::parse_private_key(&m.ssh_key_pem)
        .map_err(|e| Error::invalid(format!("{}: the SSH key: {e}", m.name)))?
        .private_pem;
    let name = m.name.clone();
    let mut spec = MachineSpec::new(&name, "generic");
    spec.ssh_user = m.ssh_user.clone();
    spec.generic = GenericOptions {
        ip_address: Some(m.ip_address.clone()),
        ssh_port: Some(m.ssh_port),
    };
    if m.engine_port != DEFAULT_ENGINE_PORT {
        spec.engine.port = Some(m.engine_port);
    }
    let url = crate::api::tcp_url(&m.ip_address, m.engine_port);
    let mut machine = Machine::planned(&spec, now_ms());
    machine.state = MachineState::Provisioning;
    machine.ip = Some(m.ip_address.clone());
    machine.url = Some(url.clone());
    machine.ssh_port = m.ssh_port;
    machine.driver_data = crate::drivers::generic::driver_data(&m.ip_address, m.ssh_port);
    machine.driver_data["imported_from"] = FROM.into();
    machine.driver_data["original_driver"] = m.original_driver.clone().into();
    inner.store.insert_machine(&machine).await?;
    if let Err(e) = seal(inner, &m).await {
        // Nothing half-imported stays behind.
        let _ = inner.store.forget_owner(&machine_owner(&name)).await;
        let _ = inner.store.delete_machine(&name).await;
        return Err(e);
    }
    inner.bus.emit(EventKind::MachineCreated {
        machine: name.clone(),
    });
    match probe(inner, &m, &url).await {
        Ok(version) => {
            inner.store.set_docker_version(&name, &version).await?;
            inner.set_state(&name, MachineState::Running, None).await?;
        }
        Err(why) => {
            let msg = format!("imported, but {why}: `flotilla provision {name}` once it answers");
            tracing::warn!(machine = name.as_str(), "{msg}");
            inner
                .set_state(&name, MachineState::Error, Some(&msg))
                .await?;
        }
    }
    Ok(inner.store.machine(&name).await?.machine)
}

async fn seal(inner: &Arc<Inner>, m: &ImportedMachine) -> Result<()> {
    let owner = machine_owner(&m.name);
    inner
        .store
        .put_secret(&owner, "ssh_key", &m.ssh_key_pem)
        .await?;
    inner.store.put_secret(&owner, TLS_CA, &m.ca_pem).await?;
    inner
        .store
        .put_secret(&owner, TLS_CERT, &m.cert_pem)
        .await?;
    inner.store.put_secret(&owner, TLS_KEY, &m.key_pem).await?;
    Ok(())
}

/// Reaches the host over SSH (pinning its key on this first contact), then its Docker
/// Engine over TLS with the imported certificates; returns Docker's version, or why not.
async fn probe(
    inner: &Arc<Inner>,
    m: &ImportedMachine,
    url: &str,
) -> std::result::Result<String, String> {
    let target = Target {
        host: &m.ip_address,
        port: m.ssh_port,
        user: &m.ssh_user,
        private_key_pem: &m.ssh_key_pem,
        host_key: HostKeyCheck::TrustOnFirstUse,
    };
    let session = Session::connect(&target, PROBE)
        .await
        .map_err(|e| format!("the host does not answer over SSH ({e})"))?;
    let host_key = session.host_key().to_string();
    session.close().await;
    let fp = ssh::fingerprint(&host_key).map_err(|e| e.to_string())?;
    inner
        .store
        .set_host_key(&m.name, Some((&host_key, &fp)))
        .await
        .map_err(|e| e.to_string())?;

    let cfg = ClientConfig {
        machine: m.name.clone(),
        url: url.to_string(),
        ca_pem: m.ca_pem.clone(),
        cert_pem: m.cert_pem.clone(),
        key_pem: m.key_pem.clone(),
    };
    let dir = inner.paths.machine_dir(&m.name);
    crate::paths::write_client_certs(&dir, &cfg)
        .map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    let docker = MachineDocker::connect_tls(url, &dir)
        .map_err(|e| format!("its Docker Engine cannot be used ({e})"))?;
    match tokio::time::timeout(PROBE, docker.info()).await {
        Ok(Ok(info)) => Ok(info.server_version),
        Ok(Err(e)) => Err(format!("its Docker Engine does not answer over TLS ({e})")),
        Err(_) => Err(format!(
            "its Docker Engine did not answer over TLS within {}s",
            PROBE.as_secs()
        )),
    }
}

/// Whether the machine was imported from docker-machine (its drop-in may still be there).
pub(crate) async fn is_imported(inner: &Inner, name: &str) -> Result<bool> {
    let m = inner.store.machine(name).await?.machine;
    Ok(m.driver_data["imported_from"].as_str() == Some(FROM))
}

/// The imported TLS material, while the machine has not been provisioned by flotilla.
pub(crate) async fn imported_tls(
    inner: &Inner,
    name: &str,
    url: &str,
) -> Result<Option<ClientConfig>> {
    let owner = machine_owner(name);
    let Some(ca_pem) = inner.store.secret(&owner, TLS_CA).await? else {
        return Ok(None);
    };
    let missing = || Error::store(format!("{name}: imported TLS material is incomplete"));
    let cert_pem = inner
        .store
        .secret(&owner, TLS_CERT)
        .await?
        .ok_or_else(missing)?;
    let key_pem = inner
        .store
        .secret(&owner, TLS_KEY)
        .await?
        .ok_or_else(missing)?;
    Ok(Some(ClientConfig {
        machine: name.to_string(),
        url: url.to_string(),
        ca_pem,
        cert_pem,
        key_pem,
    }))
}

/// Drops the imported TLS material once the engine answers with the fleet's own.
pub(crate) async fn forget_imported_tls(inner: &Inner, name: &str) -> Result<()> {
    let owner = machine_owner(name);
    for kind in [TLS_CA, TLS_CERT, TLS_KEY] {
        inner.store.delete_secret(&owner, kind).await?;
    }
    Ok(())
}
