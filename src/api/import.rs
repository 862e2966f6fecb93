//! A machine another tool made (docker-machine), adopted as a `generic` machine with
//! what that tool kept: where the host is, the SSH key that reaches it and the TLS
//! material its Docker Engine trusts, so the machine works before flotilla provisions it.

use serde::{Deserialize, Serialize};

use super::{validate_name, validate_ssh_user, Error, GenericOptions};

/// The largest PEM (key or certificate) an import accepts.
pub const MAX_PEM: usize = 64 * 1024;

/// One machine to adopt (`flotilla import-docker-machine`). The secrets travel in it
/// once and are sealed in the store; its Debug output leaves them out.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportedMachine {
    #[schema(pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    pub name: String,
    /// The driver the other tool made it with (virtualbox, generic, ...), kept for the record.
    pub original_driver: String,
    /// The host's IP address or DNS name.
    pub ip_address: String,
    pub ssh_user: String,
    pub ssh_port: u16,
    /// The private key (OpenSSH or PEM) that reaches the host.
    pub ssh_key_pem: String,
    /// Where dockerd listens with TLS.
    pub engine_port: u16,
    /// The CA the host's engine trusts, and a client certificate and key it accepts.
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for ImportedMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportedMachine")
            .field("name", &self.name)
            .field("original_driver", &self.original_driver)
            .field("ip_address", &self.ip_address)
            .field("ssh_user", &self.ssh_user)
            .field("ssh_port", &self.ssh_port)
            .field("engine_port", &self.engine_port)
            .finish_non_exhaustive()
    }
}

impl ImportedMachine {
    /// Checks everything but the key's and certificates' contents (the backend parses
    /// those): names, address, ports, sizes.
    pub fn validate(&self) -> Result<(), Error> {
        validate_name(&self.name)?;
        validate_ssh_user(&self.ssh_user)?;
        GenericOptions {
            ip_address: Some(self.ip_address.clone()),
            ssh_port: Some(self.ssh_port),
        }
        .validate()?;
        if self.engine_port == 0 {
            return Err(Error::invalid(format!(
                "{}: invalid engine port 0: give 1-65535",
                self.name
            )));
        }
        if self.original_driver.len() > 64
            || !self
                .original_driver
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(Error::invalid(format!(
                "{}: invalid driver name {:?}",
                self.name, self.original_driver
            )));
        }
        for (what, pem) in [
            ("SSH key", &self.ssh_key_pem),
            ("CA certificate", &self.ca_pem),
            ("client certificate", &self.cert_pem),
            ("client key", &self.key_pem),
        ] {
            if !pem.trim_start().starts_with("-----BEGIN ") {
                return Err(Error::invalid(format!(
                    "{}: the {what} is not PEM text",
                    self.name
                )));
            }
            if pem.len() > MAX_PEM {
                return Err(Error::invalid(format!(
                    "{}: the {what} is larger than {} KiB",
                    self.name,
                    MAX_PEM / 1024
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImportedMachine {
        ImportedMachine {
            name: "web1".into(),
            original_driver: "generic".into(),
            ip_address: "10.0.0.5".into(),
            ssh_user: "ubuntu".into(),
            ssh_port: 22,
            ssh_key_pem: "-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n".into(),
            engine_port: 2376,
            ca_pem: "-----BEGIN CERTIFICATE-----\n".into(),
            cert_pem: "-----BEGIN CERTIFICATE-----\n".into(),
            key_pem: "-----BEGIN RSA PRIVATE KEY-----\nsecret\n".into(),
        }
    }

    #[test]
    fn checks_names_ports_and_pem_and_hides_secrets() {
        sample().validate().unwrap();
        assert!(!format!("{:?}", sample()).contains("secret"));
        let mut m = sample();
        m.name = "Web_1".into();
        assert!(m.validate().is_err());
        let mut m = sample();
        m.engine_port = 0;
        assert!(m.validate().is_err());
        let mut m = sample();
        m.ssh_key_pem = "not a key".into();
        let e = m.validate().unwrap_err().to_string();
        assert!(e.contains("SSH key is not PEM"), "{e}");
    }
}
