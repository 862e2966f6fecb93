//! Credentials made for one user of a shared fleet and valid for a short time: client
//! certificates signed by the fleet CA, and OpenSSH user certificates signed by the
//! fleet's SSH user CA. The CA keys and the machines' own SSH keys never leave.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::PublicKey;

use super::ssh_ca::ssh_key_err;
use super::{errors, machines, swarms, Inner};
use crate::api::{ClientConfig, Error, Grant, Result, SshAccess};
use crate::provision::certs::CertPair;

/// A client certificate and key for `user`, signed by the fleet CA.
pub(crate) async fn client_pair(
    inner: &Inner,
    user: &str,
    valid_for: Duration,
) -> Result<CertPair> {
    let ca = inner.ca().await?;
    ca.issue_client_valid_for(&format!("flotilla-user:{user}"), valid_for)
        .map_err(errors::provision)
}

/// `base` with its certificate replaced by one made for the grant's user.
async fn for_user(inner: &Inner, base: ClientConfig, grant: &Grant) -> Result<ClientConfig> {
    let pair = client_pair(inner, &grant.user, grant.valid_for).await?;
    Ok(ClientConfig {
        cert_pem: pair.cert_pem,
        key_pem: pair.key_pem,
        ..base
    })
}

/// The machine's Docker endpoint and CA, with a certificate for the grant's user.
pub(crate) async fn machine_client_config(
    inner: &Arc<Inner>,
    name: &str,
    grant: &Grant,
) -> Result<ClientConfig> {
    let base = machines::client_config(inner, name).await?;
    for_user(inner, base, grant).await
}

/// A swarm manager's endpoint, with a certificate for the grant's user.
pub(crate) async fn swarm_client_config(
    inner: &Arc<Inner>,
    name: &str,
    grant: &Grant,
) -> Result<ClientConfig> {
    let base = swarms::client_config(inner, name).await?;
    for_user(inner, base, grant).await
}

/// The address, the pinned host key and an OpenSSH user certificate for `public_key`
/// (the machine's login user as its principal). No private key is in the answer.
pub(crate) async fn ssh_access(
    inner: &Arc<Inner>,
    name: &str,
    public_key: &str,
    grant: &Grant,
) -> Result<SshAccess> {
    let access = machines::ssh_access(inner, name).await?;
    let subject = PublicKey::from_openssh(public_key.trim())
        .map_err(|e| Error::invalid(format!("public_key is not an OpenSSH public key: {e}")))?;
    let ca = inner.ssh_ca_key().await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let user = &grant.user;
    // A minute back, so a host whose clock runs a little behind accepts it.
    let mut b = Builder::new_with_random_nonce(
        &mut rand::rngs::OsRng,
        subject.key_data().clone(),
        now.saturating_sub(60),
        now.saturating_add(grant.valid_for.as_secs().max(1)),
    )
    .map_err(ssh_key_err)?;
    b.serial(rand::random())
        .and_then(|b| b.cert_type(CertType::User))
        .and_then(|b| b.key_id(format!("flotilla-user:{user}")))
        .and_then(|b| b.valid_principal(access.user.clone()))
        .and_then(|b| b.extension("permit-pty", ""))
        .and_then(|b| b.extension("permit-port-forwarding", ""))
        .and_then(|b| b.comment(format!("flotilla-user:{user}")))
        .map_err(ssh_key_err)?;
    let cert = b.sign(&ca).map_err(ssh_key_err)?;
    Ok(SshAccess {
        private_key_pem: String::new(),
        certificate: Some(cert.to_openssh().map_err(ssh_key_err)?),
        ..access
    })
}
