//! Which server a client talks to: `--server` / FLOTILLA_SERVER, FLOTILLA_TOKEN and
//! FLOTILLA_FINGERPRINT override the `[server]` table of config.toml that `login` writes.

use crate::api::Error;
use crate::paths::{ensure_private_dir, write_private, Paths};

/// A server and how to trust and authenticate to it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// `https://host:port`
    pub url: String,
    pub token: Option<String>,
    /// Pinned `sha256:...` of the server's certificate; none: the system's CAs decide.
    pub fingerprint: Option<String>,
}

impl std::fmt::Debug for ServerSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSettings")
            .field("url", &self.url)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn config_path(paths: &Paths) -> std::path::PathBuf {
    paths.config_dir.join("config.toml")
}

fn read_config(paths: &Paths) -> Result<toml::Table, Error> {
    let path = config_path(paths);
    match std::fs::read_to_string(&path) {
        Ok(text) => text.parse::<toml::Table>().map_err(|e| {
            Error::invalid(format!(
                "{} is not valid TOML: {}",
                path.display(),
                e.message()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(toml::Table::new()),
        Err(e) => Err(Error::internal(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The server as `login` stored it, if any.
pub fn stored(paths: &Paths) -> Result<Option<ServerSettings>, Error> {
    let cfg = read_config(paths)?;
    let Some(server) = cfg.get("server").and_then(|s| s.as_table()) else {
        return Ok(None);
    };
    let get = |k: &str| server.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Ok(get("url").map(|url| ServerSettings {
        url,
        token: get("token"),
        fingerprint: get("fingerprint"),
    }))
}

/// Normalizes a server address: `https://` is added when no scheme is given, a trailing
/// slash dropped; plain `http://` is refused.
pub fn normalize_url(url: &str) -> Result<String, Error> {
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
    if host.is_empty() || host.contains("://") || host.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok(format!("https://{host}"))
}

/// The server this invocation talks to, or None for the embedded engine.
/// `flag` is `--server` (clap also fills it from FLOTILLA_SERVER); `local` forces the
/// embedded engine.
pub fn resolve(paths: &Paths, flag: Option<&str>) -> Result<Option<ServerSettings>, Error> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let stored = stored(paths)?;
    let url = match flag.map(str::trim).filter(|f| !f.is_empty()) {
        Some("local") => return Ok(None),
        Some(f) => normalize_url(f)?,
        None => match &stored {
            Some(s) => normalize_url(&s.url)?,
            None => return Ok(None),
        },
    };
    let same = stored
        .as_ref()
        .filter(|s| normalize_url(&s.url).ok().as_deref() == Some(url.as_str()));
    let fingerprint =
        match env("FLOTILLA_FINGERPRINT") {
            Some(f) => Some(super::pin::normalize_fingerprint(&f).ok_or_else(|| {
                Error::invalid("FLOTILLA_FINGERPRINT is not a sha256 fingerprint")
            })?),
            None => same.and_then(|s| s.fingerprint.clone()),
        };
    Ok(Some(ServerSettings {
        url,
        token: env("FLOTILLA_TOKEN").or_else(|| same.and_then(|s| s.token.clone())),
        fingerprint,
    }))
}

/// Stores the server in config.toml (0600), keeping every other setting there.
pub fn save(paths: &Paths, s: &ServerSettings) -> Result<(), Error> {
    let mut cfg = read_config(paths)?;
    let mut server = toml::Table::new();
    server.insert("url".into(), s.url.clone().into());
    if let Some(t) = &s.token {
        server.insert("token".into(), t.clone().into());
    }
    if let Some(f) = &s.fingerprint {
        server.insert("fingerprint".into(), f.clone().into());
    }
    cfg.insert("server".into(), toml::Value::Table(server));
    write_config(paths, &cfg)
}

/// Forgets the server (`flotilla logout`); other settings stay.
pub fn forget(paths: &Paths) -> Result<bool, Error> {
    let mut cfg = read_config(paths)?;
    let had = cfg.remove("server").is_some();
    if had {
        write_config(paths, &cfg)?;
    }
    Ok(had)
}

fn write_config(paths: &Paths, cfg: &toml::Table) -> Result<(), Error> {
    let path = config_path(paths);
    ensure_private_dir(&paths.config_dir).map_err(|e| {
        Error::internal(format!("cannot create {}: {e}", paths.config_dir.display()))
    })?;
    let text = toml::to_string(cfg).map_err(|e| Error::internal(e.to_string()))?;
    write_private(&path, text.as_bytes())
        .map_err(|e| Error::internal(format!("cannot write {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https() {
        assert_eq!(normalize_url("h:7443/").unwrap(), "https://h:7443");
        assert!(normalize_url("http://h").is_err());
        assert!(normalize_url("https://").is_err());
    }

    #[test]
    fn saved_settings_keep_other_keys_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths::at(tmp.path());
        std::fs::write(
            tmp.path().join("config.toml"),
            "[defaults]\ndriver = \"container\"\n",
        )
        .unwrap();
        let s = ServerSettings {
            url: "https://h:1".into(),
            token: Some("flt_x".into()),
            fingerprint: Some(format!("sha256:{}", "a".repeat(64))),
        };
        save(&paths, &s).unwrap();
        assert_eq!(stored(&paths).unwrap(), Some(s));
        let text = std::fs::read_to_string(tmp.path().join("config.toml")).unwrap();
        assert!(text.contains("driver = \"container\""));
        let mode = std::fs::metadata(tmp.path().join("config.toml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(forget(&paths).unwrap());
        assert_eq!(stored(&paths).unwrap(), None);
    }
}
