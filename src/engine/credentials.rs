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

/// The shortest RSA key the fleet CA signs.
const MIN_RSA_BITS: usize = 2048;

/// Refuses keys too weak to be trusted with a certificate: RSA under 2048 bits, DSA.
fn strong_enough(key: &PublicKey) -> Result<()> {
    use russh::keys::ssh_key::public::KeyData;
    match key.key_data() {
        KeyData::Rsa(rsa) => {
            let n = rsa.n.as_positive_bytes().unwrap_or(&[]);
            let bits = n
                .iter()
                .position(|b| *b != 0)
                .map_or(0, |i| (n.len() - i) * 8 - n[i].leading_zeros() as usize);
            if bits < MIN_RSA_BITS {
                return Err(Error::invalid(format!(
                    "the RSA key has {bits} bits: the server signs RSA keys of at least {MIN_RSA_BITS} bits (or use ed25519)"
                )));
            }
            Ok(())
        }
        KeyData::Dsa(_) => Err(Error::invalid(
            "DSA keys are too weak to sign: use ed25519, ECDSA or RSA of 2048 bits or more",
        )),
        _ => Ok(()),
    }
}

/// The address, the pinned host key and an OpenSSH user certificate for `public_key`
/// for this machine only (its principal, `ssh_ca::machine_principal`, is what the
/// machine's sshd accepts for its login user). No private key is in the answer.
pub(crate) async fn ssh_access(
    inner: &Arc<Inner>,
    name: &str,
    public_key: &str,
    grant: &Grant,
) -> Result<SshAccess> {
    let access = machines::ssh_access(inner, name).await?;
    let subject = PublicKey::from_openssh(public_key.trim())
        .map_err(|e| Error::invalid(format!("public_key is not an OpenSSH public key: {e}")))?;
    strong_enough(&subject)?;
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
        .and_then(|b| b.valid_principal(super::ssh_ca::machine_principal(name)))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1024-bit RSA key (made with `ssh-keygen -t rsa -b 1024`) is refused with its
    /// size; 2048 bits and ed25519 pass.
    #[test]
    fn weak_user_keys_are_refused() {
        let weak = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDHk58foUcEEFRNePEucLucWFUd/sNFyYMI8f7w0IzD6ShSqALERoIS4pRQxQIWwRmfFsrc0/AExVZmCEwvX8nEroeJBg79svKz5QYxgUKG/5j5NdAx0FbKZdTrij0NiK0bGU5M7vE9JOFJxuTRQSsjvyle88Z9j1UHfQZERqgzbw== weak";
        let ok = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC2XUtX3CmrBLWkJAupQhMwMdA5MqsqX7bxrxXKyhN6XKWMhMKs78P0SzWoCwVlKIZZaKC9zRVueAxFSpvbRZKYeajfliY4uhU0jmOn1BAC7/EEuzKeAOS/OQybOEGx2eKuPYjU/uKI5Vo8dUgm9MKOCcReEi+kLa0qBJ6d9SHhZgDBUGPt/BwogCQ1ZNfix4Afp3VUPkb8adzaagXnm/ysBQtgX4YIvyGpb5Vb9YQTmYUWp0DxbPpmXuS5NUh5qeKy2Q6kX740w3hBlnvehAuoXnkAb2WgRzw5L9bWQCUtNf4dwDy418o/59v0BFxgJ/B9dmWiZZc2y0HYpW3j+duR ok";
        let err = strong_enough(&PublicKey::from_openssh(weak).unwrap()).unwrap_err();
        assert!(err.to_string().contains("1024 bits"), "{err}");
        assert!(strong_enough(&PublicKey::from_openssh(ok).unwrap()).is_ok());
        let ed = crate::ssh::generate_ed25519("t").unwrap();
        assert!(strong_enough(&PublicKey::from_openssh(&ed.public_line).unwrap()).is_ok());
    }
}
