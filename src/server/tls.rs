//! The server's TLS: the operator's certificate, or a self-signed one made on first
//! start and kept in the store, whose fingerprint `flotilla login` shows and pins.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::ServerError;
use crate::api::certificate_fingerprint as fingerprint;
use crate::engine::Local;

const OWNER: &str = "server";

/// Where the server's certificate comes from.
#[derive(Debug, Clone)]
pub enum TlsSource {
    /// Made on first start (and kept): names localhost, the host's name and these.
    SelfSigned { extra_sans: Vec<String> },
    /// PEM files: the certificate chain and its private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// The rustls configuration and the leaf certificate's fingerprint.
pub async fn load(
    engine: &Local,
    src: &TlsSource,
) -> Result<(Arc<rustls::ServerConfig>, String), ServerError> {
    let (cert_pem, key_pem) = match src {
        TlsSource::Files { cert, key } => {
            let read = |p: &PathBuf| {
                std::fs::read_to_string(p)
                    .map_err(|e| ServerError::Tls(format!("cannot read {}: {e}", p.display())))
            };
            (read(cert)?, read(key)?)
        }
        TlsSource::SelfSigned { extra_sans } => self_signed(engine, extra_sans).await?,
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ServerError::Tls(format!("invalid certificate PEM: {e}")))?;
    let leaf = certs
        .first()
        .ok_or_else(|| ServerError::Tls("the certificate file holds no certificate".into()))?;
    let fp = fingerprint(leaf.as_ref());
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
        .map_err(|e| ServerError::Tls(format!("invalid private key PEM: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ServerError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| ServerError::Tls(format!("the certificate and key do not fit: {e}")))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(cfg), fp))
}

async fn self_signed(engine: &Local, extra: &[String]) -> Result<(String, String), ServerError> {
    let store = engine.store();
    if let (Some(c), Some(k)) = (
        store.cert(OWNER, "tls").await.map_err(store_err)?,
        store.secret(OWNER, "tls_key").await.map_err(store_err)?,
    ) {
        return Ok((c, k));
    }
    let mut sans = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    if let Ok(h) = std::fs::read_to_string("/etc/hostname") {
        let h = h.trim();
        if !h.is_empty() {
            sans.push(h.to_string());
        }
    }
    sans.extend(extra.iter().cloned());
    sans.dedup();
    let made = rcgen::generate_simple_self_signed(sans)
        .map_err(|e| ServerError::Tls(format!("cannot make a certificate: {e}")))?;
    let (c, k) = (made.cert.pem(), made.key_pair.serialize_pem());
    store
        .init_pair(OWNER, "tls", &c, "tls_key", &k)
        .await
        .map_err(store_err)?;
    // Another server process may have won: use what the store holds.
    match (
        store.cert(OWNER, "tls").await.map_err(store_err)?,
        store.secret(OWNER, "tls_key").await.map_err(store_err)?,
    ) {
        (Some(c), Some(k)) => Ok((c, k)),
        _ => Ok((c, k)),
    }
}

fn store_err(e: crate::store::StoreError) -> ServerError {
    ServerError::Engine(e.into())
}
