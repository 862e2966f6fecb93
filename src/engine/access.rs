//! What a shared fleet's server asks of the engine beyond `Fleet`: credentials made for
//! one user and valid for a short time (the fleet CA key and the machines' SSH keys
//! never leave the server), tokens and the audit log, and operations a stopped server
//! left unfinished.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use russh::keys::ssh_key::certificate::{Builder, CertType};
use russh::keys::ssh_key::LineEnding;
use russh::keys::{Algorithm, PrivateKey, PublicKey};

use super::{errors, machines, Inner, Local};
use crate::api::now_ms;
use crate::api::{
    validate_token_name, AuditEntry, AuditQuery, ClientConfig, Error, EventKind, MachineState,
    NewToken, OperationKind, Outcome, Result, SshAccess, StepState, TokenInfo, TokenSpec,
};
use crate::provision::certs::CertPair;
use crate::ssh::Session;
use crate::store::AuditRecord;

const FLEET: &str = "fleet";
const SSH_CA_KEY: &str = "ssh_user_ca_key";
const SSH_CA_PUB: &str = "ssh_user_ca";

impl Local {
    /// A client certificate for `user` (its common name), signed by the fleet CA and
    /// valid for `valid_for`, with the machine's URL and the CA certificate.
    pub async fn user_client_config(
        &self,
        name: &str,
        user: &str,
        valid_for: Duration,
    ) -> Result<ClientConfig> {
        let base = machines::client_config(&self.inner, name).await?;
        let pair = self.user_client_pair(user, valid_for).await?;
        Ok(ClientConfig {
            cert_pem: pair.cert_pem,
            key_pem: pair.key_pem,
            ..base
        })
    }

    /// A client certificate and key for `user`, signed by the fleet CA, valid for `valid_for`.
    pub async fn user_client_pair(&self, user: &str, valid_for: Duration) -> Result<CertPair> {
        let ca = self.inner.ca().await?;
        ca.issue_client_valid_for(&format!("flotilla-user:{user}"), valid_for)
            .map_err(errors::provision)
    }

    /// Makes a token (the server audits the request itself).
    pub async fn create_token(&self, spec: &TokenSpec) -> Result<NewToken> {
        validate_token_name(&spec.name)?;
        Ok(self.inner.store.create_token(spec).await?)
    }

    /// Revokes the token with this id, or every active token of this name.
    pub async fn revoke_tokens(&self, id_or_name: &str) -> Result<Vec<TokenInfo>> {
        Ok(self.inner.store.revoke_token(id_or_name).await?)
    }

    /// The fleet's SSH user CA (OpenSSH public line), made on first use. Provisioning
    /// makes every host trust it (TrustedUserCAKeys).
    pub async fn ssh_user_ca(&self) -> Result<String> {
        self.inner.ssh_user_ca().await
    }

    async fn ssh_ca_key(&self) -> Result<PrivateKey> {
        self.inner.ssh_ca_key().await
    }

    /// What `user` needs to log into the machine with their own key: the address, the
    /// pinned host key and an OpenSSH user certificate for `public_key`, valid for
    /// `valid_for`. No private key is in the answer.
    pub async fn user_ssh_access(
        &self,
        name: &str,
        user: &str,
        public_key: &str,
        valid_for: Duration,
    ) -> Result<SshAccess> {
        let access = machines::ssh_access(&self.inner, name).await?;
        let subject = PublicKey::from_openssh(public_key.trim())
            .map_err(|e| Error::invalid(format!("public_key is not an OpenSSH public key: {e}")))?;
        let ca = self.ssh_ca_key().await?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut b = Builder::new_with_random_nonce(
            &mut rand::rngs::OsRng,
            subject.key_data().clone(),
            now.saturating_sub(60),
            now.saturating_add(valid_for.as_secs().max(1)),
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

    /// Fails every operation the store shows as started but never finished: the process
    /// that ran it stopped. Machines it left half-way are marked Error with what to do.
    /// Only a server (the one process running a fleet's operations) may call this.
    pub async fn fail_interrupted_operations(&self) -> Result<usize> {
        let inner = &self.inner;
        let ops = inner.store.unfinished_operations().await?;
        let count = ops.len();
        for mut op in ops {
            let t = op.target.clone();
            let msg = format!(
                "the server stopped during {} of {t}: provisioning it again finishes it, removing it with force cleans it up",
                op.kind.as_str()
            );
            for s in &mut op.steps {
                if s.state == StepState::Running {
                    s.state = StepState::Failed;
                }
            }
            op.outcome = Some(Outcome::Failed {
                error: Error::interrupted(msg.clone()),
            });
            op.finished_ms = Some(now_ms());
            inner.store.save_operation(&op).await?;
            // A machine operation may have left its host half-changed: say so.
            let machine_op = matches!(
                op.kind,
                OperationKind::Create
                    | OperationKind::Remove
                    | OperationKind::Provision
                    | OperationKind::RegenerateCerts
            );
            if machine_op {
                if let Ok(rec) = inner.store.machine(&t).await {
                    if rec.machine.state != MachineState::Gone {
                        inner.set_state(&t, MachineState::Error, Some(&msg)).await?;
                    }
                }
            }
            tracing::warn!("{msg}");
            inner
                .bus
                .emit(EventKind::OperationFinished { operation: op });
        }
        Ok(count)
    }

    /// Appends to the fleet's audit log.
    pub async fn audit_append(&self, rec: &AuditRecord) -> Result<()> {
        Ok(self.inner.store.audit_append(rec).await?)
    }

    /// The token whose secret this is, if any (active or not).
    pub async fn token_by_secret(&self, secret: &str) -> Result<Option<TokenInfo>> {
        Ok(self.inner.store.token_by_secret(secret).await?)
    }

    /// Whether some admin token still works.
    pub async fn has_active_admin(&self) -> Result<bool> {
        Ok(self.inner.store.has_active_admin().await?)
    }
}

impl Inner {
    pub(crate) async fn ssh_user_ca(&self) -> Result<String> {
        self.ssh_ca_key()
            .await?
            .public_key()
            .to_openssh()
            .map_err(ssh_key_err)
    }

    async fn ssh_ca_key(&self) -> Result<PrivateKey> {
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

/// Where hosts keep the fleet's SSH user CA.
const HOST_CA_FILE: &str = "/etc/ssh/flotilla_user_ca.pub";

/// Makes the host's sshd trust the fleet's SSH user CA (TrustedUserCAKeys), so a
/// server can hand users short-lived certificates instead of the machine's key.
/// Converges: a host that already trusts it is not touched.
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
    let out = s.exec(&script).await.map_err(|e| errors::ssh(name, e))?;
    if out.status != 0 {
        return Err(Error::provision(format!(
            "{name}: cannot make sshd trust the fleet's SSH CA: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// The embedded engine's side of `Fleet`'s token and audit methods: it works on the
/// store directly (for the operator on the server's machine) and audits as "local".
pub(super) async fn token_create(local: &Local, spec: TokenSpec) -> Result<NewToken> {
    validate_token_name(&spec.name)?;
    let new = local.inner.store.create_token(&spec).await?;
    local_audit(local, "token.create", &new.info.id).await;
    Ok(new)
}

pub(super) async fn token_revoke(local: &Local, id_or_name: &str) -> Result<TokenInfo> {
    let revoked = local.inner.store.revoke_token(id_or_name).await?;
    let Some(first) = revoked.first().cloned() else {
        return Err(Error::missing(format!("no active token {id_or_name:?}")));
    };
    for t in &revoked {
        local_audit(local, "token.revoke", &t.id).await;
    }
    Ok(first)
}

pub(super) async fn tokens(local: &Local) -> Result<Vec<TokenInfo>> {
    Ok(local.inner.store.tokens().await?)
}

pub(super) async fn audit(local: &Local, q: AuditQuery) -> Result<Vec<AuditEntry>> {
    Ok(local.inner.store.audit(&q).await?)
}

async fn local_audit(local: &Local, action: &str, target: &str) {
    let rec = AuditRecord {
        actor: Some("local".into()),
        remote: Some("local".into()),
        action: action.into(),
        target: Some(target.into()),
        status: 200,
        outcome: "ok".into(),
        ..Default::default()
    };
    if let Err(e) = local.audit_append(&rec).await {
        tracing::warn!("cannot write the audit log: {e}");
    }
}

fn ssh_key_err(e: impl std::fmt::Display) -> Error {
    Error::internal(format!("ssh certificate: {e}"))
}
