//! What only the owner of a shared fleet does, beyond [`Fleet`]: tokens, the audit
//! log, credentials made for one user, and the checks a server makes on every request.
//! `engine::Local` implements it on the store (the server holds one, and so does
//! `flotilla token` on the server's machine); `client::Remote` over the server's admin
//! routes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    AuditEntry, AuditPruned, AuditQuery, AuditRetention, ClientConfig, Fleet, Identity, NewToken,
    Result, ServerInfo, SshAccess, TokenInfo, TokenSpec,
};

/// What the server writes to the audit log for one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRecord {
    pub token_id: Option<String>,
    pub actor: Option<String>,
    pub remote: Option<String>,
    pub action: String,
    pub target: Option<String>,
    pub status: u16,
    pub outcome: String,
}

/// How long the credentials handed to one user last, and whose they are. On a remote
/// fleet the server decides both (the token's user, its own lifetimes), so a client's
/// values are not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub user: String,
    pub valid_for: Duration,
}

#[async_trait]
pub trait FleetAdmin: Fleet {
    /// The same fleet as a plain [`Fleet`] (for `api::follow` and the faces).
    fn as_fleet(self: Arc<Self>) -> Arc<dyn Fleet>;

    /// The fleet's id and the versions its backend speaks (`GET /v1/version`).
    async fn server_info(&self) -> Result<ServerInfo>;
    /// Who is asking: the token's user on a server, the fleet's owner (admin) locally.
    async fn whoami(&self) -> Result<Identity>;

    /// Bearer tokens, newest first; never the secrets.
    async fn tokens(&self) -> Result<Vec<TokenInfo>>;
    /// Makes a token; the secret is in the answer and nowhere else.
    async fn token_create(&self, spec: TokenSpec) -> Result<NewToken>;
    /// Revokes the token with this id, or every active token of this name; they stop
    /// working at once. The answer lists what was revoked (never empty: NotFound).
    async fn token_revoke(&self, id_or_name: &str) -> Result<Vec<TokenInfo>>;
    /// The audit log, oldest first.
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>>;
    /// How long the audit log keeps entries.
    async fn audit_retention(&self) -> Result<AuditRetention>;
    /// Sets it (validated) and prunes what it no longer keeps, at once; the change
    /// and the pruning are audited.
    async fn set_audit_retention(&self, retention: AuditRetention) -> Result<AuditPruned>;

    /// The machine's Docker endpoint with a client certificate made for one user.
    async fn user_client_config(&self, machine: &str, grant: &Grant) -> Result<ClientConfig>;
    /// A swarm's manager endpoint with a client certificate made for one user.
    async fn user_swarm_client_config(&self, swarm: &str, grant: &Grant) -> Result<ClientConfig>;
    /// What one user needs to log into the machine with their own key: the address,
    /// the pinned host key and an OpenSSH user certificate for `public_key`. No private
    /// key is in the answer.
    async fn user_ssh_access(
        &self,
        machine: &str,
        public_key: &str,
        grant: &Grant,
    ) -> Result<SshAccess>;

    /// The identity behind a bearer token's secret: Unauthorized (saying why) when it
    /// is unknown, revoked or expired.
    async fn authenticate(&self, secret: &str) -> Result<Identity>;
    /// Appends to the audit log. A remote fleet's server audits its own requests, so
    /// there this records nothing.
    async fn audit_append(&self, record: &AuditRecord) -> Result<()>;
    /// A number that moves whenever the machine list may have changed (from any process
    /// sharing the store), so a server can answer a repeated list from what it already
    /// serialized; `None` when this backend cannot tell (then nothing is cached).
    async fn machines_version(&self) -> Result<Option<u64>> {
        Ok(None)
    }
    /// The machine list's number and one that moves whenever a token is made, revoked
    /// or removed, read together (one read per request on a server that caches token
    /// checks); `None` when this backend cannot tell.
    async fn store_versions(&self) -> Result<Option<StoreVersions>> {
        Ok(None)
    }
}

/// See [`FleetAdmin::store_versions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreVersions {
    pub machines: u64,
    pub tokens: u64,
}
