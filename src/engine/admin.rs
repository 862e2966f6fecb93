//! `FleetAdmin` on the store: tokens, the audit log, credentials for one user and the
//! token check. A server's own requests are audited by the server; anything else (the
//! operator running `flotilla token` on the server's machine) is audited as "local".

use std::sync::Arc;

use async_trait::async_trait;

use super::{credentials, Local};
use crate::api::{
    now_ms, validate_token_name, AccessRole, AuditEntry, AuditPruned, AuditQuery, AuditRecord,
    AuditRetention, ClientConfig, Error, Fleet, FleetAdmin, Grant, Hint, Identity, NewToken,
    Result, ServerInfo, SshAccess, Subject, TokenInfo, TokenSpec, API_VERSION,
};

impl Local {
    /// This engine as a server holds it: the server audits each request itself, so the
    /// engine does not audit token changes again as "local".
    pub fn serving(mut self) -> Local {
        self.audits_itself = false;
        self
    }

    /// Whether some admin token still works (a new server makes one when none does).
    pub async fn has_active_admin(&self) -> Result<bool> {
        Ok(self.inner.store.has_active_admin().await?)
    }

    /// Applies the audit retention now: deletes what it no longer keeps and, when that
    /// is anything, records how much in the log itself (a server calls this every few
    /// minutes).
    pub async fn prune_audit(&self) -> Result<u64> {
        let store = &self.inner.store;
        let retention = store.audit_retention().await?;
        let pruned = store.prune_audit(&retention, now_ms()).await?;
        if pruned > 0 {
            let rec = AuditRecord {
                actor: Some("local".into()),
                remote: Some("local".into()),
                action: "audit.prune".into(),
                target: Some(format!(
                    "{pruned} entries beyond the retention ({})",
                    retention.describe()
                )),
                status: 200,
                outcome: "ok".into(),
                ..Default::default()
            };
            store.audit_append(&rec).await?;
        }
        Ok(pruned)
    }

    pub(crate) async fn local_audit(&self, action: &str, target: &str) {
        if !self.audits_itself {
            return;
        }
        let rec = AuditRecord {
            actor: Some("local".into()),
            remote: Some("local".into()),
            action: action.into(),
            target: Some(target.into()),
            status: 200,
            outcome: "ok".into(),
            ..Default::default()
        };
        if let Err(e) = self.inner.store.audit_append(&rec).await {
            tracing::warn!("cannot write the audit log: {e}");
        }
    }
}

#[async_trait]
impl FleetAdmin for Local {
    fn as_fleet(self: Arc<Self>) -> Arc<dyn Fleet> {
        self
    }

    async fn machines_version(&self) -> Result<Option<u64>> {
        Ok(Some(self.inner.store.machines_version().await?))
    }

    async fn store_versions(&self) -> Result<Option<crate::api::StoreVersions>> {
        let (machines, tokens) = self.inner.store.versions().await?;
        Ok(Some(crate::api::StoreVersions { machines, tokens }))
    }

    async fn server_info(&self) -> Result<ServerInfo> {
        Ok(ServerInfo {
            api_version: API_VERSION.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            fleet_id: self.inner.fleet_id.clone(),
        })
    }

    /// The embedded engine's user owns the fleet's store: admin.
    async fn whoami(&self) -> Result<Identity> {
        Ok(Identity {
            token_id: String::new(),
            name: "local".into(),
            role: AccessRole::Admin,
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Ok(self.inner.store.tokens().await?)
    }

    async fn token_create(&self, spec: TokenSpec) -> Result<NewToken> {
        spec.validate()?;
        let new = self.inner.store.create_token(&spec).await?;
        self.local_audit("token.create", &new.info.id).await;
        Ok(new)
    }

    async fn token_revoke(&self, id_or_name: &str) -> Result<Vec<TokenInfo>> {
        validate_token_name(id_or_name)?;
        let revoked = self.inner.store.revoke_token(id_or_name).await?;
        if revoked.is_empty() {
            return Err(Error::missing(format!("no active token {id_or_name:?}"))
                .about(Subject::Token(id_or_name.to_string()))
                .hint(Hint::List));
        }
        for t in &revoked {
            self.local_audit("token.revoke", &t.id).await;
        }
        Ok(revoked)
    }

    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>> {
        Ok(self.inner.store.audit(&query).await?)
    }

    async fn audit_retention(&self) -> Result<AuditRetention> {
        Ok(self.inner.store.audit_retention().await?)
    }

    async fn set_audit_retention(&self, retention: AuditRetention) -> Result<AuditPruned> {
        retention.validate()?;
        self.inner.store.set_audit_retention(&retention).await?;
        self.local_audit("audit.retention", &retention.describe())
            .await;
        let pruned = self.prune_audit().await?;
        Ok(AuditPruned { retention, pruned })
    }

    async fn user_client_config(&self, machine: &str, grant: &Grant) -> Result<ClientConfig> {
        credentials::machine_client_config(&self.inner, machine, grant).await
    }

    async fn user_swarm_client_config(&self, swarm: &str, grant: &Grant) -> Result<ClientConfig> {
        credentials::swarm_client_config(&self.inner, swarm, grant).await
    }

    async fn user_ssh_access(
        &self,
        machine: &str,
        public_key: &str,
        grant: &Grant,
    ) -> Result<SshAccess> {
        credentials::ssh_access(&self.inner, machine, public_key, grant).await
    }

    async fn authenticate(&self, secret: &str) -> Result<Identity> {
        let info = self
            .inner
            .store
            .token_by_secret(secret)
            .await?
            .ok_or_else(|| Error::unauthorized("unknown token: ask an admin for one"))?;
        if info.revoked_ms.is_some() {
            return Err(Error::unauthorized(format!(
                "token {} was revoked: ask an admin for a new one",
                info.id
            )));
        }
        if !info.is_active(now_ms()) {
            return Err(Error::unauthorized(format!(
                "token {} has expired: ask an admin for a new one",
                info.id
            )));
        }
        Ok(Identity {
            token_id: info.id,
            name: info.name,
            role: info.role,
        })
    }

    async fn audit_append(&self, record: &AuditRecord) -> Result<()> {
        Ok(self.inner.store.audit_append(record).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a server checks on every request: a revoked or expired token is refused,
    /// saying which; a new token must live a minute and not take a reserved name.
    #[tokio::test]
    async fn tokens_are_checked_and_their_specs_bounded() {
        let home = tempfile::tempdir().unwrap();
        let local = Local::open(crate::paths::Paths::at(home.path()), Default::default())
            .await
            .unwrap()
            .serving();
        // The store makes what the api would refuse: a token dead on arrival.
        let dead = local
            .inner
            .store
            .create_token(&TokenSpec {
                name: "brief".into(),
                role: AccessRole::Viewer,
                ttl_secs: Some(0),
            })
            .await
            .unwrap();
        let err = local.authenticate(&dead.token).await.unwrap_err();
        assert!(err.is(crate::api::ErrorKind::Unauthorized), "{err}");
        assert!(err.to_string().contains("expired"), "{err}");

        let spec = |name: &str, ttl: Option<u64>| TokenSpec {
            name: name.into(),
            role: AccessRole::Operator,
            ttl_secs: ttl,
        };
        for (bad, why) in [
            (spec("local", None), "reserved"),
            (spec("LOCAL", None), "reserved"),
            (spec("tok-0123456789", None), "reserved"),
            (spec("ok", Some(0)), "1 minute"),
            (spec("ok", Some(59)), "1 minute"),
            (spec("ok", Some(u64::MAX)), "10 years"),
        ] {
            let err = local.token_create(bad).await.unwrap_err();
            assert!(err.is(crate::api::ErrorKind::InvalidInput), "{err}");
            assert!(err.to_string().contains(why), "{err}");
        }
        let otto = local.token_create(spec("otto", Some(60))).await.unwrap();
        let err = local.token_create(spec("otto", None)).await.unwrap_err();
        assert!(err.is(crate::api::ErrorKind::AlreadyExists), "{err}");
        // Revoking by id hits that token only.
        let revoked = local.token_revoke(&otto.info.id).await.unwrap();
        assert_eq!(revoked.len(), 1);
        let err = local.authenticate(&otto.token).await.unwrap_err();
        assert!(err.to_string().contains("revoked"), "{err}");
    }
}
