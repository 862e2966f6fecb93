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

/// The most server addresses a client keeps (replicas of one fleet).
pub const MAX_SERVER_URLS: usize = 16;

/// Normalizes the addresses of one fleet's replicas, in the order given (the first is
/// tried first): each as [`normalize_server_url`], one to [`MAX_SERVER_URLS`], no
/// address twice. A single argument may list several separated by commas.
pub fn normalize_server_urls<S: AsRef<str>>(urls: &[S]) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for part in urls
        .iter()
        .flat_map(|u| u.as_ref().split(','))
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let url = normalize_server_url(part)?;
        if out.contains(&url) {
            return Err(Error::invalid(format!(
                "server address {url} is given twice"
            )));
        }
        out.push(url);
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "no server address given: use https://HOST:PORT",
        ));
    }
    if out.len() > MAX_SERVER_URLS {
        return Err(Error::invalid(format!(
            "{} server addresses given: at most {MAX_SERVER_URLS}",
            out.len()
        )));
    }
    Ok(out)
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
        assert_eq!(
            normalize_server_urls(&["a:1, https://b:2/", "c:3"]).unwrap(),
            ["https://a:1", "https://b:2", "https://c:3"]
        );
        assert!(normalize_server_urls(&["a:1", "https://a:1"]).is_err());
        assert!(normalize_server_urls(&[" , "]).is_err());
        let many: Vec<String> = (0..17).map(|i| format!("h{i}:1")).collect();
        assert!(normalize_server_urls(&many).is_err());
        assert!(normalize_server_urls(&many[..16]).is_ok());
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
