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
/// Where hosts keep, per login user, the one principal a certificate must carry to log
/// in as that user: the machine's own (sshd's `AuthorizedPrincipalsFile`, `%u` the user).
const HOST_PRINCIPALS_DIR: &str = "/etc/ssh/flotilla_principals";

/// The principal of a machine: a user certificate the server signs for one machine
/// names it, and only that machine's sshd accepts it (not `root` fleet-wide, which would
/// let a certificate handed out for one machine log into every other).
pub(crate) fn machine_principal(name: &str) -> String {
    format!("flotilla-machine:{name}")
}

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
/// (TrustedUserCAKeys) for certificates naming this machine's principal only
/// (AuthorizedPrincipalsFile, written for the machine's login user). Converges: a host
/// that already trusts it is not touched.
pub(crate) async fn trust_user_ca(inner: &Inner, s: &Session, name: &str) -> Result<()> {
    let ca = inner.ssh_user_ca().await?;
    let user = inner.store.machine(name).await?.machine.ssh_user;
    // The user names a file under HOST_PRINCIPALS_DIR: a plain login name only.
    if user.is_empty()
        || user.starts_with('-')
        || !user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || user.starts_with('.')
    {
        return Err(Error::provision(format!(
            "{name}: login user {user:?} is not a plain user name; the SSH CA cannot be set up for it"
        )));
    }
    let script = format!(
        r#"set -e
ca={ca}
principal={principal}
pfile={HOST_PRINCIPALS_DIR}/{user}
changed=
if [ "$(cat {HOST_CA_FILE} 2>/dev/null)" != "$ca" ]; then
  printf '%s\n' "$ca" > {HOST_CA_FILE}.new && chmod 644 {HOST_CA_FILE}.new && mv {HOST_CA_FILE}.new {HOST_CA_FILE}
  changed=1
fi
mkdir -p {HOST_PRINCIPALS_DIR} && chmod 755 {HOST_PRINCIPALS_DIR}
if [ "$(cat "$pfile" 2>/dev/null)" != "$principal" ]; then
  printf '%s\n' "$principal" > "$pfile.new" && chmod 644 "$pfile.new" && mv "$pfile.new" "$pfile"
fi
conf='TrustedUserCAKeys {HOST_CA_FILE}
AuthorizedPrincipalsFile {HOST_PRINCIPALS_DIR}/%u'
if grep -qsE '^Include /etc/ssh/sshd_config.d/\*\.conf' /etc/ssh/sshd_config; then
  f=/etc/ssh/sshd_config.d/50-flotilla-user-ca.conf
  if [ "$(cat $f 2>/dev/null)" != "$conf" ]; then mkdir -p /etc/ssh/sshd_config.d; printf '%s\n' "$conf" > $f; changed=1; fi
else
  for line in 'TrustedUserCAKeys {HOST_CA_FILE}' 'AuthorizedPrincipalsFile {HOST_PRINCIPALS_DIR}/%u'; do
    if ! grep -qxF "$line" /etc/ssh/sshd_config; then printf '%s\n' "$line" >> /etc/ssh/sshd_config; changed=1; fi
  done
fi
if [ -n "$changed" ]; then
  systemctl reload ssh 2>/dev/null || systemctl reload sshd 2>/dev/null || kill -HUP "$(cat /run/sshd.pid)"
fi
"#,
        ca = crate::ssh::shell_quote(&ca),
        principal = crate::ssh::shell_quote(&machine_principal(name)),
        user = crate::ssh::shell_quote(&user),
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
