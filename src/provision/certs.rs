//! The fleet CA and the certificates it issues (rcgen).
//! INTERFACE (fixed; bodies to be written).

use super::ProvisionError;

#[derive(Clone)]
pub struct CertPair { pub cert_pem: String, pub key_pem: String }

pub struct Ca { pub cert_pem: String, pub key_pem: String }

impl Ca {
    /// A new CA (ECDSA P-256, 10 years).
    pub fn generate(common_name: &str) -> Result<Ca, ProvisionError> { todo!() }
    /// Server certificate: SANs are DNS names or IP addresses (detected), serverAuth, ~3 years.
    pub fn issue_server(&self, common_name: &str, sans: &[String]) -> Result<CertPair, ProvisionError> { todo!() }
    /// Client certificate: clientAuth, ~3 years.
    pub fn issue_client(&self, common_name: &str) -> Result<CertPair, ProvisionError> { todo!() }
}

/// The SANs in a certificate, as strings (IPs in their usual text form).
pub fn sans_of(cert_pem: &str) -> Result<Vec<String>, ProvisionError> { todo!() }
