//! How a client names a server: its URL and the fingerprint of its certificate. Pure
//! rules, so `login`, the settings and the client agree.

use super::Error;

/// Normalizes a server address: `https://` is added when no scheme is given, a trailing
/// slash dropped; plain `http://` is refused.
pub fn normalize_server_url(url: &str) -> Result<String, Error> {
    let url = url.trim();
    let bad = || {
        Error::invalid(format!(
            "invalid server address {url:?}: use https://HOST:PORT"
        ))
    };
    let rest = match url.split_once("://") {
        Some(("https", rest)) => rest,
        Some(_) => return Err(bad()),
        None => url,
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty()
        || host.len() > 2048
        || host.contains("://")
        || host.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    Ok(format!("https://{host}"))
}

/// `sha256:` and the lowercase hex SHA-256 of a certificate (DER): what a client pins.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!("sha256:{}", hex::encode(Sha256::digest(der)))
}

/// `sha256:` and 64 hex digits, from any case and with or without colons; None when
/// it is not a SHA-256 fingerprint.
pub fn normalize_fingerprint(s: &str) -> Option<String> {
    let s = s.trim().to_ascii_lowercase();
    let hexpart: String = s
        .strip_prefix("sha256:")
        .unwrap_or(&s)
        .chars()
        .filter(|c| *c != ':')
        .collect();
    (hexpart.len() == 64 && hexpart.chars().all(|c| c.is_ascii_hexdigit()))
        .then(|| format!("sha256:{hexpart}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https() {
        assert_eq!(normalize_server_url("h:7443/").unwrap(), "https://h:7443");
        assert!(normalize_server_url("http://h").is_err());
        assert!(normalize_server_url("https://").is_err());
    }

    #[test]
    fn fingerprints_normalize() {
        let fp = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(normalize_fingerprint(&fp.to_uppercase()), Some(fp.clone()));
        let colons: Vec<String> = (0..32).map(|_| "ab".to_string()).collect();
        assert_eq!(normalize_fingerprint(&colons.join(":")), Some(fp));
        assert_eq!(normalize_fingerprint("sha256:abc"), None);
    }
}
