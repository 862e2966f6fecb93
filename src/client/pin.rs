//! Certificate pinning: a server with a self-signed certificate is trusted by the
//! SHA-256 fingerprint of that certificate, which `flotilla login` shows and stores.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

pub use crate::api::certificate_fingerprint as fingerprint;

pub use crate::api::normalize_fingerprint;

/// Accepts exactly the certificate with the pinned fingerprint (or, with no pin, any
/// certificate, recording its fingerprint: for `login` to show). Handshake signatures
/// are always verified, so the server must hold the certificate's key.
#[derive(Debug)]
pub struct PinVerifier {
    pin: Option<String>,
    seen: Arc<Mutex<Option<String>>>,
    provider: Arc<CryptoProvider>,
}

impl PinVerifier {
    pub fn new(pin: Option<String>, provider: Arc<CryptoProvider>) -> PinVerifier {
        PinVerifier {
            pin,
            seen: Arc::default(),
            provider,
        }
    }
    /// Where the fingerprint of the certificate last offered is kept.
    pub fn seen(&self) -> Arc<Mutex<Option<String>>> {
        self.seen.clone()
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let fp = fingerprint(end_entity.as_ref());
        if let Ok(mut seen) = self.seen.lock() {
            *seen = Some(fp.clone());
        }
        match &self.pin {
            None => Ok(ServerCertVerified::assertion()),
            Some(pin) if *pin == fp => Ok(ServerCertVerified::assertion()),
            Some(pin) => Err(rustls::Error::General(format!(
                "the server's certificate is {fp}, not the pinned {pin}: if the server was given a new certificate, run `flotilla login` again"
            ))),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_normalize() {
        let fp = fingerprint(b"cert");
        assert!(fp.starts_with("sha256:") && fp.len() == 71);
        assert_eq!(normalize_fingerprint(&fp.to_uppercase()), Some(fp.clone()));
        let colons: Vec<String> = fp.as_bytes()[7..]
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        assert_eq!(normalize_fingerprint(&colons.join(":")), Some(fp));
        assert_eq!(normalize_fingerprint("sha256:abc"), None);
    }
}
