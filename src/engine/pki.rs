//! The fleet's certificates as the store keeps them: one CA and one client certificate
//! per fleet, one server certificate per machine. Keys are sealed in the store.

use super::{errors, Inner};
use crate::api::Result;
use crate::provision::certs::{sans_of, Ca, CertPair};
use crate::store::machine_owner;

const FLEET: &str = "fleet";

impl Inner {
    /// The fleet CA, made on first use.
    pub(crate) async fn ca(&self) -> Result<Ca> {
        if let Some(ca) = self.load_ca().await? {
            return Ok(ca);
        }
        let ca = Ca::generate(&format!("flotilla fleet {}", self.fleet_id))
            .map_err(errors::provision)?;
        self.store
            .init_pair(FLEET, "ca", &ca.cert_pem, "ca_key", &ca.key_pem)
            .await?;
        // Another process may have won the race: use whatever the store holds now.
        Ok(self.load_ca().await?.unwrap_or(ca))
    }

    async fn load_ca(&self) -> Result<Option<Ca>> {
        let (Some(cert_pem), Some(key_pem)) = (
            self.store.cert(FLEET, "ca").await?,
            self.store.secret(FLEET, "ca_key").await?,
        ) else {
            return Ok(None);
        };
        Ok(Some(Ca { cert_pem, key_pem }))
    }

    /// The local user's client certificate, made on first use (or anew with `renew`).
    pub(crate) async fn client_pair(&self, renew: bool) -> Result<CertPair> {
        if !renew {
            if let (Some(cert_pem), Some(key_pem)) = (
                self.store.cert(FLEET, "client").await?,
                self.store.secret(FLEET, "client_key").await?,
            ) {
                return Ok(CertPair { cert_pem, key_pem });
            }
        }
        let ca = self.ca().await?;
        let pair = ca
            .issue_client("flotilla-client")
            .map_err(errors::provision)?;
        if renew {
            self.store
                .put_secret(FLEET, "client_key", &pair.key_pem)
                .await?;
            self.store.put_cert(FLEET, "client", &pair.cert_pem).await?;
        } else if !self
            .store
            .init_pair(FLEET, "client", &pair.cert_pem, "client_key", &pair.key_pem)
            .await?
        {
            return Box::pin(self.client_pair(false)).await;
        }
        Ok(pair)
    }

    /// The machine's server certificate: the stored one while it covers every name in
    /// `sans`, otherwise (or with `renew`) a new one. Returns it and whether it is new.
    pub(crate) async fn server_pair(
        &self,
        machine: &str,
        sans: &[String],
        renew: bool,
    ) -> Result<(CertPair, bool)> {
        let owner = machine_owner(machine);
        if !renew {
            if let (Some(cert_pem), Some(key_pem)) = (
                self.store.cert(&owner, "server").await?,
                self.store.secret(&owner, "server_key").await?,
            ) {
                let have = sans_of(&cert_pem).map_err(errors::provision)?;
                if sans.iter().all(|s| have.contains(s)) {
                    return Ok((CertPair { cert_pem, key_pem }, false));
                }
            }
        }
        let ca = self.ca().await?;
        let pair = ca.issue_server(machine, sans).map_err(errors::provision)?;
        self.store
            .put_secret(&owner, "server_key", &pair.key_pem)
            .await?;
        self.store
            .put_cert(&owner, "server", &pair.cert_pem)
            .await?;
        Ok((pair, true))
    }
}
