//! Sealed private keys and plain certificates, by owner ("fleet" or "machine:NAME") and kind.

use super::{Store, StoreError};

const UPSERT_SECRET: &str = "INSERT INTO secrets (owner, kind, sealed) VALUES ($1, $2, $3) \
     ON CONFLICT (owner, kind) DO UPDATE SET sealed = excluded.sealed";
const UPSERT_CERT: &str = "INSERT INTO certs (owner, kind, pem) VALUES ($1, $2, $3) \
     ON CONFLICT (owner, kind) DO UPDATE SET pem = excluded.pem";

impl Store {
    pub async fn put_secret(
        &self,
        owner: &str,
        kind: &str,
        plaintext: &str,
    ) -> Result<(), StoreError> {
        let sealed = self
            .key
            .seal(&format!("{owner}/{kind}"), plaintext.as_bytes())?;
        sqlx::query(UPSERT_SECRET)
            .bind(owner)
            .bind(kind)
            .bind(sealed)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn secret(&self, owner: &str, kind: &str) -> Result<Option<String>, StoreError> {
        let sealed: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT sealed FROM secrets WHERE owner = $1 AND kind = $2")
                .bind(owner)
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = self.key.open(&format!("{owner}/{kind}"), &sealed)?;
        String::from_utf8(plain).map(Some).map_err(|_| {
            StoreError::Corrupt(format!("{owner}/{kind}"), "secret is not text".into())
        })
    }

    /// Deletes one secret; deleting one that is not there is not an error.
    pub async fn delete_secret(&self, owner: &str, kind: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM secrets WHERE owner = $1 AND kind = $2")
            .bind(owner)
            .bind(kind)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn put_cert(&self, owner: &str, kind: &str, pem: &str) -> Result<(), StoreError> {
        sqlx::query(UPSERT_CERT)
            .bind(owner)
            .bind(kind)
            .bind(pem)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn cert(&self, owner: &str, kind: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT pem FROM certs WHERE owner = $1 AND kind = $2")
                .bind(owner)
                .bind(kind)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Deletes every secret and certificate of an owner.
    pub async fn forget_owner(&self, owner: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        forget_owner_in(&mut tx, owner).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Count of secrets and certificates an owner still has (for tests and `rm` checks).
    pub async fn owner_items(&self, owner: &str) -> Result<i64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM secrets WHERE owner = $1) + (SELECT COUNT(*) FROM certs WHERE owner = $1)",
        )
        .bind(owner)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }
}

impl Store {
    /// Stores a certificate and its sealed key only if the owner has no such certificate
    /// yet, in one transaction; returns false when another writer got there first (the
    /// caller then reads theirs), so two processes never end up with two fleet CAs.
    pub async fn init_pair(
        &self,
        owner: &str,
        cert_kind: &str,
        cert_pem: &str,
        key_kind: &str,
        key_pem: &str,
    ) -> Result<bool, StoreError> {
        let sealed = self
            .key
            .seal(&format!("{owner}/{key_kind}"), key_pem.as_bytes())?;
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO certs (owner, kind, pem) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(owner)
        .bind(cert_kind)
        .bind(cert_pem)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(UPSERT_SECRET)
            .bind(owner)
            .bind(key_kind)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Deletes an owner's secrets and certificates inside the caller's transaction, so a
/// record and what it owns go together.
pub(crate) async fn forget_owner_in(
    conn: &mut sqlx::AnyConnection,
    owner: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM secrets WHERE owner = $1")
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM certs WHERE owner = $1")
        .bind(owner)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
