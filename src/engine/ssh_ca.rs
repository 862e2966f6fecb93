//! The fleet's SSH user CA: its key (made once, kept sealed in the store) and the
//! provisioning step that makes a host's sshd trust it, so a server can hand users
//! short-lived certificates instead of the machine's own key.

use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey};

use super::{errors, Inner};
use crate::api::{Error, Result};
use crate::ssh::Session;

const FLEET: &str = "fleet";
const SSH_CA_KEY: &str = "ssh_user_ca_key";
const SSH_CA_PUB: &str = "ssh_user_ca";

/// Where hosts keep the fleet's SSH user CA.
const HOST_CA_FILE: &str = "/etc/ssh/flotilla_user_ca.pub";

impl Inner {
    /// The CA's OpenSSH public line, made on first use.
    pub(crate) async fn ssh_user_ca(&self) -> Result<String> {
        self.ssh_ca_key()
            .await?
            .public_key()
            .to_openssh()
            .map_err(ssh_key_err)
    }

    /// The CA's private key, made on first use; racing processes agree on one.
    pub(crate) async fn ssh_ca_key(&self) -> Result<PrivateKey> {
        let store = &self.store;
        if let Some(pem) = store.secret(FLEET, SSH_CA_KEY).await? {
            return PrivateKey::from_openssh(pem.as_bytes()).map_err(ssh_key_err);
        }
        let mut key =
            PrivateKey::random(&mut rand::rngs::OsRng, Algorithm::Ed25519).map_err(ssh_key_err)?;
        key.set_comment(format!("flotilla fleet {} user CA", self.fleet_id));
        let pem = key.to_openssh(LineEnding::LF).map_err(ssh_key_err)?;
        let public = key.public_key().to_openssh().map_err(ssh_key_err)?;
        if !store
            .init_pair(FLEET, SSH_CA_PUB, &public, SSH_CA_KEY, &pem)
            .await?
        {
            // Another process made it first: use theirs.
            let pem = store
                .secret(FLEET, SSH_CA_KEY)
                .await?
                .ok_or_else(|| Error::store("the fleet's SSH CA key is missing from the store"))?;
            return PrivateKey::from_openssh(pem.as_bytes()).map_err(ssh_key_err);
        }
        Ok(key)
    }
}

/// Provisioning step: makes the host's sshd trust the fleet's SSH user CA
/// (TrustedUserCAKeys). Converges: a host that already trusts it is not touched.
pub(crate) async fn trust_user_ca(inner: &Inner, s: &Session, name: &str) -> Result<()> {
    let ca = inner.ssh_user_ca().await?;
    let script = format!(
        r#"set -e
ca={ca}
changed=
if [ "$(cat {HOST_CA_FILE} 2>/dev/null)" != "$ca" ]; then
  printf '%s
' "$ca" > {HOST_CA_FILE}.new && chmod 644 {HOST_CA_FILE}.new && mv {HOST_CA_FILE}.new {HOST_CA_FILE}
  changed=1
fi
line='TrustedUserCAKeys {HOST_CA_FILE}'
if grep -qsE '^Include /etc/ssh/sshd_config.d/\*\.conf' /etc/ssh/sshd_config; then
  f=/etc/ssh/sshd_config.d/50-flotilla-user-ca.conf
  if [ "$(cat $f 2>/dev/null)" != "$line" ]; then mkdir -p /etc/ssh/sshd_config.d; printf '%s
' "$line" > $f; changed=1; fi
elif ! grep -qxF "$line" /etc/ssh/sshd_config; then
  printf '%s
' "$line" >> /etc/ssh/sshd_config; changed=1
fi
if [ -n "$changed" ]; then
  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || kill -HUP "$(cat /run/sshd.pid)"
fi
"#,
        ca = crate::ssh::shell_quote(&ca)
    );
    let out = s
        .exec(&crate::provision::as_root(&script))
        .await
        .map_err(|e| errors::ssh(name, e))?;
    if out.status != 0 {
        return Err(Error::provision(format!(
            "{name}: cannot make sshd trust the fleet's SSH CA: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub(crate) fn ssh_key_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("ssh certificate: {e}"))
}
