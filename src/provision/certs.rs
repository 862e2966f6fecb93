//! The fleet CA and the certificates it issues (rcgen).
//!
//! Keys are ECDSA P-256 (PKCS#8 PEM), accepted by Go's crypto/tls (dockerd, the docker
//! CLI) and by rustls (bollard). A stored CA is rebuilt from its PEMs to sign more.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};

use super::ProvisionError;

#[derive(Clone)]
pub struct CertPair {
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for CertPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertPair")
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

pub struct Ca {
    pub cert_pem: String,
    pub key_pem: String,
}

/// How long a CA is valid, in days (~10 years).
pub const CA_DAYS: i64 = 3653;
/// How long issued certificates are valid, in days (~3 years).
pub const LEAF_DAYS: i64 = 1096;
/// Certificates start one day back, so a host whose clock is a little behind accepts them.
const BACKDATE_DAYS: i64 = 1;

fn cert_err(what: &str, e: impl std::fmt::Display) -> ProvisionError {
    ProvisionError::Cert(format!("{what}: {e}"))
}

impl Ca {
    /// A new CA (ECDSA P-256, 10 years).
    pub fn generate(common_name: &str) -> Result<Ca, ProvisionError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| cert_err("generating the CA key", e))?;
        let mut params = base_params(common_name, CA_DAYS);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params
            .self_signed(&key)
            .map_err(|e| cert_err("signing the CA certificate", e))?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Server certificate: SANs are DNS names or IP addresses (detected), serverAuth, ~3 years.
    pub fn issue_server(
        &self,
        common_name: &str,
        sans: &[String],
    ) -> Result<CertPair, ProvisionError> {
        let mut params = base_params(common_name, LEAF_DAYS);
        params.subject_alt_names = san_types(sans)?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    /// Client certificate: clientAuth, ~3 years.
    pub fn issue_client(&self, common_name: &str) -> Result<CertPair, ProvisionError> {
        let mut params = base_params(common_name, LEAF_DAYS);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    /// A short-lived client certificate for one user (clientAuth), valid from a minute
    /// ago (clock skew) for `valid_for`: what a shared fleet's server hands out.
    pub fn issue_client_valid_for(
        &self,
        common_name: &str,
        valid_for: std::time::Duration,
    ) -> Result<CertPair, ProvisionError> {
        let mut params = base_params(common_name, LEAF_DAYS);
        let now = time::OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::minutes(1);
        params.not_after = now
            + time::Duration::try_from(valid_for)
                .map_err(|e| cert_err("certificate lifetime", e))?;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, mut params: CertificateParams) -> Result<CertPair, ProvisionError> {
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        let (issuer, issuer_key) = self.issuer()?;
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| cert_err("generating a key", e))?;
        let cert = params
            .signed_by(&key, &issuer, &issuer_key)
            .map_err(|e| cert_err("signing a certificate", e))?;
        Ok(CertPair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Rebuilds the issuer (its name and key identifier) from the stored PEMs.
    fn issuer(&self) -> Result<(rcgen::Certificate, KeyPair), ProvisionError> {
        let key =
            KeyPair::from_pem(&self.key_pem).map_err(|e| cert_err("reading the CA key", e))?;
        let params = CertificateParams::from_ca_cert_pem(&self.cert_pem)
            .map_err(|e| cert_err("reading the CA certificate", e))?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| cert_err("loading the CA", e))?;
        Ok((cert, key))
    }
}

fn base_params(common_name: &str, days: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "flotilla");
    params.distinguished_name = dn;
    let today = days_since_epoch();
    let (y, m, d) = civil_from_days(today - BACKDATE_DAYS);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + days);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    params.serial_number = Some(random_serial());
    params
}

/// A positive 128-bit random serial (RFC 5280: at most 20 octets, positive).
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    SerialNumber::from_slice(&bytes)
}

fn days_since_epoch() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    (secs / 86_400) as i64
}

/// The UTC date `days` after 1970-01-01 (H. Hinnant's civil_from_days).
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y as i32, m as u8, d as u8)
}

/// Each SAN string as an IP address when it parses as one, else as a DNS name.
fn san_types(sans: &[String]) -> Result<Vec<SanType>, ProvisionError> {
    let mut out: Vec<SanType> = Vec::new();
    for s in sans {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        let san = match s.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => {
                let name = s.trim_end_matches('.').to_ascii_lowercase();
                SanType::DnsName(name.clone().try_into().map_err(|e| {
                    ProvisionError::Cert(format!("invalid subject alternative name {s:?}: {e}"))
                })?)
            }
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

/// The SANs in a certificate, as strings (IPs in their usual text form).
pub fn sans_of(cert_pem: &str) -> Result<Vec<String>, ProvisionError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes())
        .map_err(|e| cert_err("not a PEM certificate", e))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| cert_err("invalid certificate", e))?;
    let ext = cert
        .subject_alternative_name()
        .map_err(|e| cert_err("invalid subjectAltName", e))?;
    let mut out = Vec::new();
    if let Some(ext) = ext {
        for name in &ext.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(n) => out.push(n.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(b) => {
                    if let Ok(v4) = <[u8; 4]>::try_from(*b) {
                        out.push(Ipv4Addr::from(v4).to_string());
                    } else if let Ok(v6) = <[u8; 16]>::try_from(*b) {
                        out.push(Ipv6Addr::from(v6).to_string());
                    }
                }
                _ => {}
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use x509_parser::prelude::*;

    fn der_of(pem: &str) -> Vec<u8> {
        let (_, p) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).unwrap();
        p.contents
    }

    fn verify(ca: &Ca, leaf: &CertPair, usage: webpki::KeyUsage) -> Result<(), webpki::Error> {
        let ca_der = CertificateDer::from(der_of(&ca.cert_pem));
        let anchor = webpki::anchor_from_trusted_cert(&ca_der).unwrap();
        let leaf_der = CertificateDer::from(der_of(&leaf.cert_pem));
        let ee = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
        ee.verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &[anchor],
            &[],
            UnixTime::now(),
            usage,
            None,
            None,
        )
        .map(|_| ())
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn ca_is_a_p256_ca_valid_ten_years() {
        let ca = Ca::generate("flotilla CA").unwrap();
        let der = der_of(&ca.cert_pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert!(cert.is_ca());
        let ku = cert.key_usage().unwrap().unwrap().value;
        assert!(ku.key_cert_sign());
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "flotilla CA"
        );
        let v = cert.validity();
        let years = (v.not_after.timestamp() - v.not_before.timestamp()) / (365 * 86_400);
        assert_eq!(years, 10);
        assert!(v.is_valid());
        // self-signed
        cert.verify_signature(None).unwrap();
        assert!(ca.key_pem.contains("BEGIN PRIVATE KEY"));
        assert_eq!(
            cert.public_key().algorithm.algorithm,
            x509_parser::oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY
        );
    }

    #[test]
    fn server_cert_verifies_against_the_ca_for_its_sans() {
        let ca = Ca::generate("flotilla CA").unwrap();
        let sans = vec![
            "172.17.0.5".to_string(),
            "web1".to_string(),
            "web1.example.com".into(),
            "::1".into(),
        ];
        let server = ca.issue_server("web1", &sans).unwrap();
        verify(&ca, &server, webpki::KeyUsage::server_auth()).unwrap();
        // not usable as a client certificate
        assert!(verify(&ca, &server, webpki::KeyUsage::client_auth()).is_err());

        let leaf_der = CertificateDer::from(der_of(&server.cert_pem));
        let ee = webpki::EndEntityCert::try_from(&leaf_der).unwrap();
        for name in ["172.17.0.5", "web1", "web1.example.com", "::1"] {
            let sn = ServerName::try_from(name).unwrap();
            ee.verify_is_valid_for_subject_name(&sn)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        }
        for name in ["172.17.0.6", "web2"] {
            let sn = ServerName::try_from(name).unwrap();
            assert!(ee.verify_is_valid_for_subject_name(&sn).is_err(), "{name}");
        }

        let der = der_of(&server.cert_pem);
        let (_, cert) = X509Certificate::from_der(&der).unwrap();
        assert!(!cert.is_ca());
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && !eku.client_auth);
        assert_eq!(
            cert.subject()
                .iter_common_name()
                .next()
                .unwrap()
                .as_str()
                .unwrap(),
            "web1"
        );
        let ca_der = der_of(&ca.cert_pem);
        let (_, ca_cert) = X509Certificate::from_der(&ca_der).unwrap();
        assert_eq!(cert.issuer(), ca_cert.subject());
        cert.verify_signature(Some(ca_cert.public_key())).unwrap();
    }

    #[test]
    fn client_cert_is_client_auth_only() {
        let ca = Ca::generate("flotilla CA").unwrap();
        let client = ca.issue_client("alice").unwrap();
        verify(&ca, &client, webpki::KeyUsage::client_auth()).unwrap();
        assert!(verify(&ca, &client, webpki::KeyUsage::server_auth()).is_err());
        assert!(sans_of(&client.cert_pem).unwrap().is_empty());
    }

    #[test]
    fn a_stored_ca_keeps_signing_and_other_cas_do_not_verify() {
        let ca = Ca::generate("flotilla CA").unwrap();
        // round-trip through strings, as the store does
        let stored = Ca {
            cert_pem: ca.cert_pem.clone(),
            key_pem: ca.key_pem.clone(),
        };
        let a = stored.issue_server("a", &["10.0.0.1".into()]).unwrap();
        let b = stored.issue_server("b", &["10.0.0.2".into()]).unwrap();
        verify(&ca, &a, webpki::KeyUsage::server_auth()).unwrap();
        verify(&ca, &b, webpki::KeyUsage::server_auth()).unwrap();
        assert_ne!(a.key_pem, b.key_pem);
        let other = Ca::generate("other").unwrap();
        assert!(verify(&other, &a, webpki::KeyUsage::server_auth()).is_err());
        // serials differ
        let sa = X509Certificate::from_der(&der_of(&a.cert_pem))
            .unwrap()
            .1
            .serial
            .clone();
        let sb = X509Certificate::from_der(&der_of(&b.cert_pem))
            .unwrap()
            .1
            .serial
            .clone();
        assert_ne!(sa, sb);
    }

    #[test]
    fn sans_round_trip() {
        let ca = Ca::generate("ca").unwrap();
        let sans: Vec<String> = [
            "192.168.1.10",
            "fe80::1",
            "m1",
            "m1.fleet.internal",
            "m1",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let server = ca.issue_server("m1", &sans).unwrap();
        assert_eq!(
            sans_of(&server.cert_pem).unwrap(),
            vec!["192.168.1.10", "fe80::1", "m1", "m1.fleet.internal"]
        );
    }

    #[test]
    fn bad_inputs_are_cert_errors() {
        let ca = Ca::generate("ca").unwrap();
        let err = ca.issue_server("x", &["bad name é".into()]).err().unwrap();
        assert!(matches!(err, ProvisionError::Cert(_)), "{err}");
        assert!(err.to_string().contains("bad name"), "{err}");
        assert!(sans_of("not a cert").is_err());
        let broken = Ca {
            cert_pem: ca.cert_pem.clone(),
            key_pem: "garbage".into(),
        };
        assert!(matches!(
            broken.issue_client("c"),
            Err(ProvisionError::Cert(_))
        ));
    }
}
